package raftstore

import (
	"context"
	"log/slog"
	"net"
	"strings"
)

// slogWriter carries hclog's lines into slog.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	line := string(trimNL(p))
	level := slog.LevelInfo
	switch {
	case (strings.Contains(line, "failed to accept connection") || strings.Contains(line, "failed to decode incoming command")) &&
		strings.Contains(line, net.ErrClosed.Error()):
		// Raft's transport says so each time the node stops and closes
		// its listener, or a connection it was reading from: a clean
		// stop, not an error to alert on. (The error is the node's own
		// close; a peer's would read EOF or a reset.)
		level = slog.LevelDebug
	case strings.Contains(line, "[ERROR]"):
		level = slog.LevelError
	case strings.Contains(line, "[WARN]"):
		level = slog.LevelWarn
	case strings.Contains(line, "[DEBUG]"), strings.Contains(line, "[TRACE]"):
		level = slog.LevelDebug
	}
	w.l.Log(context.Background(), level, line, "sub", "raft")
	return len(p), nil
}

func trimNL(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}
