package raftstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/pedigree-ledger/pedigree/models"
)

// gateQueue puts a gate in front of a node's ledger: the node's Raft goes
// on handing it entries, which wait in its apply queue until the gate
// opens. The gate opens when the test ends, before the cluster closes.
func gateQueue(t *testing.T, q *applyQueue) *gatedApply {
	q.mu.Lock()
	defer q.mu.Unlock()
	g := newGatedApply(q.apply)
	q.apply = g.apply
	t.Cleanup(g.open)
	return g
}

// TestNewLeaderReadWaitsForQueuedEntries: a write the old leader
// acknowledged may still wait in the new leader's apply queue (Raft has
// handed it over, the ledger has not committed it). A linearizable read
// on the new leader must wait for it, not answer from the ledger as it is.
func TestNewLeaderReadWaitsForQueuedEntries(t *testing.T) {
	c := mustCluster(t, 3, nil)
	leader := mustLeader(t, c.nodes)
	others := followers(c.nodes, leader)
	var gates []*gatedApply
	for _, tn := range others {
		gates = append(gates, gateQueue(t, tn.s.fsm.q))
	}

	res := mustPropose(t, leader.s, orgCmd(t, "cmd-late", "late-org"))
	if !res[0].Accepted {
		t.Fatalf("write rejected: %+v", res[0])
	}
	_, _, acked := leader.s.ledger.committed()
	for _, tn := range others {
		waitFor(t, 10*time.Second, tn.id+" has been handed the write", func() bool {
			return tn.s.fsm.q.handedIndex() >= acked
		})
		if _, _, applied := tn.s.ledger.committed(); applied >= acked {
			t.Fatalf("%s committed index %d through a shut gate", tn.id, applied)
		}
	}

	c.kill(leader)
	newLeader := mustLeader(t, others)
	found := make(chan bool, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		db, err := newLeader.s.Read(ctx, Linearizable)
		if err != nil {
			t.Error(err)
			found <- false
			return
		}
		var n int64
		db.Model(&models.Organisation{}).Where("id = ?", "late-org").Count(&n)
		found <- n == 1
	}()
	// The read must not answer before the gate opens; if it waits, opening
	// the gate lets it see the write.
	time.Sleep(100 * time.Millisecond)
	for _, g := range gates {
		g.open()
	}
	if !<-found {
		t.Fatal("a linearizable read on the new leader missed a write the old leader acknowledged")
	}
}

// TestNodeRecoversEntriesQueuedWhenItCrashed: Raft counts an entry as
// applied once it is queued, so a node that crashes before the commit has
// lost entries Raft thinks it applied. On restart Raft replays its log from
// the last snapshot and the ledger takes what it lacks, so the node ends
// with the same tree and projection as the others.
func TestNodeRecoversEntriesQueuedWhenItCrashed(t *testing.T) {
	c := mustCluster(t, 3, func(rc *raft.Config) {
		fastRaft(rc)
		// No snapshot while the crash is staged: a real crash would not
		// take one, and one taken here would record the dropped entries.
		rc.SnapshotThreshold = 1 << 30
		rc.SnapshotInterval = time.Hour
	})
	leader := mustLeader(t, c.nodes)
	victim := followers(c.nodes, leader)[0]
	// The crash: once the gate opens, the victim's queued entries are
	// dropped instead of committed, as if the process had died.
	var crashed atomic.Bool
	q := victim.s.fsm.q
	q.mu.Lock()
	commit := q.apply
	q.mu.Unlock()
	g := gateQueue(t, q)
	g.next = func(logs []*raft.Log) []any {
		if crashed.Load() {
			return make([]any, len(logs))
		}
		return commit(logs)
	}

	const writes = 20
	for i := range writes {
		mustPropose(t, leader.s, orgCmd(t, fmt.Sprintf("cmd-crash-%d", i), fmt.Sprintf("crash-org-%d", i)))
	}
	size, _, acked := leader.s.ledger.committed()
	waitFor(t, 10*time.Second, "the victim has been handed every write", func() bool {
		return q.handedIndex() >= acked
	})
	crashed.Store(true)
	g.open()
	_, _, lost := victim.s.ledger.committed()
	if lost >= acked {
		t.Fatalf("the victim committed index %d of %d: nothing was lost", lost, acked)
	}
	c.kill(victim)
	c.restart(victim)
	mustConverge(t, c.nodes, size)
	db, err := victim.s.Read(context.Background(), Local)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	db.Model(&models.Organisation{}).Where("id LIKE ?", "crash-org-%").Count(&n)
	if n != writes {
		t.Fatalf("the restarted node holds %d of the %d organisations", n, writes)
	}
}
