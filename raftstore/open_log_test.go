package raftstore

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// TestAnOpenedNodeSaysWhatItsOpeningTook: the log line that ends a node's
// opening names the ledger it opened and how long each slow step took,
// so an operator whose node takes a minute to come back sees which.
func TestAnOpenedNodeSaysWhatItsOpeningTook(t *testing.T) {
	dir := t.TempDir()
	var out lockedBuffer
	open := func() *Store {
		s, err := Open(Config{NodeID: "n1", Dir: dir, RaftAddr: "127.0.0.1:0", Bootstrap: true, Tune: fastRaft,
			Logger: slog.New(slog.NewJSONHandler(&out, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	waitFor(t, 10*time.Second, "a leader", func() bool { return s.IsLeader() })
	mustPropose(t, s, orgCmd(t, "org-1", "Org 1"), orgCmd(t, "org-2", "Org 2"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	s = open()
	defer s.Close()

	var opened map[string]any
	for _, line := range bytes.Split(out.Bytes(), []byte("\n")) {
		var rec map[string]any
		if json.Unmarshal(line, &rec) == nil && rec["msg"] == "ledger node opened" {
			opened = rec
		}
	}
	if opened == nil {
		t.Fatalf("no \"ledger node opened\" line in the log:\n%s", out.Bytes())
	}
	if opened["level"] != "INFO" || opened["tree_size"] != float64(2) || opened["applied_index"] == float64(0) || opened["ledger_page_size"] != float64(ledgerPageSize) {
		t.Errorf("opened line %v: want INFO, tree_size 2, the applied index and the page size", opened)
	}
	total, _ := opened["seconds"].(float64)
	var steps float64
	for _, step := range []string{"raft_log_seconds", "ledger_seconds", "raft_start_seconds"} {
		d, ok := opened[step].(float64)
		if !ok || d < 0 || d > total {
			t.Errorf("%s = %v, want 0 to the whole opening's %v", step, opened[step], total)
		}
		steps += d
	}
	if steps > total || total > (time.Minute).Seconds() {
		t.Errorf("steps sum to %v s, the whole opening %v s", steps, total)
	}
	migrate, _ := opened["ledger_migrate_seconds"].(float64)
	load, _ := opened["ledger_load_seconds"].(float64)
	if ledger := opened["ledger_seconds"].(float64); migrate <= 0 || load <= 0 || migrate+load > ledger {
		t.Errorf("ledger_seconds %v, of which migrate %v and load %v", ledger, migrate, load)
	}
}

// lockedBuffer is a bytes.Buffer safe for a logger's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func (b *lockedBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}
