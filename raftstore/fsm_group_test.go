package raftstore

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/pedigree-ledger/pedigree/models"
)

// gatedApply is an apply function for an applyQueue that records each call
// and, while its gate is shut, holds every call until it opens.
type gatedApply struct {
	mu     sync.Mutex
	calls  [][]uint64 // log indexes, per call
	gate   chan struct{}
	opened sync.Once
	next   func([]*raft.Log) []any // what the call does once let through
}

func newGatedApply(next func([]*raft.Log) []any) *gatedApply {
	if next == nil {
		next = func(logs []*raft.Log) []any {
			resp := make([]any, len(logs))
			for i, lg := range logs {
				resp[i] = lg.Index
			}
			return resp
		}
	}
	return &gatedApply{gate: make(chan struct{}), next: next}
}

func (g *gatedApply) apply(logs []*raft.Log) []any {
	idx := make([]uint64, len(logs))
	for i, lg := range logs {
		idx[i] = lg.Index
	}
	g.mu.Lock()
	g.calls = append(g.calls, idx)
	g.mu.Unlock()
	<-g.gate
	return g.next(logs)
}

// open lets every call through, now and from now on.
func (g *gatedApply) open() { g.opened.Do(func() { close(g.gate) }) }

func (g *gatedApply) callCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.calls)
}

// logsFrom makes n command entries with indexes from, from+1, ...
func logsFrom(from uint64, n int) []*raft.Log {
	logs := make([]*raft.Log, n)
	for i := range logs {
		logs[i] = &raft.Log{Index: from + uint64(i), Type: raft.LogCommand, Data: []byte("x")}
	}
	return logs
}

func mustDeferred(t *testing.T, r any) any {
	t.Helper()
	d, ok := r.(*deferredResult)
	if !ok {
		t.Fatalf("response %T, want *deferredResult", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := d.wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// mustBusyQueue starts a queue behind a shut gate and hands it `first`
// entries from index 1, which its apply goroutine takes and holds at the
// gate; what is queued next waits. The queue is closed when the test ends,
// its gate opened first.
func mustBusyQueue(t *testing.T, first int) (*gatedApply, *applyQueue, []any) {
	g := newGatedApply(nil)
	q := newApplyQueue(g.apply)
	t.Cleanup(q.close)
	t.Cleanup(g.open) // cleanups run last first: the gate opens, then close
	resp := q.enqueue(logsFrom(1, first))
	waitFor(t, 10*time.Second, "the first batch is being applied", func() bool { return g.callCount() == 1 })
	return g, q, resp
}

func TestApplyQueueGroupsBatchesQueuedWhileItWorks(t *testing.T) {
	g, q, first := mustBusyQueue(t, 2)
	second := q.enqueue(logsFrom(3, 3))
	third := q.enqueue(logsFrom(6, 1))
	g.open()

	// Each entry gets its own result, in order, from the call that
	// applied it.
	for i, r := range append(append(first, second...), third...) {
		if got := mustDeferred(t, r); got != uint64(i+1) {
			t.Errorf("entry %d answered %v", i+1, got)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if fmt.Sprint(g.calls) != "[[1 2] [3 4 5 6]]" {
		t.Errorf("apply calls %v, want the first batch alone and the two queued meanwhile together", g.calls)
	}
}

func TestApplyQueueGroupBounds(t *testing.T) {
	g, q, _ := mustBusyQueue(t, 1)
	// 600 entries in batches of 64 wait; one transaction takes at most
	// maxGroupLogs of them, in whole batches.
	var last []any
	next := uint64(2)
	for n := 0; n < 600; n += 64 {
		size := min(64, 600-n)
		last = q.enqueue(logsFrom(next, size))
		next += uint64(size)
	}
	// One batch larger than the group bound is applied whole, alone.
	big := q.enqueue(logsFrom(next, maxGroupLogs+10))
	g.open()
	mustDeferred(t, last[len(last)-1])
	mustDeferred(t, big[0])

	g.mu.Lock()
	defer g.mu.Unlock()
	var sizes []int
	seen := uint64(0)
	for _, c := range g.calls {
		sizes = append(sizes, len(c))
		for _, idx := range c {
			if idx != seen+1 {
				t.Fatalf("index %d applied after %d", idx, seen)
			}
			seen = idx
		}
	}
	if fmt.Sprint(sizes) != fmt.Sprintf("[1 512 88 %d]", maxGroupLogs+10) {
		t.Errorf("transaction sizes %v", sizes)
	}
}

func TestApplyQueuePushesBackWhenFull(t *testing.T) {
	g, q, _ := mustBusyQueue(t, 1)
	var produced atomic.Int64
	done := make(chan struct{})
	// Should the test fail with the producer blocked, let it finish before
	// the queue closes under it.
	t.Cleanup(func() {
		g.open()
		<-done
	})
	go func() {
		defer close(done)
		next := uint64(2)
		for n := 0; n < 2*maxQueuedLogs; n += 64 {
			q.enqueue(logsFrom(next, 64))
			next += 64
			produced.Add(64)
		}
	}()
	queued := func() int {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.logs
	}
	waitFor(t, 10*time.Second, "the queue fills", func() bool { return queued() >= maxQueuedLogs })
	// A queue without the bound would take all 2,048 entries at once.
	time.Sleep(50 * time.Millisecond)
	if n := queued(); n != maxQueuedLogs {
		t.Fatalf("%d entries queued, want the bound %d", n, maxQueuedLogs)
	}
	select {
	case <-done:
		t.Fatalf("the producer queued %d entries past a full queue", produced.Load())
	default:
	}
	g.open()
	<-done
	q.drain()
	if n := queued(); n != 0 {
		t.Fatalf("%d entries still queued after drain", n)
	}
}

func TestApplyQueueCloseAppliesWhatIsQueued(t *testing.T) {
	g, q, first := mustBusyQueue(t, 1)
	second := q.enqueue(logsFrom(2, 1))
	closed := make(chan struct{})
	go func() {
		q.close()
		close(closed)
	}()
	g.open()
	<-closed
	for _, r := range []any{first[0], second[0]} {
		select {
		case <-r.(*deferredResult).b.done:
		default:
			t.Fatal("close returned before applying a queued entry")
		}
	}
}

// TestSnapshotWaitsForQueuedEntries: Raft takes a snapshot at the index it
// last handed the FSM, so Snapshot must not return before the ledger has
// committed those entries.
func TestSnapshotWaitsForQueuedEntries(t *testing.T) {
	l, err := openLedger(filepath.Join(t.TempDir(), "ledger.db"), "node0", 0, 0, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	g := newGatedApply(l.applyBatch)
	f := &fsm{l: l, q: newApplyQueue(g.apply)}
	defer f.close()
	defer g.open()

	cmd := orgCmd(t, "cmd-1", "org-1")
	cmd.Time = time.Unix(1700000000, 0).UTC()
	data, err := encodeEntry(logEntry{Op: opLedger, Cmds: []models.Command{cmd}})
	if err != nil {
		t.Fatal(err)
	}
	resp := f.ApplyBatch([]*raft.Log{{Index: 7, Type: raft.LogCommand, Data: data}})
	snapped := make(chan struct{})
	go func() {
		if _, err := f.Snapshot(); err != nil {
			t.Error(err)
		}
		close(snapped)
	}()
	waitFor(t, 10*time.Second, "the entry is being applied", func() bool { return g.callCount() == 1 })
	time.Sleep(20 * time.Millisecond)
	select {
	case <-snapped:
		t.Fatal("Snapshot returned while an entry it covers was still queued")
	default:
	}
	g.open()
	<-snapped
	if _, _, applied := l.committed(); applied != 7 {
		t.Fatalf("applied index %d at snapshot, want 7", applied)
	}
	res, ok := mustDeferred(t, resp[0]).([]models.Result)
	if !ok || len(res) != 1 || !res[0].Accepted {
		t.Fatalf("result %+v", res)
	}
}
