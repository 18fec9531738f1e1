package raftstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The tree audit. Every node applies the same log by the same rules, so at
// the same applied index all trees are equal: equal size, equal root. A
// node whose tree differs (its storage corrupted or edited, a fault the
// apply path did not catch, or a binary with other rules replaying old
// entries: the rules are not versioned) would otherwise go on answering
// reads and proofs from a ledger the others do not hold. So every node,
// the leader too, audits itself from time to time, in two ways:
//
//   - It recomputes a window of its stored tree from its stored entries
//     (treeCheck), a pass over the whole ledger every few rounds, and
//     starts over. A stored ledger that contradicts itself is wrong
//     whatever the other nodes hold.
//   - It compares its tree with every other voter's. No node's word is
//     taken as the truth, the leader's neither: a node is wrong when a
//     majority of the voters hold one and the same tree other than its
//     own (agreeAgainstMe), so one corrupted node, leader or not, cannot
//     take the healthy ones out, nor can two gone wrong different ways.
//     With two voters a difference cannot be laid at either's door: both
//     report it and neither stops.
//
// A node that found itself wrong says so for good, in its readiness, its
// status and a metric, until an operator rebuilds it; it no longer serves
// as a witness for the others' audits, and hands on the leadership to a
// voter that still is one whenever it holds it.

// defaultAuditInterval is how often a node audits its tree.
const defaultAuditInterval = 10 * time.Second

// A round of the audit recomputes at most this many entries' leaves, or
// entries of this many bytes, of the stored tree: a ledger of a million
// entries in an hour at the default interval, at a few milliseconds of
// work a round.
const (
	auditEntriesPerRound = 4096
	auditBytesPerRound   = 4 << 20
)

// ErrDiverged is Ready's answer once this node found its ledger wrong: not
// the tree the majority of the voters hold, or a stored tree its own
// stored entries contradict.
var ErrDiverged = errors.New("raftstore: this node's ledger differs from the cluster's")

// divergence is what an audit that found this node wrong saw: either a
// stored ledger that contradicts itself (fault), or other voters' trees.
type divergence struct {
	fault  string
	voters int
	peers  []peerTree
	// earlier is what an audit before this start found (divergedFile).
	earlier string
}

// peerTree is another voter's tree that this node's tree is not.
type peerTree struct {
	id   string
	addr raft.ServerAddress
	size uint64
	// root is the peer's, mine this node's at the same size. short, when
	// set, is this node's tree size, smaller than size though it applied
	// the Raft index the peer held its tree at; mine is then nil.
	root, mine []byte
	short      *uint64
}

const rebuildAdvice = "take the node out and rebuild it (remove it, wipe its data directory, join again)"

func (d *divergence) Error() string {
	if d.earlier != "" {
		return fmt.Sprintf("%v (found before this start): %s", ErrDiverged, d.earlier)
	}
	if d.fault != "" {
		return fmt.Sprintf("%v: its stored ledger contradicts itself: %s; %s", ErrDiverged, d.fault, rebuildAdvice)
	}
	return fmt.Sprintf("%v: %d of the %d voters hold another tree (%s); %s",
		ErrDiverged, len(d.peers), d.voters, describePeers(d.peers), rebuildAdvice)
}

func describePeers(peers []peerTree) string {
	parts := make([]string, len(peers))
	for i, p := range peers {
		if p.short != nil {
			parts[i] = fmt.Sprintf("having applied the Raft index %s held its tree at, its tree holds %d entries where %s's holds %d",
				p.id, *p.short, p.id, p.size)
		} else {
			parts[i] = fmt.Sprintf("at tree size %d its root is %x, %s's %x", p.size, p.mine, p.id, p.root)
		}
	}
	return strings.Join(parts, "; ")
}

func (d *divergence) Unwrap() error { return ErrDiverged }

// auditLoop audits this node's tree every interval.
func (s *Store) auditLoop(interval time.Duration) {
	defer s.wg.Done()
	// Exported from the start, so an alert on it sees 0, not nothing.
	if s.diverged.Load() != nil {
		s.ledger.m.diverged.WithLabelValues(s.cfg.NodeID).Set(1)
	} else {
		s.ledger.m.diverged.WithLabelValues(s.cfg.NodeID).Set(0)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	stored := &storedAudit{}
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		if s.diverged.Load() != nil {
			s.handOnLeadership()
			continue
		}
		s.auditStored(stored)
		if s.diverged.Load() != nil {
			continue
		}
		ctx, cancel := s.auditContext(interval)
		s.auditOnce(ctx)
		cancel()
	}
}

// storedAudit is where the recomputation of the stored tree has got to.
type storedAudit struct {
	check    *treeCheck
	restores int64 // the ledger's restores when check began
}

// auditStored recomputes the next window of this node's stored tree from
// its stored entries. A restore replaces the stored ledger, so the pass
// starts over after one, and a round a restore overlapped counts for
// nothing.
func (s *Store) auditStored(a *storedAudit) {
	restores := s.ledger.restores.Load()
	size, _, _ := s.ledger.committed()
	if a.check == nil || a.restores != restores || a.check.rng.End() >= size {
		a.check, a.restores = newTreeCheck(), restores
	}
	err := s.extendStoredCheck(a.check, size)
	if s.ledger.restores.Load() != restores {
		a.check = nil
		return
	}
	var fault *treeFault
	switch {
	case errors.As(err, &fault):
		s.ledger.m.audits.WithLabelValues(s.cfg.NodeID, "inconsistent").Inc()
		s.flagDivergence(&divergence{fault: fault.msg})
	case err != nil:
		// A read can fail for reasons of its own (I/O): a fault is
		// declared only on what was read, never on an error, since it
		// takes the node out of service for good.
		a.check = nil
		s.log.Warn("tree audit: cannot read this node's stored tree", "error", err)
	}
}

// extendStoredCheck runs the next window of c in one read transaction:
// the entries and the nodes it reads are then of one state of the file,
// never of both sides of a commit.
func (s *Store) extendStoredCheck(c *treeCheck, size uint64) error {
	tx, err := s.ledger.sqlDB.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // read only
	return c.extend(tx, size, auditEntriesPerRound, auditBytesPerRound)
}

// auditOnce asks every other voter for its tree and the applied index it
// holds it at, waits (within ctx) until this node has applied that index
// too, and compares its own tree of that size. It flags this node when a
// majority of the voters hold another tree.
func (s *Store) auditOnce(ctx context.Context) {
	count := func(outcome string) { s.ledger.m.audits.WithLabelValues(s.cfg.NodeID, outcome).Inc() }
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		count("skipped")
		return
	}
	voters := 0
	var witnesses []raft.Server
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage != raft.Voter {
			continue
		}
		voters++
		if string(srv.ID) != s.cfg.NodeID {
			witnesses = append(witnesses, srv)
		}
	}
	if len(witnesses) == 0 {
		return // a cluster of one: nothing to compare with
	}
	type answer struct {
		differs  *peerTree
		compared bool
	}
	answers := make([]answer, len(witnesses))
	var wg sync.WaitGroup
	for i, w := range witnesses {
		wg.Go(func() {
			answers[i].differs, answers[i].compared = s.compareTree(ctx, w)
		})
	}
	wg.Wait()
	compared := 0
	var differ []peerTree
	for _, a := range answers {
		if a.compared {
			compared++
		}
		if a.differs != nil {
			differ = append(differ, *a.differs)
		}
	}
	switch {
	case compared == 0:
		count("skipped")
	case len(differ) >= voters/2+1 && s.agreeAgainstMe(ctx, differ, voters/2+1):
		count("differs")
		s.flagDivergence(&divergence{voters: voters, peers: differ})
	case len(differ) > 0:
		// Too few to say this node is the one that is wrong, or they
		// are not of one tree: most likely they are wrong, and their own
		// audits will say so.
		count("disputed")
		s.log.Warn("tree audit: another voter's tree differs from this node's", "voters", voters, "differ", describePeers(differ))
	default:
		count("same")
	}
}

// agreeAgainstMe reports whether at least quorum of the peers whose trees
// differ from this node's hold one and the same tree, other than this
// node's: at the smallest size any of them answered at, their roots agree
// with one another and not with this node's (or this node's tree is
// shorter). Voters that differ from this node in different ways say
// nothing about it: with three voters, two gone wrong each their own way
// would otherwise take the healthy third out too. A peer is asked for its
// root at that size; one that cannot say (a binary that answers its
// current head whatever the size) counts for nothing.
func (s *Store) agreeAgainstMe(ctx context.Context, differ []peerTree, quorum int) bool {
	at := differ[0].size
	for _, p := range differ {
		at = min(at, p.size)
	}
	roots := make([][]byte, len(differ))
	var wg sync.WaitGroup
	for i, p := range differ {
		if p.size == at {
			roots[i] = p.root
			continue
		}
		wg.Go(func() {
			resp, err := s.fwd.call(ctx, string(p.addr), rpcRequest{Op: rpcHead, Size: at})
			if err == nil && resp.Size == at {
				roots[i] = resp.Root
			}
		})
	}
	wg.Wait()
	var mine []byte
	if size, _, _ := s.ledger.committed(); size >= at {
		var err error
		if mine, err = s.rootAt(at); err != nil {
			return false // a difference is declared only on hashes read
		}
	}
	for _, r := range roots {
		if r == nil || bytes.Equal(r, mine) {
			continue
		}
		same := 0
		for _, o := range roots {
			if bytes.Equal(o, r) {
				same++
			}
		}
		if same >= quorum {
			return true
		}
	}
	return false
}

// compareTree compares this node's tree with the peer's. It returns
// whether it compared, and the peer's tree when it differs.
func (s *Store) compareTree(ctx context.Context, peer raft.Server) (*peerTree, bool) {
	resp, err := s.fwd.call(ctx, string(peer.Address), rpcRequest{Op: rpcHead})
	if err != nil {
		return nil, false // down, diverged, or an older binary's follower
	}
	if err := s.ledger.waitApplied(ctx, resp.Index); err != nil {
		return nil, false
	}
	// The tree grows only as entries apply, so at the peer's index or
	// past it a tree of fewer entries than the peer's lost some or never
	// made them: not a read to retry (rootAt would fail on it), a
	// difference. Size and index are read together.
	if size, _, _ := s.ledger.committed(); size < resp.Size {
		return &peerTree{id: string(peer.ID), addr: peer.Address, size: resp.Size, root: resp.Root, short: &size}, true
	}
	mine, err := s.rootAt(resp.Size)
	if err != nil {
		// Having applied what the peer had, this node holds a tree of
		// that size, but a read can fail for reasons of its own (I/O): a
		// difference is declared only on hashes read, never on an error.
		s.log.Warn("tree audit: cannot read this node's tree of a peer's size", "peer", peer.ID, "size", resp.Size, "error", err)
		return nil, false
	}
	if bytes.Equal(mine, resp.Root) {
		return nil, true
	}
	return &peerTree{id: string(peer.ID), addr: peer.Address, size: resp.Size, root: resp.Root, mine: mine}, true
}

// auditContext is a context of at most d that ends when the store
// closes: Close waits for the audit loop, which would otherwise wait out
// a peer that never answers, or an index this closing node will never
// apply.
func (s *Store) auditContext(d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// flagDivergence takes this node out of service for good: readiness,
// status, the metric, and backups (a copy of a ledger the cluster does not
// hold would restore as a cluster of its own) all say so, and it gives up
// the leadership if it holds it. It says so at later starts too
// (divergedFile), until the data directory is wiped.
func (s *Store) flagDivergence(d *divergence) {
	s.diverged.Store(d)
	s.ledger.m.diverged.WithLabelValues(s.cfg.NodeID).Set(1)
	s.log.Error("tree audit: this node's ledger is wrong", "error", d.Error())
	if err := s.saveDivergence(d); err != nil {
		s.log.Error("tree audit: cannot record the divergence for later starts", "error", err)
	}
	s.handOnLeadership()
}

// saveDivergence records d in the data directory, so a restart does not
// put the node back in service until the next audit finds it wrong again
// (a whole pass of the stored tree, for some faults).
func (s *Store) saveDivergence(d *divergence) error {
	what := strings.TrimPrefix(d.Error(), ErrDiverged.Error()+": ")
	path := filepath.Join(s.cfg.Dir, divergedFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(what + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return SyncDir(s.cfg.Dir)
}

// loadDivergence reads what an audit before this start found, if any.
func (s *Store) loadDivergence() error {
	b, err := os.ReadFile(filepath.Join(s.cfg.Dir, divergedFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("read %s: %w", divergedFile, err)
	}
	what := strings.TrimSpace(string(b))
	if what == "" {
		what = "no detail recorded"
	}
	s.diverged.Store(&divergence{earlier: what})
	return nil
}

// handOnLeadershipWait bounds asking the other voters, while this
// diverged node leads, which of them could take the leadership.
const handOnLeadershipWait = 2 * time.Second

// handOnLeadership passes this node's leadership to the most up-to-date
// voter that answers now as a healthy witness (rpcHead, which a diverged
// node refuses): a leader answers every write with its own rules' results
// on its own wrong ledger. Failing that, to a voter on an older binary,
// which cannot say. Raft may elect the node again (it cannot be told not
// to stand), so the audit loop asks again each round while the node
// leads. With no such voter, the node keeps the leadership: Raft's own
// choice could be another diverged node, and with every voter diverged
// the leadership would go round for ever, each change a pause in writes,
// with no healthy leader at the end of it.
func (s *Store) handOnLeadership() {
	if !s.IsLeader() {
		return
	}
	ctx, cancel := s.auditContext(handOnLeadershipWait)
	defer cancel()
	to, ok, older := s.healthyVoter(ctx)
	if !ok && older != nil {
		// A voter on a binary from before every node answered rpcHead
		// (a rolling upgrade) cannot say whether it is healthy: hand on
		// to it, as such binaries handed on, but never as Raft chooses,
		// whose pick (the first caught-up voter in configuration order)
		// may be another diverged node, which would hand it straight
		// back.
		to, ok = *older, true
	}
	if !ok {
		if !s.keepsLeadership.Swap(true) {
			s.log.Warn("tree audit: this diverged node keeps the leadership: no other voter answers as a healthy witness")
		}
		return
	}
	s.keepsLeadership.Store(false)
	if err := s.raft.LeadershipTransferToServer(to.ID, to.Address).Error(); err != nil {
		s.log.Warn("tree audit: cannot hand on the leadership of a diverged node", "to", to.ID, "error", err)
	}
}

// healthyVoter asks every other voter for its tree, as the audit does,
// and returns the one that answered at the highest applied index; ok is
// false when none answered. older, when set, is a voter that answered as
// a binary older than rpcHead on followers does (not_leader), or older
// still (an unknown rpc): it cannot say whether it is healthy.
func (s *Store) healthyVoter(ctx context.Context) (best raft.Server, ok bool, older *raft.Server) {
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return raft.Server{}, false, nil
	}
	var voters []raft.Server
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage == raft.Voter && string(srv.ID) != s.cfg.NodeID {
			voters = append(voters, srv)
		}
	}
	applied := make([]uint64, len(voters))
	healthy := make([]bool, len(voters))
	other := make([]bool, len(voters))
	var wg sync.WaitGroup
	for i, v := range voters {
		wg.Go(func() {
			resp, err := s.fwd.call(ctx, string(v.Address), rpcRequest{Op: rpcHead})
			applied[i], healthy[i] = resp.Index, err == nil
			var remote *remoteError
			other[i] = errors.As(err, &remote) && (errors.Is(err, ErrNotLeader) || errors.Is(err, ErrInvalid))
		})
	}
	wg.Wait()
	var top uint64
	for i, v := range voters {
		if healthy[i] && (!ok || applied[i] > top) {
			best, top, ok = v, applied[i], true
		}
		if other[i] && older == nil {
			older = &v
		}
	}
	return best, ok, older
}
