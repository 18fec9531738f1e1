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
}

func (d *divergence) Error() string {
	return fmt.Sprintf("%v: at tree size %d its root is %x, the leader's (%s) %x; take the node out and rebuild it (remove it, wipe its data directory, join again)",
		ErrDiverged, d.size, d.mine, d.leaderID, d.leaders)
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
	d := &divergence{size: resp.Size, mine: mine, leaders: resp.Root, leaderID: string(leaderID)}
	s.diverged.Store(d)
	s.ledger.m.diverged.WithLabelValues(s.cfg.NodeID).Set(1)
	s.log.Error("tree audit: this node's ledger differs from the leader's", "size", d.size,
		"root", fmt.Sprintf("%x", d.mine), "leader", d.leaderID, "leader_root", fmt.Sprintf("%x", d.leaders))
}
