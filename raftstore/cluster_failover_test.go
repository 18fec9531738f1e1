package raftstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/pedigree-ledger/pedigree/models"
)

// TestWritesThroughAnyNode: a write proposed on a follower is forwarded to
// the leader and answered with the leader's result.
func TestWritesThroughAnyNode(t *testing.T) {
	c := mustCluster(t, 3, nil)
	for i, tn := range c.nodes {
		res := mustPropose(t, tn.s, orgCmd(t, fmt.Sprintf("w%d", i), fmt.Sprintf("org%d", i)))
		if !res[0].Accepted || res[0].Seq != uint64(i+1) {
			t.Fatalf("write via %s: %+v", tn.id, res[0])
		}
	}
	// The same id through another node is the same entry.
	again := mustPropose(t, c.nodes[2].s, orgCmd(t, "w0", "org0"))
	if again[0].Seq != 1 {
		t.Fatalf("retry via another node = %+v, want seq 1", again[0])
	}
	mustConverge(t, c.nodes, 3)
	// Nodes announce their HTTP address and key in the background, so
	// the listing is complete soon after the cluster forms, not at once.
	waitFor(t, 10*time.Second, "every node announced", func() bool {
		ns, err := c.nodes[1].s.Nodes()
		if err != nil || len(ns) != 3 {
			return false
		}
		for _, n := range ns {
			if n.HTTPAddr == "" || n.PublicKey == "" {
				return false
			}
		}
		return true
	})
	ns, err := c.nodes[1].s.Nodes()
	if err != nil {
		t.Fatal(err)
	}
	leaders := 0
	for _, n := range ns {
		if n.Leader {
			leaders++
		}
		if !n.Voter || n.HTTPAddr == "" || n.PublicKey == "" {
			t.Errorf("node listing %+v lacks voter/http/key", n)
		}
	}
	if len(ns) != 3 || leaders != 1 {
		t.Fatalf("listing = %+v", ns)
	}
}

// TestLeaderKilledDuringWrites: close the leader hard during a steady stream
// of writes. A new leader is elected, every acknowledged write is on every
// surviving node exactly once, and once the old leader restarts from its
// data directory all three nodes have the same tree.
func TestLeaderKilledDuringWrites(t *testing.T) {
	c := mustCluster(t, 3, func(rc *raft.Config) {
		fastRaft(rc)
		rc.SnapshotThreshold = 64 // snapshots happen during the test too
		rc.SnapshotInterval = 100 * time.Millisecond
		rc.TrailingLogs = 32
	})
	old := mustLeader(t, c.nodes)
	stores := []*Store{c.nodes[0].s, c.nodes[1].s, c.nodes[2].s}

	type ack struct {
		id  string
		seq uint64
	}
	var (
		mu    sync.Mutex
		acked []ack
		n     atomic.Int64
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	const clients = 8
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				id := fmt.Sprintf("k%d-%d", w, i)
				cmd := orgCmd(t, id, fmt.Sprintf("o%d-%d", w, i))
				// A client retries the same id on another node until it gets
				// an answer, as the idempotency contract allows.
				for try := 0; ; try++ {
					s := stores[(w+i+try)%len(stores)]
					ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
					res, err := s.Propose(ctx, cmd)
					cancel()
					if err == nil {
						mu.Lock()
						acked = append(acked, ack{id, res[0].Seq})
						mu.Unlock()
						n.Add(1)
						break
					}
					if !errors.Is(err, ErrClosed) && !errors.Is(err, ErrTimeout) {
						t.Errorf("propose %s via %s: %v", id, s.ID(), err)
						return
					}
					if stop.Load() && try > 20 {
						t.Errorf("write %s never acknowledged", id)
						return
					}
				}
			}
		}(w)
	}
	waitFor(t, 30*time.Second, "200 writes before the kill", func() bool { return n.Load() >= 200 })
	c.kill(old)
	killedAt := n.Load()
	var survivors []*testNode
	for _, tn := range c.nodes {
		if tn != old {
			survivors = append(survivors, tn)
		}
	}
	newLeader := mustLeader(t, survivors)
	if newLeader == old {
		t.Fatal("the killed node still leads")
	}
	waitFor(t, 30*time.Second, "200 more writes after the kill", func() bool { return n.Load() >= killedAt+200 })
	stop.Store(true)
	wg.Wait()
	if t.Failed() {
		return
	}

	head := mustConverge(t, survivors, uint64(len(acked)))
	for _, tn := range survivors {
		checkAcked(t, tn, len(acked), func(yield func(string, uint64) bool) {
			for _, a := range acked {
				if !yield(a.id, a.seq) {
					return
				}
			}
		})
	}
	if head.Size != uint64(len(acked)) {
		// Every write was retried until acknowledged, ids are unique, so the
		// tree holds exactly the acknowledged writes.
		t.Fatalf("tree size %d, acknowledged writes %d", head.Size, len(acked))
	}

	c.restart(old)
	final := mustConverge(t, c.nodes, head.Size)
	if final.Size != head.Size || !bytes.Equal(final.Root, head.Root) {
		t.Fatalf("after restart: size %d root %x, want %d %x", final.Size, final.Root, head.Size, head.Root)
	}
	// The restarted node serves writes again, forwarded to the new leader.
	mustPropose(t, old.s, orgCmd(t, "after-restart", "late"))
	mustConverge(t, c.nodes, head.Size+1)
}

// checkAcked checks that every acknowledged (id, seq) is stored on the node
// at that seq, and that the node's ledger has each id once.
func checkAcked(t *testing.T, tn *testNode, n int, acked func(func(string, uint64) bool)) {
	t.Helper()
	seen := map[uint64]string{}
	acked(func(id string, seq uint64) bool {
		e, err := tn.s.EntryByID(id)
		if err != nil {
			t.Errorf("%s: acknowledged write %s: %v", tn.id, id, err)
			return false
		}
		if e.Seq != seq {
			t.Errorf("%s: write %s acknowledged at seq %d, stored at %d", tn.id, id, seq, e.Seq)
			return false
		}
		if prev, dup := seen[seq]; dup {
			t.Errorf("%s: seq %d acknowledged for %s and %s", tn.id, seq, prev, id)
			return false
		}
		seen[seq] = id
		return true
	})
	db, err := tn.s.Read(context.Background(), Local)
	if err != nil {
		t.Fatal(err)
	}
	var entries, distinct, orgs int64
	db.Raw(`SELECT COUNT(*), COUNT(DISTINCT command_id) FROM ledger_entries`).Row().Scan(&entries, &distinct)
	db.Model(&models.Organisation{}).Count(&orgs)
	if entries != distinct || entries != int64(n) || orgs != int64(n) {
		t.Errorf("%s: %d entries, %d distinct ids, %d organisations; want %d each", tn.id, entries, distinct, orgs, n)
	}
}

// TestAWriteForwardedToAVanishedLeaderGoesToTheNext: the leader vanishes
// without closing its connections (a black hole), and a follower forwards
// a write to it. The write is answered by the next leader soon after the
// election, not when its deadline ends, and is on every node exactly once
// after the old leader returns.
func TestAWriteForwardedToAVanishedLeaderGoesToTheNext(t *testing.T) {
	c := mustCluster(t, 3, nil)
	old := mustLeader(t, c.nodes)
	rest := followers(c.nodes, old)
	cmd := orgCmd(t, "into-the-hole", "hole")

	old.net.blackhole()
	type outcome struct {
		res []models.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := rest[0].s.Propose(ctx, cmd)
		done <- outcome{res, err}
	}()
	mustLeader(t, rest)
	select {
	case o := <-done:
		if o.err != nil || len(o.res) != 1 || !o.res[0].Accepted {
			t.Fatalf("the forwarded write: %+v, %v", o.res, o.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the write forwarded to the vanished leader is still waiting 5 s after the next was elected")
	}

	old.net.heal()
	mustConverge(t, c.nodes, 1)
	for _, tn := range c.nodes {
		db, err := tn.s.Read(context.Background(), Local)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := db.Model(&models.Organisation{}).Where("id = ?", "hole").Count(&n).Error; err != nil || n != 1 {
			t.Fatalf("%s holds the write %d times (%v), want once", tn.id, n, err)
		}
	}
}
