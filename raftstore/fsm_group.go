package raftstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/hashicorp/raft"
)

// Group commit. Raft hands the FSM committed entries in small batches: each
// time the commit index moves, which under many single-event writers is
// every twenty or so entries. Each batch in its own SQLite transaction pays
// the commit's fixed cost (the table and index pages every commit rewrites,
// a Merkle node per tree level) for few entries: applying single-event
// captures as BenchmarkFSMApplySingleEvents does, a node spends about
// 210 µs of CPU per command at 20 per transaction, 150 at 64 and 115 at
// 256.
//
// So ApplyBatch only queues the entries and returns at once, and the
// ledger's own goroutine applies everything queued since its last
// transaction in one transaction. While it works, Raft queues more, so the
// busier the node, the larger its transactions; a quiet node still commits
// each batch as it comes. Results are those of applying the entries one by
// one (the rules' results do not depend on how entries are grouped), so
// grouping stays node-local and deterministic.
//
// What Raft calls applied is then only queued. The ledger's applied index
// (ledger.committed) still means committed to SQLite, and the code that
// leans on Raft's meaning waits for the queue first:
//   - a proposal's answer is a deferredResult, which applyLocal waits for,
//     so a write is acknowledged only once its transaction commits;
//   - Snapshot and Restore drain the queue, so a snapshot holds every entry
//     up to the index Raft gives it;
//   - a new leader's read index, taken after a barrier, waits until the
//     ledger holds everything Raft handed the FSM (handedIndex).

// Bounds on the queue. Raft's FSM goroutine blocks while maxQueuedLogs
// entries wait, which pushes back on the leader as a slow synchronous FSM
// did. One transaction takes whole batches: the first in the queue, then
// more while it holds at most maxGroupLogs entries and maxGroupBytes of
// entry data, which bounds its memory and how long the answers it holds
// wait.
const (
	maxQueuedLogs = 1024
	maxGroupLogs  = 512
	maxGroupBytes = 32 << 20
)

// applyQueue feeds committed entries from Raft's FSM goroutine to the
// ledger's apply goroutine.
type applyQueue struct {
	mu     sync.Mutex
	apply  func([]*raft.Log) []any // ledger.applyBatch: one transaction
	cond   *sync.Cond              // queued, applied, closed
	queue  []*queuedBatch
	logs   int    // entries in queue
	busy   bool   // the apply goroutine holds taken batches
	handed uint64 // highest index handed to the queue
	closed bool
	exited chan struct{}
}

// queuedBatch is one ApplyBatch call's entries and, once done is closed,
// their results.
type queuedBatch struct {
	logs []*raft.Log
	resp []any
	done chan struct{}
}

// deferredResult is the response ApplyBatch gives Raft for one entry: the
// ledger's result once the entry's transaction has committed.
type deferredResult struct {
	b *queuedBatch
	i int
}

// wait returns the entry's result once committed, or ctx's error.
func (d *deferredResult) wait(ctx context.Context) (any, error) {
	select {
	case <-d.b.done:
		return d.b.resp[d.i], nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %v", ErrTimeout, ctx.Err())
	}
}

// newApplyQueue starts the goroutine that applies queued entries with
// apply; close stops it.
func newApplyQueue(apply func([]*raft.Log) []any) *applyQueue {
	q := &applyQueue{apply: apply, exited: make(chan struct{})}
	q.cond = sync.NewCond(&q.mu)
	go q.run()
	return q
}

// enqueue queues logs (blocking while the queue is full) and returns one
// deferredResult per entry.
func (q *applyQueue) enqueue(logs []*raft.Log) []any {
	b := &queuedBatch{logs: append([]*raft.Log(nil), logs...), done: make(chan struct{})}
	q.mu.Lock()
	for q.logs >= maxQueuedLogs && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		q.mu.Unlock()
		// Raft has shut down its FSM goroutine before closing the queue,
		// so this is a misuse, not a race to survive.
		panic("raftstore: entries handed to a closed apply queue")
	}
	q.queue = append(q.queue, b)
	q.logs += len(b.logs)
	for _, lg := range b.logs {
		q.handed = max(q.handed, lg.Index)
	}
	q.cond.Broadcast()
	q.mu.Unlock()
	resp := make([]any, len(logs))
	for i := range resp {
		resp[i] = &deferredResult{b: b, i: i}
	}
	return resp
}

// handedIndex is the highest index handed to the queue so far; once the
// ledger's applied index reaches it, everything Raft has applied is
// committed.
func (q *applyQueue) handedIndex() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.handed
}

// drain waits until every queued entry is committed.
func (q *applyQueue) drain() {
	q.mu.Lock()
	for len(q.queue) > 0 || q.busy {
		q.cond.Wait()
	}
	q.mu.Unlock()
}

// close applies what is queued and stops the goroutine. Call it after Raft
// has shut down, so that nothing more is queued.
func (q *applyQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
	<-q.exited
}

func (q *applyQueue) run() {
	defer close(q.exited)
	for {
		q.mu.Lock()
		for len(q.queue) == 0 && !q.closed {
			q.cond.Wait()
		}
		if len(q.queue) == 0 {
			q.mu.Unlock()
			return
		}
		group, apply := q.take(), q.apply
		q.busy = true
		q.mu.Unlock()

		applyGroup(apply, group)

		q.mu.Lock()
		q.busy = false
		q.cond.Broadcast()
		q.mu.Unlock()
	}
}

// take removes from the queue the batches the next transaction applies:
// at least one, then more while they fit the group bounds. q.mu is held.
func (q *applyQueue) take() []*queuedBatch {
	n, logs, bytes := 0, 0, 0
	for _, b := range q.queue {
		size := 0
		for _, lg := range b.logs {
			size += len(lg.Data)
		}
		if n > 0 && (logs+len(b.logs) > maxGroupLogs || bytes+size > maxGroupBytes) {
			break
		}
		n, logs, bytes = n+1, logs+len(b.logs), bytes+size
	}
	group := q.queue[:n:n]
	q.queue = q.queue[n:]
	q.logs -= logs
	return group
}

// applyGroup applies the batches in one transaction and answers each.
func applyGroup(apply func([]*raft.Log) []any, group []*queuedBatch) {
	var logs []*raft.Log
	if len(group) == 1 {
		logs = group[0].logs
	} else {
		for _, b := range group {
			logs = append(logs, b.logs...)
		}
	}
	resp := apply(logs)
	for _, b := range group {
		b.resp, resp = resp[:len(b.logs)], resp[len(b.logs):]
		close(b.done)
	}
}
