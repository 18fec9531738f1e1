package raftstore

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestAFollowerWhoseTreeWasRewrittenSaysSo: followers compare their
// Merkle trees with the leader's. While they agree every node is ready;
// once one follower's stored tree is rewritten behind the ledger's back,
// that follower, and only it, reports the difference for good: Ready
// answers ErrDiverged (so /readyz takes it out of service), its status
// says how, and its tree_diverged gauge is 1.
func TestAFollowerWhoseTreeWasRewrittenSaysSo(t *testing.T) {
	c := &testCluster{t: t, tune: fastRaft, auditInterval: 50 * time.Millisecond}
	c.boot(3)
	leader := mustLeader(t, c.nodes)
	for i := range 5 {
		mustPropose(t, leader.s, orgCmd(t, fmt.Sprintf("audit-%d", i), fmt.Sprintf("auditor%d", i)))
	}
	mustConverge(t, c.nodes, 5)
	fs := followers(c.nodes, leader)
	audits := func(tn *testNode, outcome string) float64 {
		v, _ := metricValue(t, "pedigree_raftstore_tree_audits_total", map[string]string{"node": tn.id, "outcome": outcome})
		return v
	}
	same0 := audits(fs[0], "same")
	waitFor(t, 10*time.Second, "a follower's audit finds its tree the leader's", func() bool {
		return audits(fs[0], "same") > same0
	})
	for _, tn := range c.nodes {
		if err := tn.s.Ready(); err != nil || tn.s.Status().Diverged != "" {
			t.Fatalf("%s before any change: %v %q", tn.id, err, tn.s.Status().Diverged)
		}
	}

	// Rewrite the first perfect subtree of every level on one follower:
	// whatever size the audit compares, its root now differs.
	if _, err := fs[0].s.ledger.sqlDB.Exec(`UPDATE merkle_nodes SET hash = zeroblob(32) WHERE idx = 0`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the rewritten follower reports the difference", func() bool {
		return errors.Is(fs[0].s.Ready(), ErrDiverged)
	})
	if st := fs[0].s.Status(); !strings.Contains(st.Diverged, "take the node out and rebuild it") {
		t.Fatalf("status of the rewritten follower: %+v", st)
	}
	if v, _ := metricValue(t, "pedigree_raftstore_tree_diverged", map[string]string{"node": fs[0].id}); v != 1 {
		t.Fatalf("tree_diverged of the rewritten follower = %v", v)
	}
	// The other nodes go on agreeing, and the difference is for good.
	same1 := audits(fs[1], "same")
	mustPropose(t, leader.s, orgCmd(t, "audit-after", "auditor-after"))
	waitFor(t, 10*time.Second, "the other follower audits again", func() bool { return audits(fs[1], "same") > same1 })
	for _, tn := range []*testNode{leader, fs[1]} {
		if err := tn.s.Ready(); err != nil {
			t.Fatalf("%s: %v", tn.id, err)
		}
	}
	if !errors.Is(fs[0].s.Ready(), ErrDiverged) {
		t.Fatal("the rewritten follower forgot its difference")
	}
}

// TestAFollowerWithAShorterTreeIsDivergedAndServesNoBackup: a follower
// that lost its last ledger entry, but not the Raft index it applied,
// holds a tree smaller than the leader's at the leader's index. The audit
// used to count that as skipped (its tree of the leader's size cannot be
// read) for ever; it is a difference: the follower says so for good and
// refuses backups, whose restore would start a cluster from a history
// the others never held.
func TestAFollowerWithAShorterTreeIsDivergedAndServesNoBackup(t *testing.T) {
	c := &testCluster{t: t, tune: fastRaft, auditInterval: 50 * time.Millisecond}
	c.boot(2)
	leader := mustLeader(t, c.nodes)
	writeN(t, leader.s, "x", 5, 1)
	h := mustConverge(t, c.nodes, 5)
	f := followers(c.nodes, leader)[0]
	if _, err := f.s.Backup(testCtx(t)); err != nil {
		t.Fatalf("backup before the loss: %v", err)
	}

	// The last entry and every tree node over it go; the rest of the
	// tree (size-1 entries) stays whole, so only the size is wrong.
	db := f.s.ledger.sqlDB
	if _, err := db.Exec(`DELETE FROM ledger_entries WHERE seq = ?`, h.Size); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM merkle_nodes WHERE ((idx + 1) << level) > ?`, h.Size-1); err != nil {
		t.Fatal(err)
	}
	if err := f.s.ledger.load(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the follower with a shorter tree reports the difference", func() bool {
		return errors.Is(f.s.Ready(), ErrDiverged)
	})
	want := fmt.Sprintf("its tree holds %d entries where the leader's holds %d", h.Size-1, h.Size)
	if st := f.s.Status(); !strings.Contains(st.Diverged, want) {
		t.Fatalf("status: %q, want it to say %q", st.Diverged, want)
	}
	if b, err := f.s.Backup(testCtx(t)); !errors.Is(err, ErrDiverged) {
		if b != nil {
			b.Close()
		}
		t.Fatalf("backup of the diverged follower: %v, want ErrDiverged", err)
	}
	if left := leftovers(t, f.dir); len(left) > 0 {
		t.Fatalf("a refused backup left %v", left)
	}
	if _, err := leader.s.Backup(testCtx(t)); err != nil {
		t.Fatalf("the leader's backup: %v", err)
	}
}
