package raftstore

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestTheTreeCheckAgreesWithItselfWhateverItsWindows: the audit checks the
// stored tree a window at a time, carrying what it recomputed from one
// round to the next. Over a healthy ledger every window size finds
// nothing and ends at the committed root; after an edit, a new pass in
// small windows finds it at the entry edited, and a gap in the entries is
// named too.
func TestTheTreeCheckAgreesWithItselfWhateverItsWindows(t *testing.T) {
	s := mustSingle(t)
	writeN(t, s, "w", 100, 9)
	head := s.Head()
	pass := func(maxEntries, maxBytes int) error {
		c := newTreeCheck()
		for rounds := 0; c.rng.End() < head.Size; rounds++ {
			if rounds > int(head.Size) {
				t.Fatalf("windows of %d entries, %d bytes: no progress at %d", maxEntries, maxBytes, c.rng.End())
			}
			if err := c.extend(s.ledger.sqlDB, head.Size, maxEntries, maxBytes); err != nil {
				return err
			}
		}
		root, err := rootOf(c.rng)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(root, head.Root) {
			t.Fatalf("windows of %d entries, %d bytes: root %x, the ledger's %x", maxEntries, maxBytes, root, head.Root)
		}
		return nil
	}
	for _, w := range [][2]int{{0, 0}, {1, 0}, {7, 0}, {64, 0}, {0, 1}, {0, 300}} {
		if err := pass(w[0], w[1]); err != nil {
			t.Fatalf("windows of %d entries, %d bytes, healthy ledger: %v", w[0], w[1], err)
		}
	}

	db := s.ledger.sqlDB
	var fault *treeFault
	mustFind := func(what, want string) {
		t.Helper()
		if err := pass(7, 0); !errors.As(err, &fault) || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: %v, want a fault saying %q", what, err, want)
		}
	}
	if _, err := db.Exec(`DELETE FROM ledger_entries WHERE seq > 95`); err != nil {
		t.Fatal(err)
	}
	mustFind("entries gone from the end", "entry 96 is missing")
	if _, err := db.Exec(`UPDATE ledger_entries SET actor = 'forged' WHERE seq = 50`); err != nil {
		t.Fatal(err)
	}
	mustFind("an edited entry", "entry 50 does not hash to its stored leaf")
	if _, err := db.Exec(`DELETE FROM ledger_entries WHERE seq = 50`); err != nil {
		t.Fatal(err)
	}
	mustFind("a gap", "entry 50 is missing")
}

// TestAHeadIsAnsweredAtASizeAsked: the audit asks a peer for its root at
// a smaller size than its own, to tell whether the voters that differ
// from it hold one tree; a size the peer does not hold gets its current
// head, which the asker does not take for the size it asked.
func TestAHeadIsAnsweredAtASizeAsked(t *testing.T) {
	s := mustSingle(t)
	writeN(t, s, "h", 5, 1)
	head := s.Head()
	want, err := s.rootAt(3)
	if err != nil {
		t.Fatal(err)
	}
	resp := s.handleRPC(testCtx(t), rpcRequest{Op: rpcHead, Size: 3})
	if resp.Err != nil || resp.Size != 3 || !bytes.Equal(resp.Root, want) {
		t.Fatalf("head at 3: %+v, want root %x", resp, want)
	}
	for _, size := range []uint64{0, head.Size, head.Size + 10} {
		resp := s.handleRPC(testCtx(t), rpcRequest{Op: rpcHead, Size: size})
		if resp.Err != nil || resp.Size != head.Size || !bytes.Equal(resp.Root, head.Root) {
			t.Fatalf("head at %d: %+v, want the current %d %x", size, resp, head.Size, head.Root)
		}
	}
}
