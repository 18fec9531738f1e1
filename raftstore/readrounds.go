package raftstore

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// readRounds coalesces the read-index requests of one node into rounds, as
// etcd does, so that a follower sends the leader one request per round
// trip however many reads wait: the `leader` and `linearizable` reads of
// a busy follower, and its catch-ups before an "unknown token" or a
// suspect verdict, which anyone can provoke.
//
// A read may only use an index that the leader took after the read began;
// an index taken earlier can miss a write acknowledged in between. So a
// read never joins a round already under way. It joins the next one,
// which starts when the current one ends, and every read waiting by then
// shares its answer. At most one round is under way and one waiting.
type readRounds struct {
	// fetch asks the leader for its read index; ctx bounds one round.
	fetch func(ctx context.Context) (uint64, error)
	// timeout bounds a round. A round serves many reads with their own
	// deadlines, so it cannot take any one of theirs.
	timeout time.Duration
	// started counts rounds begun (a metric).
	started func()

	mu      sync.Mutex
	running bool       // a round is under way
	next    *readRound // the round that starts when it ends; nil if none
}

type readRound struct {
	done  chan struct{}
	index uint64
	err   error
}

// index returns a read index taken after the call began, or ctx's end.
func (r *readRounds) index(ctx context.Context) (uint64, error) {
	return r.join().wait(ctx)
}

// join queues a read for the next round, starting it if none is under way.
func (r *readRounds) join() *readRound {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.next == nil {
		r.next = &readRound{done: make(chan struct{})}
	}
	round := r.next
	if !r.running {
		r.startLocked()
	}
	return round
}

func (round *readRound) wait(ctx context.Context) (uint64, error) {
	select {
	case <-round.done:
		return round.index, round.err
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: waiting for the leader's read index: %v", ErrTimeout, ctx.Err())
	}
}

// startLocked starts the waiting round. r.mu is held.
func (r *readRounds) startLocked() {
	round := r.next
	r.next = nil
	r.running = true
	if r.started != nil {
		r.started()
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
		round.index, round.err = r.fetch(ctx)
		cancel()
		close(round.done)
		r.mu.Lock()
		r.running = false
		if r.next != nil {
			r.startLocked()
		}
		r.mu.Unlock()
	}()
}
