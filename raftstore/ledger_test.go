package raftstore

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A data directory may be named with characters that mean something in a
// SQLite URI ('?' starts its query, '#' its fragment, '%' an escape). The
// database, and the copies a snapshot and a restore make beside it, must
// still be the files inside it, not ones at a truncated path.
func TestLedgerFilesStayInADirectoryNamedWithURICharacters(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "node#1?mode=ro&x=%41")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ledger.db")
	l := mustOpenLedger(t, path)
	fsmApplier(t, l, time.Now)(orgCmd(t, "a", "alice"), orgCmd(t, "b", "bob"))
	size, root, _ := l.committed()

	snap, err := l.vacuumCopy()
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(snap)
	f, err := os.Open(snap)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	restored := mustOpenLedger(t, filepath.Join(dir, "restored.db"))
	if err := restored.restore(f); err != nil {
		t.Fatal(err)
	}
	if gotSize, gotRoot, _ := restored.committed(); gotSize != size || !bytes.Equal(gotRoot, root) {
		t.Fatalf("restored tree %d %x, want %d %x", gotSize, gotRoot, size, root)
	}

	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the ledger is not at %s: %v", path, err)
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != filepath.Base(dir) {
			t.Errorf("%s appeared beside the data directory", e.Name())
		}
	}
}

func mustOpenLedger(t *testing.T, path string) *ledger {
	t.Helper()
	l, err := openLedger(path, "node1", 0, 0, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.close() })
	return l
}
