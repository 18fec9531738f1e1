package raftstore

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestRaftLogLevels: Raft's lines keep their level in slog, except the two
// its transport writes whenever the node stops and closes its listener and
// connections, which are no error. (The second was an ERROR line on every
// stop of a node in a cluster, seen in a soak of three nodes.)
func TestRaftLogLevels(t *testing.T) {
	for line, want := range map[string]string{
		"2026-11-22T10:51:36.664Z [ERROR] raft: failed to accept connection: error=\"use of closed network connection\"":                                                 "DEBUG",
		"2026-11-22T10:51:36.664Z [ERROR] raft: failed to accept connection: error=\"too many open files\"":                                                              "ERROR",
		"2026-11-22T10:51:36.664Z [ERROR] raft: failed to appendEntries to: peer=n2":                                                                                     "ERROR",
		"2026-11-22T19:49:53.531Z [ERROR] raft: failed to decode incoming command: error=\"read tcp 127.0.0.1:7003->127.0.0.1:35520: use of closed network connection\"": "DEBUG",
		"2026-11-22T19:49:53.531Z [ERROR] raft: failed to decode incoming command: error=\"unexpected EOF\"":                                                             "ERROR",
		"2026-11-22T10:51:36.664Z [WARN]  raft: heartbeat timeout reached, starting election":                                                                            "WARN",
		"2026-11-22T10:51:36.664Z [INFO]  raft: entering follower state":                                                                                                 "INFO",
	} {
		var out bytes.Buffer
		w := slogWriter{slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))}
		w.Write([]byte(line + "\n"))
		if !strings.Contains(out.String(), "level="+want) {
			t.Errorf("%q logged as %q, want level %s", line, out.String(), want)
		}
	}
}
