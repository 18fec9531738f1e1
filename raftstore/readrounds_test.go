package raftstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// heldFetch is a leader whose read-index answers the test releases one at
// a time. Each answer is the number of the round, so a read's result says
// which round served it.
type heldFetch struct {
	asked   chan int   // a round has asked (its number)
	answers chan error // release the round under way with this error
	mu      sync.Mutex
	rounds  int
}

func newHeldFetch() *heldFetch {
	return &heldFetch{asked: make(chan int, 16), answers: make(chan error)}
}

func (h *heldFetch) readRounds() *readRounds {
	return &readRounds{
		fetch: func(ctx context.Context) (uint64, error) {
			h.mu.Lock()
			h.rounds++
			n := h.rounds
			h.mu.Unlock()
			h.asked <- n
			return uint64(n), <-h.answers
		},
		timeout: time.Minute,
	}
}

type readResult struct {
	index uint64
	err   error
}

// startRead begins a read: it has joined its round when this returns.
func startRead(r *readRounds, ctx context.Context) chan readResult {
	round := r.join()
	out := make(chan readResult, 1)
	go func() {
		idx, err := round.wait(ctx)
		out <- readResult{idx, err}
	}()
	return out
}

func (h *heldFetch) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rounds
}

func mustAsked(t *testing.T, h *heldFetch, want int) {
	t.Helper()
	select {
	case n := <-h.asked:
		if n != want {
			t.Fatalf("round %d asked, want round %d", n, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("round %d never asked the leader", want)
	}
}

func mustRead(t *testing.T, out chan readResult, want uint64) {
	t.Helper()
	select {
	case got := <-out:
		if got.err != nil || got.index != want {
			t.Fatalf("read got index %d, %v; want round %d's index", got.index, got.err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("read never returned")
	}
}

// TestReadsNeverShareARoundBegunBeforeThem is the rule that keeps
// coalesced reads linearizable: an index the leader took before a read
// began can miss a write acknowledged in between.
func TestReadsNeverShareARoundBegunBeforeThem(t *testing.T) {
	h := newHeldFetch()
	r := h.readRounds()
	first := startRead(r, context.Background())
	mustAsked(t, h, 1) // round 1 is under way

	// These begin while round 1 is under way: they wait for round 2.
	var later []chan readResult
	for range 20 {
		later = append(later, startRead(r, context.Background()))
	}
	h.answers <- nil
	mustRead(t, first, 1)
	mustAsked(t, h, 2) // the waiting readers' round starts on its own
	h.answers <- nil
	for _, out := range later {
		mustRead(t, out, 2)
	}

	// With nothing under way, a read starts a round at once.
	again := startRead(r, context.Background())
	mustAsked(t, h, 3)
	h.answers <- nil
	mustRead(t, again, 3)
	if n := h.count(); n != 3 {
		t.Fatalf("22 reads took %d rounds, want 3", n)
	}
}

func TestAReadRoundsErrorReachesEveryReaderInIt(t *testing.T) {
	h := newHeldFetch()
	r := h.readRounds()
	first := startRead(r, context.Background())
	mustAsked(t, h, 1)
	a, b := startRead(r, context.Background()), startRead(r, context.Background())
	h.answers <- nil
	mustRead(t, first, 1)
	mustAsked(t, h, 2)
	h.answers <- ErrNoLeader
	for _, out := range []chan readResult{a, b} {
		if got := <-out; !errors.Is(got.err, ErrNoLeader) {
			t.Fatalf("read in a failed round got %+v, want ErrNoLeader", got)
		}
	}
}

func TestAReadStopsWaitingForARoundWhenItsContextEnds(t *testing.T) {
	h := newHeldFetch()
	r := h.readRounds()
	ctx, cancel := context.WithCancel(context.Background())
	out := startRead(r, ctx)
	mustAsked(t, h, 1)
	cancel()
	select {
	case got := <-out:
		if !errors.Is(got.err, ErrTimeout) {
			t.Fatalf("got %+v, want ErrTimeout", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled read kept waiting for its round")
	}
	// The round still ends and the next read is served by a new one.
	h.answers <- nil
	next := startRead(r, context.Background())
	mustAsked(t, h, 2)
	h.answers <- nil
	mustRead(t, next, 2)
}
