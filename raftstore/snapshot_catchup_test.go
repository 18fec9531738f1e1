package raftstore

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/pedigree-ledger/pedigree/models"
)

// snapshotOften makes the leader snapshot and compact its log quickly, so a
// node that falls behind can only catch up from a snapshot.
func snapshotOften(rc *raft.Config) {
	fastRaft(rc)
	rc.SnapshotThreshold = 50
	rc.SnapshotInterval = 50 * time.Millisecond
	rc.TrailingLogs = 10
}

func writeN(t *testing.T, s *Store, prefix string, n, batch int) {
	t.Helper()
	for i := 0; i < n; i += batch {
		var cmds []models.Command
		for j := i; j < i+batch && j < n; j++ {
			cmds = append(cmds, orgCmd(t, fmt.Sprintf("%s%d", prefix, j), fmt.Sprintf("%s%d", prefix, j)))
		}
		mustPropose(t, s, cmds...)
	}
}

// TestWipedNodeCatchesUpFromSnapshot: a node is removed, its data directory
// wiped, and it joins again with the same id. The leader's log no longer
// reaches back to the start, so the node must install a snapshot, and then
// it has the same projection, ledger and root as the others.
func TestWipedNodeCatchesUpFromSnapshot(t *testing.T) {
	c := mustCluster(t, 3, snapshotOften)
	writeN(t, c.nodes[0].s, "a", 200, 1) // many log entries, so snapshots and compaction happen
	leader := mustLeader(t, c.nodes)
	victim := followers(c.nodes, leader)[0]
	if err := leader.s.Remove(testCtx(t), victim.id); err != nil {
		t.Fatalf("remove %s: %v", victim.id, err)
	}
	c.kill(victim)
	waitFor(t, 10*time.Second, "listing without the removed node", func() bool {
		ns, err := leader.s.Nodes()
		return err == nil && len(ns) == 2
	})
	if err := leader.s.Remove(testCtx(t), victim.id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removing twice: err = %v, want ErrNotFound", err)
	}
	writeN(t, leader.s, "b", 200, 1)
	if err := leader.s.Snapshot(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		t.Fatalf("snapshot: %v", err)
	}
	first, err := leader.s.bolt.FirstIndex()
	if err != nil || first <= 1 {
		t.Fatalf("leader's log still starts at %d (%v): no compaction, the test proves nothing", first, err)
	}

	if err := os.RemoveAll(victim.dir); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a new machine: new address too
	if err != nil {
		t.Fatal(err)
	}
	victim.addr = ln.Addr().String()
	c.start(victim, ln, false)
	if err := leader.s.Join(testCtx(t), victim.s.Info(), true); err != nil { // asked of a member, as serve --join does
		t.Fatalf("rejoin: %v", err)
	}
	h := mustConverge(t, c.nodes, 400)
	if victim.s.ledger.restores.Load() == 0 {
		t.Fatal("the wiped node caught up without restoring a snapshot")
	}
	e, err := victim.s.EntryByID("a7")
	if err != nil || e.Seq != 8 {
		t.Fatalf("entry a7 on the rejoined node = %+v, %v", e, err)
	}
	db, _ := victim.s.Read(testCtx(t), Local)
	var orgs int64
	db.Model(&models.Organisation{}).Count(&orgs)
	if orgs != 400 {
		t.Fatalf("rejoined node's projection has %d organisations, want 400", orgs)
	}
	// Proofs from the restored tree verify against the others' root.
	p, err := victim.s.InclusionProof(3, h.Size)
	if err != nil || !bytes.Equal(p.Root, h.Root) {
		t.Fatalf("proof on the rejoined node: %v", err)
	}
	mustPropose(t, victim.s, orgCmd(t, "after", "after"))
	mustConverge(t, c.nodes, 401)
}

// TestNonvoterReadReplica: a non-voting node receives the ledger and serves
// reads, but does not count towards the quorum.
func TestNonvoterReadReplica(t *testing.T) {
	c := mustCluster(t, 1, nil)
	tn := c.joinReplica("replica")
	mustPropose(t, tn.s, orgCmd(t, "r1", "r1"))
	mustConverge(t, c.nodes, 1)
	ns, _ := c.nodes[0].s.Nodes()
	for _, n := range ns {
		if n.ID == "replica" && n.Voter {
			t.Fatal("replica joined as a voter")
		}
	}
	db, err := tn.s.Read(testCtx(t), Linearizable)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	db.Model(&models.Organisation{}).Count(&n)
	if n != 1 {
		t.Fatalf("replica reads %d organisations", n)
	}
}

// TestTheLogKeepsAsManyEntriesAsConfigured: Config's SnapshotThreshold and
// TrailingLogs reach Raft, so an operator can bound the log of a ledger
// whose entries are large (captures of many events). At Raft's defaults
// 60 entries would neither trigger a snapshot nor be compacted.
func TestTheLogKeepsAsManyEntriesAsConfigured(t *testing.T) {
	const threshold, trailing = 20, 5
	s, err := Open(Config{NodeID: "n1", Dir: t.TempDir(), RaftAddr: "127.0.0.1:0", Bootstrap: true,
		SnapshotThreshold: threshold, TrailingLogs: trailing, Logger: testLogger(t),
		Tune: func(rc *raft.Config) {
			fastRaft(rc)
			rc.SnapshotInterval = 50 * time.Millisecond // how often Raft checks the threshold
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	waitFor(t, 10*time.Second, "leadership", func() bool { return s.raft.State() == raft.Leader })
	writeN(t, s, "o", 60, 1)
	// Raft checks the threshold every SnapshotInterval, so the writes run
	// ahead of the snapshots; once they stop, the log settles at most
	// threshold entries past a snapshot that kept trailing entries.
	waitFor(t, 10*time.Second, "snapshots that compact the log", func() bool {
		first, err1 := s.bolt.FirstIndex()
		last, err2 := s.bolt.LastIndex()
		return err1 == nil && err2 == nil && first > 1 && last-first+1 < trailing+threshold
	})
}
