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
