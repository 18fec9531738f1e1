package raftstore

import (
	"context"
	"errors"
	"testing"

	"github.com/pedigree-ledger/pedigree/models"
)

// TestForwardingKeepsSentinels: an error the leader returns to a forwarded
// request is the same sentinel on the follower.
func TestForwardingKeepsSentinels(t *testing.T) {
	c := mustCluster(t, 3, nil)
	leader := mustLeader(t, c.nodes)
	var follower *testNode
	for _, tn := range c.nodes {
		if tn != leader {
			follower = tn
		}
	}
	if err := follower.s.Remove(testCtx(t), "ghost"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("remove of an unknown node via a follower: %v, want ErrNotFound", err)
	}
	for _, c := range []Consistency{Leader, Linearizable} {
		// A write on the leader is visible to a follower's read at once.
		id := "fresh-" + string(c)
		mustPropose(t, leader.s, orgCmd(t, id, id))
		db, err := follower.s.Read(testCtx(t), c)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		db.Model(&models.Organisation{}).Where("id = ?", id).Count(&n)
		if n != 1 {
			t.Fatalf("%s read on a follower misses a write acknowledged before it", c)
		}
	}
	if _, err := follower.s.Read(testCtx(t), "bogus"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad consistency: %v", err)
	}
}

func TestClosedStoreSaysSo(t *testing.T) {
	c := mustCluster(t, 1, nil)
	s := c.nodes[0].s
	s.Close()
	if _, err := s.Propose(context.Background(), orgCmd(t, "x", "x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("propose on a closed store: %v", err)
	}
	if _, err := s.Read(context.Background(), Local); !errors.Is(err, ErrClosed) {
		t.Fatalf("read on a closed store: %v", err)
	}
	if err := s.Ready(); !errors.Is(err, ErrClosed) {
		t.Fatalf("ready on a closed store: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}
