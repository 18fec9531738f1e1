package raftstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestWholeClusterRestarts: every node stops and starts again from its data
// directory, none bootstrapping; they elect a leader from the stored
// configuration and keep the same tree.
func TestWholeClusterRestarts(t *testing.T) {
	c := mustCluster(t, 3, nil)
	writeN(t, c.nodes[1].s, "r", 30, 7)
	before := mustConverge(t, c.nodes, 30)
	for _, tn := range c.nodes {
		c.kill(tn)
	}
	for _, tn := range c.nodes {
		c.restart(tn)
	}
	mustLeader(t, c.nodes)
	after := mustConverge(t, c.nodes, 30)
	if after.Size != before.Size || !bytes.Equal(after.Root, before.Root) {
		t.Fatalf("after a full restart: %d %x, before %d %x", after.Size, after.Root, before.Size, before.Root)
	}
	mustPropose(t, c.nodes[2].s, orgCmd(t, "post", "post"))
	mustConverge(t, c.nodes, 31)
}

// TestLostDatabaseIsRebuilt: a node whose SQLite file is lost (but whose
// Raft log and snapshots remain) restores the latest snapshot and replays
// the log on start, ending with the same tree as the others.
func TestLostDatabaseIsRebuilt(t *testing.T) {
	c := mustCluster(t, 3, snapshotOften)
	writeN(t, c.nodes[0].s, "d", 120, 1)
	leader := mustLeader(t, c.nodes)
	victim := followers(c.nodes, leader)[0]
	head := mustConverge(t, c.nodes, 120)
	if err := victim.s.Snapshot(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		t.Fatal(err)
	}
	c.kill(victim)
	for _, name := range []string{"ledger.db", "ledger.db-wal", "ledger.db-shm"} {
		if err := os.Remove(filepath.Join(victim.dir, name)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	c.restart(victim)
	got := mustConverge(t, c.nodes, head.Size)
	if !bytes.Equal(got.Root, head.Root) {
		t.Fatalf("rebuilt root %x, want %x", got.Root, head.Root)
	}
	if victim.s.ledger.restores.Load() == 0 {
		t.Fatal("the node rebuilt its database without restoring its snapshot")
	}
}

// TestLeadershipTransfer: a leader about to stop hands over first.
func TestLeadershipTransfer(t *testing.T) {
	c := mustCluster(t, 3, nil)
	old := mustLeader(t, c.nodes)
	if err := old.s.TransferLeadership(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "another node to lead", func() bool {
		for _, tn := range c.nodes {
			if tn != old && tn.s.IsLeader() {
				return true
			}
		}
		return false
	})
	if err := old.s.TransferLeadership(); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("transfer from a follower: %v", err)
	}
}
