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

// The rules gate (Store.rulesGate) is held, on the leader, by each
// adoption of rules from its check that every member applies them until
// it commits, and by each admission of a member (its addition as a
// non-voter, and its promotion to voter) from the check that it applies
// the ledger's rules until its configuration change commits. Each checks
// a state the other changes, so neither may run between the other's
// check and change. A channel, not a mutex, so a caller waiting for it
// gives up at its deadline.

// lockRulesGate takes the rules gate, or fails when ctx ends first.
func (s *Store) lockRulesGate(ctx context.Context) error {
	select {
	case s.rulesGate <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for a rules adoption or a join under way: %v", ErrTimeout, ctx.Err())
	}
}

func (s *Store) unlockRulesGate() { <-s.rulesGate }

// settle waits until this leader's ledger has committed every entry in its
// log: a barrier (Raft has then handed the FSM every entry before it),
// then the ledger committing what it was handed (group commit). An
// adoption proposed earlier (in this term, or by an earlier leader, or
// one whose proposer gave up waiting) then counts in ActiveRules, and a
// new leader's reads see every write the old one acknowledged.
func (s *Store) settle(ctx context.Context) error {
	timeout := s.cfg.ProposeTimeout
	if d, ok := ctx.Deadline(); ok {
		if timeout = time.Until(d); timeout <= 0 {
			return fmt.Errorf("%w: %v", ErrTimeout, context.DeadlineExceeded)
		}
	}
	if err := waitFuture(ctx, s.raft.Barrier(timeout)); err != nil {
		return err
	}
	return s.ledger.waitApplied(ctx, s.fsm.q.handedIndex())
}

// checkAdoptions refuses, on the leader and under the rules gate, to
// propose an adoption of rules some member lacks, whatever path the
// command took, with the members in the leader's latest configuration. A
// version the ledger is at already changes nothing and needs no check,
// so a retried adoption gets its first result even with a member down;
// the ledger is settled first, so that an adoption committed but not yet
// applied here counts.
func (s *Store) checkAdoptions(ctx context.Context, versions []int) error {
	settled := false
	for _, v := range versions {
		if v <= s.ActiveRules() {
			continue
		}
		if !settled {
			if err := s.settle(ctx); err != nil {
				return err
			}
			settled = true
			if v <= s.ActiveRules() {
				continue
			}
		}
		if err := s.CheckRulesSupported(ctx, v); err != nil {
			return err
		}
		if s.testHookAdoptionChecked != nil {
			s.testHookAdoptionChecked()
		}
	}
	return nil
}

// admitMember runs, under the rules gate, the rules check of a node
// asking to join or to be promoted, and then change, which makes it a
// member or a voter. The ledger is settled first, so the check is against
// every adoption in the leader's log.
func (s *Store) admitMember(ctx context.Context, n NodeInfo, change func() error) error {
	if err := s.lockRulesGate(ctx); err != nil {
		return err
	}
	defer s.unlockRulesGate()
	if err := s.settle(ctx); err != nil {
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
