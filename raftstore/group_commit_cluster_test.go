package raftstore

import (
	"context"
	"testing"
	"time"

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
	var followers []*testNode
	var gates []*gatedApply
	for _, tn := range c.nodes {
		if tn != leader {
			followers = append(followers, tn)
			gates = append(gates, gateQueue(t, tn.s.fsm.q))
		}
	}

	res := mustPropose(t, leader.s, orgCmd(t, "cmd-late", "late-org"))
	if !res[0].Accepted {
		t.Fatalf("write rejected: %+v", res[0])
	}
	_, _, acked := leader.s.ledger.committed()
	for _, tn := range followers {
		waitFor(t, 10*time.Second, tn.id+" has been handed the write", func() bool {
			return tn.s.fsm.q.handedIndex() >= acked
		})
		if _, _, applied := tn.s.ledger.committed(); applied >= acked {
			t.Fatalf("%s committed index %d through a shut gate", tn.id, applied)
		}
	}

	c.kill(leader)
	newLeader := mustLeader(t, followers)
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
