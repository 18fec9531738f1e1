package raftstore

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestRaftLogLevels: Raft's lines keep their level in slog, except the one
// its transport writes whenever the node stops and closes its listener,
// which is no error.
func TestRaftLogLevels(t *testing.T) {
	for line, want := range map[string]string{
		"2026-11-22T10:51:36.664Z [ERROR] raft: failed to accept connection: error=\"use of closed network connection\"": "DEBUG",
		"2026-11-22T10:51:36.664Z [ERROR] raft: failed to accept connection: error=\"too many open files\"":              "ERROR",
		"2026-11-22T10:51:36.664Z [ERROR] raft: failed to appendEntries to: peer=n2":                                     "ERROR",
		"2026-11-22T10:51:36.664Z [WARN]  raft: heartbeat timeout reached, starting election":                            "WARN",
		"2026-11-22T10:51:36.664Z [INFO]  raft: entering follower state":                                                 "INFO",
	} {
		var out bytes.Buffer
		w := slogWriter{slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))}
		w.Write([]byte(line + "\n"))
		if !strings.Contains(out.String(), "level="+want) {
			t.Errorf("%q logged as %q, want level %s", line, out.String(), want)
		}
	}
}
