package raftstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
)

// The tree audit. Every node applies the same log by the same rules, so at
// the same applied index all trees are equal: equal size, equal root. A
// node whose tree differs (its storage corrupted or edited, a fault the
// apply path did not catch, or a binary with other rules replaying old
// entries: the rules are not versioned) would otherwise go on answering
// reads and proofs from a ledger the others do not hold. So a follower
// compares its tree with the leader's from time to time, and a node that
// found a difference says so for good, in its readiness, its status and a
// metric, until an operator rebuilds it.

// defaultAuditInterval is how often a follower audits its tree.
const defaultAuditInterval = 10 * time.Second

// ErrDiverged is Ready's answer once this node's tree differed from the
// leader's at the same size.
var ErrDiverged = errors.New("raftstore: this node's ledger differs from the leader's")

// divergence is what an audit that found a difference saw.
type divergence struct {
	size          uint64
	mine, leaders []byte
	leaderID      string
	// short, when set, is this node's tree size, smaller than size at the
	// leader's applied index; mine is then nil.
	short *uint64
}

const rebuildAdvice = "take the node out and rebuild it (remove it, wipe its data directory, join again)"

func (d *divergence) Error() string {
	if d.short != nil {
		return fmt.Sprintf("%v: having applied the leader's (%s) Raft index, its tree holds %d entries where the leader's holds %d; %s",
			ErrDiverged, d.leaderID, *d.short, d.size, rebuildAdvice)
	}
	return fmt.Sprintf("%v: at tree size %d its root is %x, the leader's (%s) %x; %s",
		ErrDiverged, d.size, d.mine, d.leaderID, d.leaders, rebuildAdvice)
}

func (d *divergence) Unwrap() error { return ErrDiverged }

// auditLoop audits this node's tree every interval while it follows.
func (s *Store) auditLoop(interval time.Duration) {
	defer s.wg.Done()
	// Exported from the start, so an alert on it sees 0, not nothing.
	s.ledger.m.diverged.WithLabelValues(s.cfg.NodeID).Set(0)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		if s.diverged.Load() != nil || s.IsLeader() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), interval)
		s.auditOnce(ctx)
		cancel()
	}
}

// auditOnce asks the leader for its tree and the applied index it holds it
// at, waits (within ctx) until this node has applied that index too, and
// compares its own tree of that size.
func (s *Store) auditOnce(ctx context.Context) {
	count := func(outcome string) { s.ledger.m.audits.WithLabelValues(s.cfg.NodeID, outcome).Inc() }
	_, leaderID := s.raft.LeaderWithID()
	resp, err := s.callLeader(ctx, rpcRequest{Op: rpcHead})
	if err != nil {
		count("skipped")
		return
	}
	if err := s.ledger.waitApplied(ctx, resp.Index); err != nil {
		count("skipped")
		return
	}
	// The tree grows only as entries apply, so at the leader's index or
	// past it a tree of fewer entries than the leader's lost some or never
	// made them: not a read to retry (rootAt would fail on it), a
	// difference. Size and index are read together.
	if size, _, _ := s.ledger.committed(); size < resp.Size {
		count("differs")
		s.flagDivergence(&divergence{size: resp.Size, leaders: resp.Root, leaderID: string(leaderID), short: &size})
		return
	}
	mine, err := s.rootAt(resp.Size)
	if err != nil {
		// Having applied what the leader had, this node holds a tree of
		// that size, but a read can fail for reasons of its own (I/O): a
		// difference is declared only on hashes read, never on an error,
		// since it takes the node out of service for good.
		count("skipped")
		s.log.Warn("tree audit: cannot read this node's tree of the leader's size", "size", resp.Size, "error", err)
		return
	}
	if bytes.Equal(mine, resp.Root) {
		count("same")
		return
	}
	count("differs")
	s.flagDivergence(&divergence{size: resp.Size, mine: mine, leaders: resp.Root, leaderID: string(leaderID)})
}

// flagDivergence takes this node out of service for good: readiness,
// status, the metric, and backups (a copy of a ledger the cluster does not
// hold would restore as a cluster of its own) all say so.
func (s *Store) flagDivergence(d *divergence) {
	s.diverged.Store(d)
	s.ledger.m.diverged.WithLabelValues(s.cfg.NodeID).Set(1)
	s.log.Error("tree audit: this node's ledger differs from the leader's", "error", d.Error())
}
