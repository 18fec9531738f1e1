package raftstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/pedigree-ledger/pedigree/models"
)

// Rule versions across the cluster (see models.RulesVersion). A node
// meeting an adoption of rules its binary lacks stops applying, so before
// the ledger adopts a version every member must run a binary that knows
// it, and a node that does not know the ledger's version may not join.

// ErrRulesUnsupported is returned when a member, or a node asking to join,
// runs a binary that lacks the rules the ledger adopted or is to adopt.
var ErrRulesUnsupported = errors.New("raftstore: a node lacks the rules version")

// NodeRules is the newest rules version a member applies, or why it could
// not be asked.
type NodeRules struct {
	ID        string `json:"id"`
	Supported int    `json:"rules_supported,omitempty"`
	Err       string `json:"error,omitempty"`
}

// rulesSupported is the newest rules version this node applies.
func (s *Store) rulesSupported() int {
	if s.cfg.RulesVersion > 0 {
		return s.cfg.RulesVersion
	}
	return models.RulesVersion
}

// ActiveRules returns the rules version this node's committed ledger
// judges its next entry by.
func (s *Store) ActiveRules() int { return int(s.ledger.rulesActive.Load()) }

// rulesAskTimeout bounds asking one member for its rules version.
const rulesAskTimeout = 3 * time.Second

// MembersRules asks every member of the cluster (voters and read replicas,
// this node included) for the newest rules version it applies, all at
// once, so members that do not answer cost one timeout in all.
func (s *Store) MembersRules(ctx context.Context) ([]NodeRules, error) {
	cf := s.raft.GetConfiguration()
	if err := waitFuture(ctx, cf); err != nil {
		return nil, err
	}
	servers := cf.Configuration().Servers
	out := make([]NodeRules, len(servers))
	var wg sync.WaitGroup
	for i, srv := range servers {
		out[i].ID = string(srv.ID)
		if string(srv.ID) == s.cfg.NodeID {
			out[i].Supported = s.rulesSupported()
			continue
		}
		wg.Go(func() {
			if v, err := s.askRules(ctx, srv.Address); err != nil {
				out[i].Err = err.Error()
			} else {
				out[i].Supported = v
			}
		})
	}
	wg.Wait()
	return out, nil
}

// CheckRulesSupported returns nil when every member applies rules up to
// version, or ErrRulesUnsupported naming those that do not or could not
// be asked.
func (s *Store) CheckRulesSupported(ctx context.Context, version int) error {
	members, err := s.MembersRules(ctx)
	if err != nil {
		return err
	}
	var lacking []string
	for _, m := range members {
		switch {
		case m.Err != "":
			lacking = append(lacking, fmt.Sprintf("%s (not answering: %s)", m.ID, m.Err))
		case m.Supported < version:
			lacking = append(lacking, fmt.Sprintf("%s (applies up to %d)", m.ID, m.Supported))
		}
	}
	if len(lacking) > 0 {
		return fmt.Errorf("%w: rules version %d needs every member upgraded first: %v", ErrRulesUnsupported, version, lacking)
	}
	return nil
}

// askRules asks the node at addr, over the cluster transport, for the
// newest rules version it applies. A binary older than rule versions does
// not say, and applies version 1.
func (s *Store) askRules(ctx context.Context, addr raft.ServerAddress) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, rulesAskTimeout)
	defer cancel()
	resp, err := s.fwd.call(ctx, string(addr), rpcRequest{Op: rpcApplied})
	if err == nil && resp.Err != nil {
		err = fromRPCError(resp.Err)
	}
	if err != nil {
		return 0, err
	}
	return max(resp.Rules, 1), nil
}

// adoptedVersions lists the rules versions cmds adopt. A payload that does
// not decode is the rules' to reject, not the gate's.
func adoptedVersions(cmds []models.Command) []int {
	var out []int
	for _, c := range cmds {
		if c.Kind != models.KindAdoptRules {
			continue
		}
		var p models.AdoptRulesPayload
		if json.Unmarshal(c.Payload, &p) == nil {
			out = append(out, p.Version)
		}
	}
	return out
}

// checkAdoptions refuses, on the leader and under rulesGate, to propose
// an adoption of rules some member lacks, whatever path the command took
// (the API checks first too, on the node it reached, whose view of the
// members may be behind the leader's). A version the ledger is at
// already changes nothing, and a retried adoption gets its first result.
func (s *Store) checkAdoptions(ctx context.Context, versions []int) error {
	for _, v := range versions {
		if v <= s.ActiveRules() {
			continue
		}
		if err := s.CheckRulesSupported(ctx, v); err != nil {
			return err
		}
	}
	return nil
}

// admitJoiner runs, under rulesGate, the rules check of a node asking to
// join and then change, which makes it a member; an adoption checks the
// members before or after both, never between. The leader first settles
// its ledger (a barrier, and the ledger committing what came before it),
// so an adoption already in its log, from this term or an earlier one, is
// the ledger's active version when the joiner is checked against it.
func (s *Store) admitJoiner(ctx context.Context, n NodeInfo, change func() error) error {
	s.rulesGate.Lock()
	defer s.rulesGate.Unlock()
	timeout := s.cfg.ProposeTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	if err := waitFuture(ctx, s.raft.Barrier(timeout)); err != nil {
		return err
	}
	if err := s.ledger.waitApplied(ctx, s.fsm.q.handedIndex()); err != nil {
		return err
	}
	if err := s.checkJoinerRules(ctx, n); err != nil {
		return err
	}
	return change()
}

// checkJoinerRules refuses a node that lacks the ledger's rules version:
// a versioned binary would stop at once, and one from before rule
// versions would judge entries by version 1 and part from the others. A
// node that cannot be asked may not join yet (ErrNotCaughtUp: pedigree
// serve --join asks again).
func (s *Store) checkJoinerRules(ctx context.Context, n NodeInfo) error {
	active := s.ActiveRules()
	if active <= 1 {
		return nil
	}
	v, err := s.askRules(ctx, raft.ServerAddress(n.RaftAddr))
	if err != nil {
		return fmt.Errorf("%w: %s must say which rules it applies before it joins a ledger at version %d, and cannot be asked: %v",
			ErrNotCaughtUp, n.ID, active, err)
	}
	if v < active {
		return fmt.Errorf("%w: %s applies rules up to version %d and the ledger is at %d: upgrade it before it joins", ErrRulesUnsupported, n.ID, v, active)
	}
	return nil
}
