package raftstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// The ledger as a sequential object: its state is its size. A write appends
// one entry and returns the entry's seq; a read returns the size. A history
// is linearizable iff every write's seq is the next position and every read
// sees exactly the writes ordered before it.
type ledgerInput struct {
	write bool
	id    string
}

var ledgerModel = porcupine.Model{
	Init: func() any { return uint64(0) },
	Step: func(state, input, output any) (bool, any) {
		size := state.(uint64)
		in := input.(ledgerInput)
		out := output.(uint64)
		if in.write {
			return out == size+1, out
		}
		return out == size, size
	},
	DescribeOperation: func(input, output any) string {
		in := input.(ledgerInput)
		if in.write {
			return fmt.Sprintf("write(%s) -> seq %d", in.id, output)
		}
		return fmt.Sprintf("read() -> size %d", output)
	},
}

// TestPartitionMinorityCommitsNothing: partition the leader away from the
// other two. The majority elects a leader and keeps committing; the old
// leader's ledger does not grow; after healing it converges.
func TestPartitionMinorityCommitsNothing(t *testing.T) {
	c := mustCluster(t, 3, nil)
	for i := 0; i < 10; i++ {
		mustPropose(t, c.nodes[i%3].s, orgCmd(t, fmt.Sprintf("pre%d", i), fmt.Sprintf("pre%d", i)))
	}
	old := mustLeader(t, c.nodes)
	t0 := time.Now()
	defer func() { t.Logf("stages: %v", time.Since(t0)) }()
	old.net.partition()
	var majority []*testNode
	for _, tn := range c.nodes {
		if tn != old {
			majority = append(majority, tn)
		}
	}
	mustLeader(t, majority)
	t.Logf("majority leader after %v", time.Since(t0))
	frozen := old.s.Head()
	// A write to the isolated old leader cannot commit.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	_, err := old.s.Propose(ctx, orgCmd(t, "minority", "minority"))
	cancel()
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("write on the minority: err = %v, want ErrTimeout", err)
	}
	for i := 0; i < 20; i++ {
		mustPropose(t, majority[i%2].s, orgCmd(t, fmt.Sprintf("maj%d", i), fmt.Sprintf("maj%d", i)))
	}
	if h := old.s.Head(); h.Size != frozen.Size || string(h.Root) != string(frozen.Root) {
		t.Fatalf("the minority's tree moved from %d to %d while partitioned", frozen.Size, h.Size)
	}
	if _, err := old.s.EntryByID("minority"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the minority's write is in its ledger: %v", err)
	}
	t.Logf("majority writes done after %v", time.Since(t0))
	old.net.heal()
	h := mustConverge(t, c.nodes, frozen.Size+20)
	t.Logf("converged after %v", time.Since(t0))
	// The write the minority took was never committed anywhere; it may only
	// appear if a later retry committed it, which nobody made.
	for _, tn := range c.nodes {
		if _, err := tn.s.EntryByID("minority"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s holds the uncommitted minority write: %v", tn.id, err)
		}
	}
	if h.Size != frozen.Size+20 {
		t.Fatalf("size %d, want %d", h.Size, frozen.Size+20)
	}
}

// TestLinearizableUnderPartitions runs concurrent writes and linearizable
// reads through all nodes while first the leader, then a follower, is cut
// off and healed, and checks the history with porcupine.
func TestLinearizableUnderPartitions(t *testing.T) {
	c := mustCluster(t, 3, nil)
	checkLinearizable(t, c, func(w *workload) {
		w.progress("operations before faults", 60)
		leader := mustLeader(t, c.nodes)
		leader.net.partition()
		w.progress("operations with the leader cut off", 60)
		leader.net.heal()
		w.progress("operations after healing the leader", 40)
		var follower *testNode
		for _, tn := range c.nodes {
			if !tn.s.IsLeader() {
				follower = tn
				break
			}
		}
		follower.net.partition()
		w.progress("operations with a follower cut off", 60)
		follower.net.heal()
		w.progress("operations after healing the follower", 40)
	})
}

// TestLinearizableAcrossLeaderCrash: the same check while the leader is
// closed hard and later restarted from its data directory.
func TestLinearizableAcrossLeaderCrash(t *testing.T) {
	c := mustCluster(t, 3, nil)
	checkLinearizable(t, c, func(w *workload) {
		w.progress("operations before the crash", 60)
		leader := mustLeader(t, c.nodes)
		c.kill(leader)
		w.progress("operations without the old leader", 60)
		c.restart(leader)
		w.setStore(leader)
		w.progress("operations after the restart", 60)
	})
}

// workload is the client side of a linearizability check: clients write
// and read through whichever store object each node currently has.
type workload struct {
	t      *testing.T
	c      *testCluster
	ops    atomic.Int64
	stores []atomic.Pointer[Store]
}

// progress waits until the clients have completed more operations.
func (w *workload) progress(what string, more int64) {
	w.t.Helper()
	target := w.ops.Load() + more
	waitFor(w.t, 30*time.Second, what, func() bool { return w.ops.Load() >= target })
}

// setStore points the clients at a restarted node's new store.
func (w *workload) setStore(tn *testNode) {
	for i, n := range w.c.nodes {
		if n == tn {
			w.stores[i].Store(tn.s)
		}
	}
}

// checkLinearizable runs 6 clients (one read in three, linearizable) while
// faults runs, then checks the history with porcupine.
func checkLinearizable(t *testing.T, c *testCluster, faults func(*workload)) {
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	type pending struct {
		op      porcupine.Operation
		unknown bool // a write whose outcome the client never learned
	}
	var (
		mu   sync.Mutex
		hist []pending
		stop atomic.Bool
		wg   sync.WaitGroup
	)
	w := &workload{t: t, c: c, stores: make([]atomic.Pointer[Store], len(c.nodes))}
	for i, tn := range c.nodes {
		w.stores[i].Store(tn.s)
	}
	const clients = 6
	for cl := 0; cl < clients; cl++ {
		wg.Add(1)
		go func(cl int) {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				s := w.stores[(cl+i)%len(w.stores)].Load()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				if i%3 == 2 {
					call := now()
					db, err := s.Read(ctx, Linearizable)
					var size uint64
					if err == nil {
						err = db.Raw(`SELECT COUNT(*) FROM ledger_entries`).Row().Scan(&size)
					}
					ret := now()
					cancel()
					if err != nil {
						continue // a failed read observed nothing
					}
					mu.Lock()
					hist = append(hist, pending{op: porcupine.Operation{ClientId: cl, Input: ledgerInput{}, Call: call, Output: size, Return: ret}})
					mu.Unlock()
					w.ops.Add(1)
					continue
				}
				id := fmt.Sprintf("lin-%d-%d", cl, i)
				call := now()
				res, err := s.Propose(ctx, orgCmd(t, id, id))
				ret := now()
				cancel()
				p := pending{op: porcupine.Operation{ClientId: cl, Input: ledgerInput{write: true, id: id}, Call: call, Return: ret}}
				if err != nil {
					if !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrClosed) {
						t.Errorf("write %s: %v", id, err)
					}
					p.unknown = true
				} else {
					p.op.Output = res[0].Seq
				}
				mu.Lock()
				hist = append(hist, p)
				mu.Unlock()
				if !p.unknown {
					w.ops.Add(1) // progress counts completed operations only
				}
			}
		}(cl)
	}
	faults(w)
	stop.Store(true)
	wg.Wait()

	// Resolve writes with unknown outcomes from the converged ledger: one
	// that committed took effect at some time after its call; one that did
	// not never happened and is left out.
	mustConverge(t, c.nodes, 1)
	var history []porcupine.Operation
	unknown, dropped := 0, 0
	for _, p := range hist {
		if p.unknown {
			unknown++
			e, err := c.nodes[0].s.EntryByID(p.op.Input.(ledgerInput).id)
			if errors.Is(err, ErrNotFound) {
				dropped++
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			p.op.Output = e.Seq
			p.op.Return = math.MaxInt64
		}
		history = append(history, p.op)
	}
	t.Logf("%d operations, %d writes with unknown outcome (%d never committed)", len(history), unknown, dropped)
	res, info := porcupine.CheckOperationsVerbose(ledgerModel, history, 60*time.Second)
	if res != porcupine.Ok {
		if res == porcupine.Illegal {
			if err := porcupine.VisualizePath(ledgerModel, info, t.TempDir()+"/lin.html"); err == nil {
				t.Logf("visualization written under the test's temp dir")
			}
		}
		t.Fatalf("history is not linearizable: %v", res)
	}
}
