package raftstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/hashicorp/raft"
)

// Node is one member of the cluster as the listing shows it.
type Node struct {
	NodeInfo
	// Voter is false for a non-voting read replica.
	Voter bool `json:"voter"`
	// Leader is true for the node this node believes leads.
	Leader bool `json:"leader"`
}

// Join adds a node to the cluster (as a voter, or a non-voting read
// replica) and records its HTTP address and key; from any node. Joining a
// node that is already a member with the same address is a no-op, so a
// restarted node may ask again. A join never replaces a key the listing
// holds for the node: a node lists a new key itself (keepListedKey).
//
// A voter is added as a non-voter first and promoted only once the leader
// can reach it and it has applied what the leader had when it joined.
// Adding it as a voter at once would count it in every quorum before it
// can vote: a node started with a wrong address or without the cluster's
// TLS settings would leave a one-node cluster without a majority (two
// voters, one unreachable) and unable even to remove it. Until then Join
// returns ErrNotCaughtUp and the node stays a non-voter, still catching
// up, so asking again later promotes it.
func (s *Store) Join(ctx context.Context, n NodeInfo, voter bool) error {
	// Refused here before the leader is asked; the leader checks again.
	if err := checkJoiner(n); err != nil {
		return err
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	return s.retry(ctx, s.onLeader(ctx, rpcRequest{Op: rpcJoin, Node: &n, Voter: voter}, func() error {
		return s.joinLocal(ctx, n, voter)
	}))
}

// Remove takes a node out of the cluster; from any node.
func (s *Store) Remove(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("%w: no node id", ErrInvalid)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	return s.retry(ctx, untilRemoved(s.onLeader(ctx, rpcRequest{Op: rpcRemove, ID: id}, func() error {
		return s.removeLocal(ctx, id)
	})))
}

// untilRemoved is a removal attempt that remembers whether an earlier one
// may have taken effect: one cut short after it reached the leader (the
// leader changed or vanished mid-call, the connection broke, leadership
// was lost while the change was pending) may have removed the node all
// the same. A later "not a member" then means the removal is done; before
// that, it means the node never was one.
func untilRemoved(attempt func() error) func() error {
	uncertain := false
	return func() error {
		err := attempt()
		switch {
		case err == nil:
			return nil
		case uncertain && errors.Is(err, ErrNotFound):
			return nil
		case errors.Is(err, errMaybeDone), errors.Is(err, errForward):
			uncertain = true
		}
		return err
	}
}

// errMaybeDone marks a retryable failure of a request that may have taken
// effect all the same.
var errMaybeDone = errors.New("it may have taken effect")

// onLeader is one attempt of a membership request: local on the leader,
// or req forwarded to it. A forwarded call gives up when Raft's leader
// changes (callLeader), so the caller's retry asks the next leader rather
// than wait out its deadline on one that vanished: joins and listings are
// idempotent, and a removal retried is settled by untilRemoved.
func (s *Store) onLeader(ctx context.Context, req rpcRequest, local func() error) func() error {
	return func() error {
		if s.raft.State() == raft.Leader {
			err := local()
			if retryable(err) {
				// Leadership was lost with the change pending: the next
				// leader may commit it.
				err = fmt.Errorf("%w; %w", err, errMaybeDone)
			}
			return err
		}
		_, err := s.callLeader(ctx, req)
		return err
	}
}

// checkJoiner refuses a join that names no valid node, or that offers a
// key other than a verifier key named for the joiner (CheckNodeKey). A
// joiner may leave its key out: it announces it once a member.
func checkJoiner(n NodeInfo) error {
	if !nodeIDPattern.MatchString(n.ID) || n.RaftAddr == "" {
		return fmt.Errorf("%w: join needs a valid node id and raft address", ErrInvalid)
	}
	if n.PublicKey != "" {
		if err := CheckNodeKey(n.ID, n.PublicKey); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	return nil
}

// joinLocal runs a join on the leader. It checks the joiner itself: a
// join forwarded by another node (rpcJoin, from any binary, an older one
// in a rolling upgrade too) comes here without Join's checks.
func (s *Store) joinLocal(ctx context.Context, n NodeInfo, voter bool) error {
	if err := checkJoiner(n); err != nil {
		return err
	}
	if err := s.checkJoinerCluster(ctx, n); err != nil {
		return err
	}
	id, addr := raft.ServerID(n.ID), raft.ServerAddress(n.RaftAddr)
	if voter {
		if err := s.refuseWipedVoter(ctx, n, id, addr); err != nil {
			return err
		}
	}
	var member bool
	err := s.admitMember(ctx, n, func() (err error) {
		member, err = s.addMember(ctx, id, addr, voter)
		return err
	})
	if err != nil {
		return err
	}
	// admitMember settled the ledger, so the listing read here holds
	// every listing committed before this join.
	if n, err = s.keepListedKey(n); err != nil {
		return err
	}
	if err := s.putNodeLocal(ctx, n); err != nil {
		return err
	}
	if member || !voter {
		return nil
	}
	if err := s.waitCaughtUp(ctx, n); err != nil {
		return err
	}
	return s.admitMember(ctx, n, func() error { return s.promote(ctx, id, addr) })
}

// refuseWipedVoter refuses a node that asks to join as the voter it is
// listed as, at its address, with another node key than the one listed:
// its data directory was lost, and with it the votes it cast. Raft would
// take the join as a no-op and count it in the quorum at once, empty, and
// a voter that forgot its votes could help elect a second leader in a
// term it voted in. Removed first, it joins as a new member: a non-voter
// until it has copied the ledger.
func (s *Store) refuseWipedVoter(ctx context.Context, n NodeInfo, id raft.ServerID, addr raft.ServerAddress) error {
	cf := s.raft.GetConfiguration()
	if err := waitFuture(ctx, cf); err != nil {
		return err
	}
	if !slices.ContainsFunc(cf.Configuration().Servers, func(srv raft.Server) bool {
		return srv.ID == id && srv.Address == addr && srv.Suffrage == raft.Voter
	}) {
		return nil
	}
	infos, err := s.ledger.nodeInfos()
	if err != nil {
		return err
	}
	if listed := infos[n.ID].PublicKey; listed != "" && n.PublicKey != "" && listed != n.PublicKey {
		return fmt.Errorf("%w: %s is a voter, and the node asking to join as it has another node key: its data directory was lost, and with it the votes it cast; remove it first (DELETE /api/v1/cluster/nodes/%s), then join it again", ErrInvalid, n.ID, n.ID)
	}
	return nil
}

// keepListedKey gives n the key the listing already holds for node n.ID,
// if it holds one: a join never replaces a listed key. Whoever may join
// nodes could otherwise list a key of their own, well-formed and rightly
// named, for a member that is down (a join at its address is a no-op for
// Raft), and clients would check heads with it until the member came
// back. A member's key changes only when its node.key is wiped, and that
// member then lists its new key itself, by announcing it (announceLocal).
func (s *Store) keepListedKey(n NodeInfo) (NodeInfo, error) {
	infos, err := s.ledger.nodeInfos()
	if err != nil {
		return n, err
	}
	if listed := infos[n.ID].PublicKey; listed != "" {
		n.PublicKey = listed
	}
	return n, nil
}

// promote makes the non-voter id at addr a voter, if the configuration
// still holds it as added: while it caught up it may have been removed,
// or have joined again at another address, and AddVoter would otherwise
// put it back as it was. The change is conditional on the configuration
// read here (prevIndex), so nothing changes it in between unseen.
func (s *Store) promote(ctx context.Context, id raft.ServerID, addr raft.ServerAddress) error {
	cf := s.raft.GetConfiguration()
	if err := waitFuture(ctx, cf); err != nil {
		return err
	}
	i := slices.IndexFunc(cf.Configuration().Servers, func(srv raft.Server) bool { return srv.ID == id })
	if i < 0 || cf.Configuration().Servers[i].Address != addr {
		return fmt.Errorf("%w: %s left the cluster, or joined again at another address, while it caught up", ErrNotCaughtUp, id)
	}
	if cf.Configuration().Servers[i].Suffrage == raft.Voter {
		return nil
	}
	if err := waitFuture(ctx, s.raft.AddVoter(id, addr, cf.Index(), 0)); err != nil {
		return fmt.Errorf("promote %s to voter: %w", id, err)
	}
	return nil
}

// addMember makes the node id at addr a member, a non-voter until it has
// caught up (or leaves it one, to promote); member says it was one
// already, as asked.
func (s *Store) addMember(ctx context.Context, id raft.ServerID, addr raft.ServerAddress, voter bool) (member bool, err error) {
	cf := s.raft.GetConfiguration()
	if err := waitFuture(ctx, cf); err != nil {
		return false, err
	}
	promote := false
	for _, srv := range cf.Configuration().Servers {
		if srv.ID != id && srv.Address != addr {
			continue
		}
		if srv.ID == id && srv.Address == addr {
			if (srv.Suffrage == raft.Voter) == voter {
				member = true
				break
			}
			if voter && srv.Suffrage == raft.Nonvoter {
				promote = true // a read replica, or a voter still catching up
				break
			}
		}
		// Same id at a new address, or another id at this address, or a
		// voter to become a read replica: the old entry must go first,
		// unless it is a live member: a second node given a member's id
		// (a cloned unit file) would remove the member it copies.
		if srv.ID == id && srv.Address != addr && s.answersAs(ctx, srv.Address, srv.ID) {
			return false, fmt.Errorf("%w: %s is a member at %s and answers there, so another node cannot join as %s; give it its own --node-id, or remove %s first", ErrInvalid, id, srv.Address, id, id)
		}
		if err := waitFuture(ctx, s.raft.RemoveServer(srv.ID, 0, 0)); err != nil {
			return false, fmt.Errorf("remove stale member %s: %w", srv.ID, err)
		}
	}
	if !member && !promote {
		if err := waitFuture(ctx, s.raft.AddNonvoter(id, addr, 0, 0)); err != nil {
			return false, fmt.Errorf("add %s: %w", id, err)
		}
	}
	return member, nil
}

// joinProbeWait bounds asking a node that asks to join which cluster it
// is of.
const joinProbeWait = 3 * time.Second

// checkJoinerCluster refuses a node that holds another cluster's state
// (two restores of one backup, an old member of the cluster this one was
// restored from) or that was not told to join this cluster: its mux
// refuses this node's, and says why. Added all the same, it would sit in
// the configuration unreachable, or, without cluster ids, take this
// cluster's log for its own. A node that cannot be reached now is let
// through, as before: waitCaughtUp says why it is not promoted.
func (s *Store) checkJoinerCluster(ctx context.Context, n NodeInfo) error {
	ctx, cancel := context.WithTimeout(ctx, joinProbeWait)
	defer cancel()
	resp, err := s.fwd.call(ctx, n.RaftAddr, rpcRequest{Op: rpcApplied})
	// Only the refusal, not the errForward around it: retrying cannot
	// change the node's mind, so Join must not.
	var refused *clusterRefusal
	if errors.As(err, &refused) {
		return fmt.Errorf("%s cannot join: %w; a node that holds another cluster's state joins only with an empty data directory", n.ID, refused)
	}
	// Another node answering at the joiner's address (a copied
	// --raft-advertise) would take the joiner's place in the
	// configuration, and its own entry would be removed as stale.
	if err == nil && resp.Node != "" && resp.Node != n.ID {
		return fmt.Errorf("%w: %s cannot join at %s: node %s answers there; give each node its own --raft-advertise address", ErrInvalid, n.ID, n.RaftAddr, resp.Node)
	}
	return nil
}

// answersAs reports whether the node at addr answers, now, as the node
// id: a member that does is alive, and no stale entry to remove.
func (s *Store) answersAs(ctx context.Context, addr raft.ServerAddress, id raft.ServerID) bool {
	ctx, cancel := context.WithTimeout(ctx, joinProbeWait)
	defer cancel()
	resp, err := s.fwd.call(ctx, string(addr), rpcRequest{Op: rpcApplied})
	return err == nil && resp.Node == string(id)
}

// joinCatchUpWait bounds how long one Join waits for a new node to catch
// up before answering ErrNotCaughtUp: a node restoring a large snapshot
// takes longer, and its joiner asks again.
const joinCatchUpWait = 10 * time.Second

// waitCaughtUp returns once n answers this node over the cluster transport
// (so Raft, which shares it, reaches n too) and has applied everything this
// node had applied when it was called.
func (s *Store) waitCaughtUp(ctx context.Context, n NodeInfo) error {
	_, _, target := s.ledger.committed()
	ctx, cancel := context.WithTimeout(ctx, joinCatchUpWait)
	defer cancel()
	for {
		resp, err := s.fwd.call(ctx, n.RaftAddr, rpcRequest{Op: rpcApplied})
		if err == nil && resp.Index >= target {
			return nil
		}
		state := fmt.Sprintf("it has applied %d of %d entries", resp.Index, target)
		if err != nil {
			state = fmt.Sprintf("it cannot be reached at %s: %v", n.RaftAddr, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s stays a non-voter until it has caught up: %s", ErrNotCaughtUp, n.ID, state)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Store) removeLocal(ctx context.Context, id string) error {
	cf := s.raft.GetConfiguration()
	if err := waitFuture(ctx, cf); err != nil {
		return err
	}
	found, voters := false, 0
	for _, srv := range cf.Configuration().Servers {
		if string(srv.ID) == id {
			found = true
		}
		if srv.Suffrage == raft.Voter {
			voters++
		}
	}
	if !found {
		return fmt.Errorf("%w: node %q is not a member", ErrNotFound, id)
	}
	if id == s.cfg.NodeID {
		// A leader removing itself steps down as the change commits, so
		// it could neither answer for the change nor drop the node's
		// listing after it. It hands leadership over instead and answers
		// ErrNotLeader, and Remove's retry asks the next leader, which
		// removes this node as a follower.
		if voters < 2 {
			return fmt.Errorf("%w: %s is the cluster's only voter", ErrInvalid, id)
		}
		if err := waitFuture(ctx, s.raft.LeadershipTransfer()); err != nil {
			if errors.Is(err, ErrTimeout) || errors.Is(err, ErrClosed) {
				return err
			}
			// Raft's transfer errors are bare (no voter reachable, no
			// answer in time, leadership lost meanwhile): all mean "not
			// now", so Remove's retry tries again until its deadline.
			return fmt.Errorf("%w: could not hand leadership over before removing %s: %v", ErrNotLeader, id, err)
		}
		return fmt.Errorf("%w: handed over leadership to be removed", ErrNotLeader)
	}
	if err := waitFuture(ctx, s.raft.RemoveServer(raft.ServerID(id), 0, 0)); err != nil {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	data, err := encodeEntry(logEntry{Op: opNodeDelete, Node: &NodeInfo{ID: id}})
	if err != nil {
		return err
	}
	return s.applyNodeOp(ctx, data)
}

// putNode records a node's listing data through the leader. Unlike Join it
// never changes the membership, so a node announcing itself while it is
// being removed cannot add itself back.
func (s *Store) putNode(ctx context.Context, n NodeInfo) error {
	return s.retry(ctx, s.onLeader(ctx, rpcRequest{Op: rpcAnnounce, Node: &n}, func() error {
		return s.announceLocal(ctx, n)
	}))
}

// announceLocal records n's listing if n is a member at that address and
// its key is named for it (CheckNodeKey). A node announces its own key,
// and every binary has one, so an announce without a key is refused
// rather than let it erase the listed key.
//
// Unlike a join, an announce replaces the listed key: that is how a member
// whose node.key was wiped lists its new one. Only the node itself should,
// but the cluster transport does not say who asks (anyone who reaches it
// without TLS; any holder of a certificate of the cluster's CA with it), so
// they can still list a well-formed key of their own for a member, at that
// member's address. While the member runs, its announce loop sees the
// listing differ and puts its own key back within seconds.
func (s *Store) announceLocal(ctx context.Context, n NodeInfo) error {
	if err := CheckNodeKey(n.ID, n.PublicKey); err != nil {
		return fmt.Errorf("%w: announce of %s: %v", ErrInvalid, n.ID, err)
	}
	cf := s.raft.GetConfiguration()
	if err := waitFuture(ctx, cf); err != nil {
		return err
	}
	for _, srv := range cf.Configuration().Servers {
		if string(srv.ID) == n.ID && string(srv.Address) == n.RaftAddr {
			return s.putNodeLocal(ctx, n)
		}
	}
	return fmt.Errorf("%w: %s at %s is not a member", ErrNotFound, n.ID, n.RaftAddr)
}

func (s *Store) putNodeLocal(ctx context.Context, n NodeInfo) error {
	data, err := encodeEntry(logEntry{Op: opNodePut, Node: &n})
	if err != nil {
		return err
	}
	return s.applyNodeOp(ctx, data)
}

func (s *Store) applyNodeOp(ctx context.Context, data []byte) error {
	resp, err := s.applyLocal(ctx, data)
	if err != nil {
		return err
	}
	if e, ok := resp.(error); ok {
		return e
	}
	return nil
}

// Nodes lists the cluster's members as this node knows them: Raft's
// configuration joined with the recorded listing data.
func (s *Store) Nodes() ([]Node, error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, mapRaftError(err)
	}
	infos, err := s.ledger.nodeInfos()
	if err != nil {
		return nil, err
	}
	_, leaderID := s.raft.LeaderWithID()
	var out []Node
	for _, srv := range f.Configuration().Servers {
		info := infos[string(srv.ID)]
		info.ID = string(srv.ID)
		info.RaftAddr = string(srv.Address)
		out = append(out, Node{NodeInfo: info, Voter: srv.Suffrage == raft.Voter, Leader: srv.ID == leaderID})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Status is this node's own view of itself.
type Status struct {
	ID       string `json:"id"`
	State    string `json:"state"` // Leader, Follower, Candidate, Shutdown
	LeaderID string `json:"leader_id"`
	Term     uint64 `json:"term"`
	Applied  uint64 `json:"applied_index"`
	Commit   uint64 `json:"commit_index"`
	TreeSize uint64 `json:"tree_size"`
	// Diverged, when set, says how the audit found this node's ledger
	// wrong (audit.go).
	Diverged string `json:"diverged,omitempty"`
	// RulesActive is the rules version this node's ledger is at, and
	// RulesSupported the newest its binary applies (rules_versions.go).
	RulesActive    int `json:"rules_active,omitempty"`
	RulesSupported int `json:"rules_supported"`
	// ClusterID is the id of the cluster this node belongs to (see
	// PrepareJoin); absent for a cluster made before cluster ids, and on
	// a node that belongs to none yet.
	ClusterID string `json:"cluster_id,omitempty"`
}

// Status reports this node's Raft state and ledger position.
func (s *Store) Status() Status {
	size, _, applied := s.ledger.committed()
	_, leaderID := s.raft.LeaderWithID()
	st := Status{
		ID: s.cfg.NodeID, State: s.raft.State().String(), LeaderID: string(leaderID),
		Term: s.raft.CurrentTerm(), Applied: applied, Commit: s.raft.CommitIndex(), TreeSize: size,
	}
	if d := s.diverged.Load(); d != nil {
		st.Diverged = d.Error()
	}
	st.RulesSupported, st.RulesActive = s.rulesSupported(), s.ActiveRules()
	st.ClusterID = s.ClusterID()
	return st
}

// IsLeader reports whether this node leads right now.
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

// Ready returns nil when the node can serve: it is open, knows a leader,
// and has not found its ledger wrong (ErrDiverged).
func (s *Store) Ready() error {
	if s.closed.Load() {
		return ErrClosed
	}
	if d := s.diverged.Load(); d != nil {
		return d
	}
	if addr, _ := s.raft.LeaderWithID(); addr == "" {
		return ErrNoLeader
	}
	return nil
}

// Snapshot asks Raft for a snapshot now (operators and tests; Raft also
// snapshots by itself past SnapshotThreshold).
func (s *Store) Snapshot() error {
	return mapRaftError(s.raft.Snapshot().Error())
}

// TransferLeadership hands leadership to another voter, for a graceful
// shutdown of the leader: the cluster does not wait out an election
// timeout. A follower returns ErrNotLeader.
func (s *Store) TransferLeadership() error {
	if s.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	return mapRaftError(s.raft.LeadershipTransfer().Error())
}
