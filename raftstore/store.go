package raftstore

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"gorm.io/gorm"

	"github.com/pedigree-ledger/pedigree/models"
)

// Config says how to open a Store. NodeID, Dir and one of RaftAddr or
// Listener are required.
type Config struct {
	// NodeID names this node in the cluster: letters, digits, '.', '_', '-'.
	NodeID string
	// Dir is the data directory (created if missing).
	Dir string
	// RaftAddr is the TCP address to listen on for Raft and forwarding.
	RaftAddr string
	// AdvertiseAddr is the Raft address peers dial; defaults to the
	// listener's address, which must then not be unspecified (0.0.0.0).
	AdvertiseAddr string
	// HTTPAddr is where this node's HTTP API is reachable, recorded in the
	// cluster listing; may be empty.
	HTTPAddr string
	// Bootstrap makes this node a one-voter cluster if it has no Raft state.
	Bootstrap bool
	// TLS, if set, secures Raft and forwarding traffic both ways; use
	// MutualTLS to build it. Peers must present a certificate the CA signed.
	TLS *tls.Config
	// Listener, if set, is used instead of listening on RaftAddr.
	Listener net.Listener
	// Dial, if set, replaces net.DialTimeout for outgoing connections.
	Dial DialFunc
	// Origin is the checkpoint origin line of signed tree heads; every node
	// of a cluster must use the same one. Default "pedigree-ledger".
	Origin string
	// ProposeTimeout bounds a Propose or Read whose context has no
	// deadline. Default 10s.
	ProposeTimeout time.Duration
	// Logger receives raftstore's logs (and Raft's at RaftLogLevel).
	Logger *slog.Logger
	// RaftLogLevel is hashicorp/raft's log level; default "warn".
	RaftLogLevel string
	// SnapshotThreshold is how many log entries Raft lets accumulate
	// before it snapshots the ledger and compacts its log; 0 means
	// DefaultSnapshotThreshold.
	SnapshotThreshold uint64
	// TrailingLogs is how many entries the log keeps behind a snapshot,
	// so a follower that lags by fewer gets entries rather than the whole
	// ledger; 0 means DefaultTrailingLogs. Both count entries, not bytes,
	// and a capture of 1,000 events is one entry of about 400 KiB: at the
	// defaults the log can reach 7 GiB before and 4 GiB after compaction.
	TrailingLogs uint64
	// Tune, if set, adjusts the Raft configuration after the defaults and
	// the fields above (tests shorten timeouts for loopback).
	Tune func(*raft.Config)
	// VerifyIndexPacks is how many recently changed packs the verify
	// index holds in memory (see models.VerifyIndex), about 0.5 KiB each;
	// 0 means DefaultVerifyIndexPacks, a negative value no index.
	VerifyIndexPacks int
	// Now, if set, replaces the wall clock with which the leader stamps
	// record times. Tests use it to cross time limits such as the EU FMD
	// 10-day undo window; production leaves it nil. It is read only when
	// proposing, never in Apply, so replicas stay deterministic.
	Now func() time.Time
	// AuditInterval is how often a node audits its Merkle tree against its
	// stored entries and the other voters' trees (audit.go); 0 means
	// every 10 s.
	AuditInterval time.Duration
	// RulesVersion is the newest version of the rules this node applies;
	// 0 means models.RulesVersion, this binary's. Tests set it to play a
	// node running an older or newer binary.
	RulesVersion int
}

// DefaultSnapshotThreshold and DefaultTrailingLogs are hashicorp/raft's
// own defaults, the values Config's zero fields stand for.
const (
	DefaultSnapshotThreshold = 8192
	DefaultTrailingLogs      = 10240
)

// DefaultVerifyIndexPacks is the verify index's size when Config leaves
// it unset: the packs changed last, which are the ones being received,
// verified and dispensed.
const DefaultVerifyIndexPacks = 200_000

var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Consistency is the freshness a read asks for.
type Consistency string

// The read consistency levels.
const (
	// Local reads this node's projection as it is: fastest, possibly stale.
	Local Consistency = "local"
	// Leader reads after this node has applied everything the leader had
	// applied when asked, without the leader confirming its leadership.
	Leader Consistency = "leader"
	// Linearizable reads after this node has applied everything the leader
	// had applied when asked, and the leader confirmed with a quorum that it
	// still leads: the read sees every write acknowledged before it began.
	Linearizable Consistency = "linearizable"
)

// ParseConsistency reads a consistency level; "" means Local.
func ParseConsistency(s string) (Consistency, error) {
	switch Consistency(s) {
	case "", Local:
		return Local, nil
	case Leader, Linearizable:
		return Consistency(s), nil
	}
	return "", fmt.Errorf("%w: consistency %q is not local, leader or linearizable", ErrInvalid, s)
}

// Store is one node of the replicated ledger.
type Store struct {
	cfg       Config
	log       *slog.Logger
	raft      *raft.Raft
	bolt      *raftboltdb.BoltStore
	transport *raft.NetworkTransport
	mux       *mux
	fwd       *forwarder
	ledger    *ledger
	fsm       *fsm
	key       ed25519.PrivateKey
	signer    *signer
	// rounds coalesce a follower's read-index requests: [0] for leader
	// reads, [1] for linearizable ones (readrounds.go).
	rounds [2]*readRounds
	// leaderChanged is closed, and replaced, whenever Raft's leader
	// changes or is lost (watchLeadership).
	leaderMu      sync.Mutex
	leaderChanged chan struct{}

	rpcIdle   time.Duration // rpcIdleTimeout when the store opened
	readyTerm atomic.Uint64 // term in which this leader's barrier completed
	// diverged is set, once and for good, by the audit that found this
	// node's ledger wrong (audit.go).
	diverged atomic.Pointer[divergence]
	// keepsLeadership is set while this diverged node leads with no
	// healthy voter to hand the leadership to, so that is logged once.
	keepsLeadership atomic.Bool
	// testAnswerHeadAsLeaderOnly, set by tests, makes the node answer
	// rpcHead as binaries before 9b65bab did: only while it leads.
	testAnswerHeadAsLeaderOnly atomic.Bool
	// rulesGate orders, on the leader, adoptions of rules against
	// admissions of members (rules_versions.go); a one-slot semaphore.
	rulesGate chan struct{}
	// testHookAdoptionChecked, when set, runs after an adoption's check,
	// with the rules gate held (tests only).
	testHookAdoptionChecked func()
	// backupSlot lets one backup copy the database at a time (backup.go).
	backupSlot chan struct{}
	// seedIndex, when set, is the Raft index of the backup a restore put
	// in the data directory (restore.go): open seeds Raft with it.
	seedIndex uint64
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
	done      chan struct{}
	wg        sync.WaitGroup
}

// Open opens (or creates) the node's data directory and starts Raft.
func Open(cfg Config) (*Store, error) {
	s, err := newStore(cfg)
	if err != nil {
		return nil, err
	}
	if err := checkNoUnfinishedRestore(cfg.Dir); err != nil {
		return nil, err
	}
	if err := s.open(); err != nil {
		s.cleanup()
		return nil, err
	}
	return s, nil
}

// newStore checks cfg, fills in its defaults and makes the Store that
// open starts.
func newStore(cfg Config) (*Store, error) {
	if !nodeIDPattern.MatchString(cfg.NodeID) {
		return nil, fmt.Errorf("%w: node id %q must be 1-64 letters, digits, '.', '_' or '-'", ErrInvalid, cfg.NodeID)
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: no data directory", ErrInvalid)
	}
	if cfg.Listener == nil && cfg.RaftAddr == "" {
		return nil, fmt.Errorf("%w: no raft address", ErrInvalid)
	}
	if cfg.Origin == "" {
		cfg.Origin = "pedigree-ledger"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ProposeTimeout <= 0 {
		cfg.ProposeTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.RaftLogLevel == "" {
		cfg.RaftLogLevel = "warn"
	}
	s := &Store{cfg: cfg, log: cfg.Logger.With("component", "raftstore", "node", cfg.NodeID), done: make(chan struct{}), leaderChanged: make(chan struct{}),
		rpcIdle: rpcIdleTimeout, backupSlot: make(chan struct{}, 1), rulesGate: make(chan struct{}, 1)}
	for i, c := range []Consistency{Leader, Linearizable} {
		verify := c == Linearizable
		started := defaultMetrics().readRounds.WithLabelValues(cfg.NodeID, string(c))
		s.rounds[i] = &readRounds{
			fetch:   func(ctx context.Context) (uint64, error) { return s.askReadIndex(ctx, verify) },
			timeout: cfg.ProposeTimeout,
			started: started.Inc,
		}
	}
	return s, nil
}

func (s *Store) open() error {
	cfg := s.cfg
	// Opening a large ledger takes tens of seconds after a crash; the log
	// line at the end says which step took them.
	var took openTimes
	began := time.Now()
	step := func(d *time.Duration) func() {
		start := time.Now()
		return func() { *d = time.Since(start) }
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	key, err := loadOrCreateKey(filepath.Join(cfg.Dir, nodeKeyFile))
	if err != nil {
		return err
	}
	s.key = key
	s.signer = newSigner(cfg.Origin, nodeKeyName(cfg.NodeID), key)
	if s.seedIndex == 0 {
		if err := refuseLostRaftLog(cfg.Dir); err != nil {
			return err
		}
	}

	hlog := hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.LevelFromString(cfg.RaftLogLevel),
		Output: slogWriter{s.log},
	})
	done := step(&took.raftLog)
	s.bolt, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.Dir, raftLogFile)})
	done()
	if err != nil {
		return fmt.Errorf("open raft log: %w", err)
	}
	// After raft.db's lock is ours: another process on this directory
	// may not have its copies removed under it.
	removeStaleCopies(cfg.Dir)
	files, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, hlog)
	if err != nil {
		return fmt.Errorf("open snapshot store: %w", err)
	}
	snaps := &snapshotStore{SnapshotStore: files, logs: s.bolt}
	ln := cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.RaftAddr); err != nil {
			return fmt.Errorf("listen on raft address: %w", err)
		}
	}
	advertise, err := advertiseAddr(cfg.AdvertiseAddr, ln.Addr())
	if err != nil {
		ln.Close()
		return err
	}
	s.mux = newMux(ln, advertise, cfg.TLS, cfg.Dial, s.log)
	s.mux.handleRPC = s.serveRPC
	s.fwd = newForwarder(s.mux)
	s.transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  (*raftLayer)(s.mux),
		MaxPool: 8,
		Timeout: 10 * time.Second,
		Logger:  hlog,
	})
	if s.seedIndex > 0 {
		// Before SQLite opens the restored file: the snapshot is its
		// bytes as the restore wrote them.
		if err := seedSnapshot(snaps, s.transport, cfg.NodeID, advertise.String(), s.seedIndex, filepath.Join(cfg.Dir, ledgerFile)); err != nil {
			return err
		}
	}
	indexPacks := cfg.VerifyIndexPacks
	if indexPacks == 0 {
		indexPacks = DefaultVerifyIndexPacks
	}
	done = step(&took.ledger)
	s.ledger, err = openLedger(filepath.Join(cfg.Dir, ledgerFile), cfg.NodeID, indexPacks, s.rulesSupported(), s.log)
	done()
	if err != nil {
		return err
	}
	// Before the node answers anyone: a node found wrong stays so.
	if err := s.loadDivergence(); err != nil {
		return err
	}
	s.fsm = newFSM(s.ledger)
	s.fsm.restoreFailed = snaps.failed
	hasState, err := raft.HasExistingState(s.bolt, s.bolt, snaps)
	if err != nil {
		return fmt.Errorf("check raft state: %w", err)
	}
	if err := s.ledger.refuseWithoutRaftState(hasState); err != nil {
		return err
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = hlog
	// Batch proposals into the log (and the FSM) as they queue up. The
	// default of 64 entries per append stays: a 1,000-event capture is a
	// few hundred kilobytes, and 64 of them already make a large message.
	rc.BatchApplyCh = true
	rc.SnapshotThreshold = cmp.Or(cfg.SnapshotThreshold, DefaultSnapshotThreshold)
	rc.TrailingLogs = cmp.Or(cfg.TrailingLogs, DefaultTrailingLogs)
	if cfg.Tune != nil {
		cfg.Tune(rc)
	}
	// The database survives restarts and records its applied index, so Raft
	// need not restore the latest snapshot on start, unless the database is
	// behind it (lost, or older than the snapshot).
	rc.NoSnapshotRestoreOnStart = !s.behindSnapshot(snaps)
	// Recent entries stay in memory: replication to followers and every
	// node's FSM read each entry back from the log store right after it
	// was stored, and raft-boltdb decodes a copy of it (msgpack) per read,
	// 300 MB of garbage per 20,000 captured events. 64 entries is one full
	// AppendEntries batch, which Raft holds in memory anyway.
	logs, err := raft.NewLogCache(rc.MaxAppendEntries, s.bolt)
	if err != nil {
		return fmt.Errorf("log cache: %w", err)
	}
	if err := s.initIdentity(hasState); err != nil {
		return err
	}
	go s.mux.serve()
	s.fsm.starting.Store(true)
	done = step(&took.raft)
	s.raft, err = raft.NewRaft(rc, s.fsm, logs, s.bolt, snaps, s.transport)
	done()
	s.fsm.starting.Store(false)
	if err != nil {
		return fmt.Errorf("start raft: %w", snaps.startError(err))
	}
	if cfg.Bootstrap {
		if !hasState {
			f := s.raft.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
				Suffrage: raft.Voter, ID: rc.LocalID, Address: raft.ServerAddress(advertise.String()),
			}}})
			if err := f.Error(); err != nil {
				return fmt.Errorf("bootstrap: %w", err)
			}
		}
	}
	s.wg.Add(3)
	go s.announce()
	go s.watchLeadership()
	interval := cfg.AuditInterval
	if interval <= 0 {
		interval = defaultAuditInterval
	}
	go s.auditLoop(interval)
	size, _, applied := s.ledger.committed()
	// The page size says which binaries can install this node's snapshots
	// (README, Upgrades).
	pages, _ := pageSize(s.ledger.sqlDB)
	s.log.Info("ledger node opened", "seconds", time.Since(began).Seconds(),
		"raft_log_seconds", took.raftLog.Seconds(), "ledger_seconds", took.ledger.Seconds(),
		"ledger_migrate_seconds", s.ledger.openTook.migrate.Seconds(), "ledger_load_seconds", s.ledger.openTook.load.Seconds(),
		"raft_start_seconds", took.raft.Seconds(), "tree_size", size, "applied_index", applied,
		"ledger_page_size", pages)
	return nil
}

// openTimes are the steps of opening a node that can take long on a
// large ledger: raftLog opening raft.db; ledger opening ledger.db
// (SQLite's recovery of its WAL after a crash, the migrations, loading
// the tree and the verify index: ledger.openTook splits it); raft
// starting Raft, which reads every log entry since the last snapshot
// and may restore a snapshot.
type openTimes struct {
	raftLog, ledger, raft time.Duration
}

// watchLeadership keeps the is_leader gauge true to Raft's state, and
// tells whoever waits on leaderChange that the leader changed.
func (s *Store) watchLeadership() {
	defer s.wg.Done()
	ch := make(chan raft.Observation, 8)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	s.raft.RegisterObserver(obs)
	defer s.raft.DeregisterObserver(obs)
	g := s.ledger.m.leader.WithLabelValues(s.cfg.NodeID)
	defer g.Set(0)
	for {
		if s.raft.State() == raft.Leader {
			g.Set(1)
		} else {
			g.Set(0)
		}
		select {
		case <-ch:
			s.leaderMu.Lock()
			close(s.leaderChanged)
			s.leaderChanged = make(chan struct{})
			s.leaderMu.Unlock()
		case <-s.done:
			return
		}
	}
}

// leaderChange returns a channel closed at the next change of leader.
func (s *Store) leaderChange() <-chan struct{} {
	s.leaderMu.Lock()
	defer s.leaderMu.Unlock()
	return s.leaderChanged
}

// announce records this node's HTTP address and public key in the cluster
// listing whenever they are missing or stale, through whichever node leads.
func (s *Store) announce() {
	defer s.wg.Done()
	me := s.Info()
	wait := 50 * time.Millisecond
	for {
		select {
		case <-s.done:
			return
		case <-time.After(wait):
		}
		infos, err := s.ledger.nodeInfos()
		if err == nil && infos[me.ID] == me {
			wait = 2 * time.Second // re-check now and then: a restore may drop it
			continue
		}
		if addr, _ := s.raft.LeaderWithID(); addr == "" {
			wait = 100 * time.Millisecond
			continue
		}
		if !s.isMember() {
			wait = 200 * time.Millisecond
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = s.putNode(ctx, me)
		cancel()
		if err != nil {
			s.log.Debug("announce failed", "error", err)
			wait = 500 * time.Millisecond
		}
	}
}

func (s *Store) isMember() bool {
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, srv := range f.Configuration().Servers {
		if string(srv.ID) == s.cfg.NodeID {
			return true
		}
	}
	return false
}

// Info is what this node records about itself in the cluster listing.
func (s *Store) Info() NodeInfo {
	return NodeInfo{
		ID:        s.cfg.NodeID,
		RaftAddr:  s.mux.advertise.String(),
		HTTPAddr:  s.cfg.HTTPAddr,
		PublicKey: s.signer.verifierKey,
	}
}

// ID is this node's id.
func (s *Store) ID() string { return s.cfg.NodeID }

// RaftAddr is the advertised Raft address of this node.
func (s *Store) RaftAddr() string { return s.mux.advertise.String() }

// Close stops the node at once: no leadership hand-over, connections cut.
// The data directory stays valid; Open it again to restart the node.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.done)
		s.closeErr = s.cleanup()
	})
	return s.closeErr
}

func (s *Store) cleanup() error {
	var errs []error
	if s.mux != nil {
		s.mux.close()
	}
	if s.raft != nil {
		if err := s.raft.Shutdown().Error(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.transport != nil {
		s.transport.Close()
	}
	if s.fwd != nil {
		s.fwd.close()
	}
	s.wg.Wait()
	if s.fsm != nil {
		s.fsm.close()
	}
	if s.bolt != nil {
		errs = append(errs, s.bolt.Close())
	}
	if s.ledger != nil {
		errs = append(errs, s.ledger.close())
	}
	return errors.Join(errs...)
}

// newCommandID makes an id for a command that came without one. It is made
// on the node that first takes the proposal, before any forwarding, so a
// retry after a lost answer cannot apply the command twice.
func newCommandID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("raftstore: crypto/rand failed: %v", err))
	}
	return "cmd-" + hex.EncodeToString(b[:])
}

// maxBatch bounds the commands of one proposal, so one Raft entry stays a
// reasonable size.
const maxBatch = 10000

// Propose commits commands to the ledger and returns their results in
// order, from any node: a follower forwards to the leader and retries
// through leader changes until ctx ends (commands are idempotent by id, so
// retries are safe). A command without an ID gets one here. When ctx ends
// first the error wraps ErrTimeout and the outcome is unknown: propose the
// same ids again to learn it.
func (s *Store) Propose(ctx context.Context, cmds ...models.Command) ([]models.Result, error) {
	if len(cmds) == 0 || len(cmds) > maxBatch {
		return nil, fmt.Errorf("%w: a proposal holds 1 to %d commands, not %d", ErrInvalid, maxBatch, len(cmds))
	}
	own := make([]models.Command, len(cmds))
	for i, c := range cmds {
		if c.Kind == "" {
			return nil, fmt.Errorf("%w: command %d has no kind", ErrInvalid, i)
		}
		if c.ID == "" {
			c.ID = newCommandID()
		}
		if len(c.ID) > 512 {
			return nil, fmt.Errorf("%w: command id longer than 512 bytes", ErrInvalid)
		}
		own[i] = c
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var res []models.Result
	path := "local"
	err := s.retry(ctx, func() error {
		var err error
		if s.raft.State() == raft.Leader {
			path = "local"
			res, err = s.proposeLocal(ctx, own)
			return err
		}
		path = "forwarded"
		resp, err := s.callLeader(ctx, rpcRequest{Op: rpcPropose, Cmds: own})
		res = resp.Results
		return err
	})
	s.ledger.m.proposals.WithLabelValues(s.cfg.NodeID, path, resultLabel(err)).Inc()
	return res, err
}

// callLeader sends req to the leader. A leader that vanished without
// closing the connection (power lost, a dropped route) never answers, so
// the call gives up on it when Raft's leader changes, with ErrNotLeader
// for retry to ask the new one, rather than wait out ctx. That is safe for
// what is sent this way: writes are idempotent by command id, and a read
// index is asked again. It also keeps the reads queued behind a read-index
// round from waiting out the round's timeout.
func (s *Store) callLeader(ctx context.Context, req rpcRequest) (rpcResponse, error) {
	changed := s.leaderChange() // before the address, so no change is missed
	addr, err := s.leaderAddr()
	if err != nil {
		return rpcResponse{}, err
	}
	callCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-changed:
			cancel()
		case <-callCtx.Done():
		}
	}()
	resp, err := s.fwd.call(callCtx, addr, req)
	if err != nil && ctx.Err() == nil && callCtx.Err() != nil {
		return resp, fmt.Errorf("%w: the leader changed while %s was asked (%v); %w", ErrNotLeader, addr, err, errMaybeDone)
	}
	return resp, err
}

func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.cfg.ProposeTimeout)
}

// retry runs fn until it succeeds, fails for a reason retrying cannot fix,
// or ctx ends. It retries when there is no leader or the leader changed.
func (s *Store) retry(ctx context.Context, fn func() error) error {
	wait := 5 * time.Millisecond
	for {
		if s.closed.Load() {
			return ErrClosed
		}
		err := fn()
		if err == nil {
			return nil
		}
		if !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v (last: %v)", ErrTimeout, ctx.Err(), err)
		case <-s.done:
			return ErrClosed
		case <-time.After(wait):
		}
		wait = min(wait*2, 200*time.Millisecond)
	}
}

func retryable(err error) bool {
	return errors.Is(err, ErrNotLeader) || errors.Is(err, ErrNoLeader) || errors.Is(err, errForward)
}

func (s *Store) leaderAddr() (string, error) {
	addr, id := s.raft.LeaderWithID()
	if addr == "" {
		return "", ErrNoLeader
	}
	if string(id) == s.cfg.NodeID {
		return "", ErrNotLeader // stale: we were leader and are no longer
	}
	return string(addr), nil
}

// proposeLocal stamps record times and proposes on this node, the leader.
func (s *Store) proposeLocal(ctx context.Context, cmds []models.Command) ([]models.Result, error) {
	if len(cmds) == 0 || len(cmds) > maxBatch {
		return nil, fmt.Errorf("%w: a proposal holds 1 to %d commands", ErrInvalid, maxBatch)
	}
	now := s.cfg.Now().UTC().Round(0)
	stamped := make([]models.Command, len(cmds))
	for i, c := range cmds {
		if c.ID == "" {
			c.ID = newCommandID()
		}
		c.Time = now
		stamped[i] = c
	}
	data, err := encodeEntry(logEntry{Op: opLedger, Cmds: stamped})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if adopts := adoptedVersions(stamped); len(adopts) > 0 {
		if err := s.lockRulesGate(ctx); err != nil {
			return nil, err
		}
		defer s.unlockRulesGate()
		if err := s.checkAdoptions(ctx, adopts); err != nil {
			return nil, err
		}
	}
	resp, err := s.applyLocal(ctx, data)
	if err != nil {
		return nil, err
	}
	switch r := resp.(type) {
	case []models.Result:
		return r, nil
	case error:
		return nil, r
	}
	return nil, fmt.Errorf("raftstore: unexpected apply response %T", resp)
}

// applyLocal appends data to the Raft log on the leader and waits for this
// node's ledger to commit it.
func (s *Store) applyLocal(ctx context.Context, data []byte) (any, error) {
	timeout := s.cfg.ProposeTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	f := s.raft.Apply(data, timeout)
	if err := waitFuture(ctx, f); err != nil {
		return nil, err
	}
	if d, ok := f.Response().(*deferredResult); ok {
		return d.wait(ctx)
	}
	return f.Response(), nil
}

// waitFuture waits for a Raft future within ctx and maps Raft's errors to
// raftstore's sentinels.
func waitFuture(ctx context.Context, f raft.Future) error {
	ch := make(chan error, 1)
	go func() { ch <- f.Error() }()
	select {
	case err := <-ch:
		return mapRaftError(err)
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", ErrTimeout, ctx.Err())
	}
}

func mapRaftError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress), errors.Is(err, raft.ErrAbortedByRestore),
		errors.Is(err, raft.ErrNotVoter):
		return fmt.Errorf("%w: %v", ErrNotLeader, err)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %v", ErrClosed, err)
	}
	return err
}

// VerifyIndex is the node's verify index, nil when Config turned it off.
// It holds this node's committed rows, so its answers are Local reads.
func (s *Store) VerifyIndex() *models.VerifyIndex { return s.ledger.index }

// Read returns the projection database once this node is as fresh as c
// asks. The *gorm.DB reads the local SQLite file; do not write through it.
// Leader and Linearizable work on any node: a follower asks the leader for
// its applied index and waits until it has applied as much.
func (s *Store) Read(ctx context.Context, c Consistency) (*gorm.DB, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	switch c {
	case "", Local:
		return s.ledger.db.WithContext(ctx), nil
	case Leader, Linearizable:
	default:
		return nil, fmt.Errorf("%w: consistency %q", ErrInvalid, c)
	}
	ctx2, cancel := s.withTimeout(ctx)
	defer cancel()
	idx, err := s.readIndex(ctx2, c == Linearizable)
	if err != nil {
		return nil, err
	}
	if err := s.ledger.waitApplied(ctx2, idx); err != nil {
		return nil, err
	}
	return s.ledger.db.WithContext(ctx), nil
}

// readIndex returns the index a read must wait for. The leader takes it
// itself; a follower's reads share rounds of asking the leader.
func (s *Store) readIndex(ctx context.Context, verify bool) (uint64, error) {
	if s.raft.State() == raft.Leader {
		idx, err := s.leaderReadIndex(ctx, verify)
		if !retryable(err) {
			return idx, err
		}
	}
	r := s.rounds[0]
	if verify {
		r = s.rounds[1]
	}
	return r.index(ctx)
}

// askReadIndex asks the leader (maybe itself, if leadership moved here)
// for the index a read must wait for.
func (s *Store) askReadIndex(ctx context.Context, verify bool) (uint64, error) {
	var idx uint64
	err := s.retry(ctx, func() error {
		if s.raft.State() == raft.Leader {
			var err error
			idx, err = s.leaderReadIndex(ctx, verify)
			return err
		}
		resp, err := s.callLeader(ctx, rpcRequest{Op: rpcReadIndex, Verify: verify})
		idx = resp.Index
		return err
	})
	return idx, err
}

// leaderReadIndex is the read-index step on the leader. The index is that of
// the last entry this node's ledger committed, which every acknowledged
// write precedes: the leader answers a write only after its own ledger
// committed it. A new leader first commits a barrier in its term and waits
// for its ledger to commit what came before, so entries the previous leader
// acknowledged are committed here too. With verify, a quorum confirms this
// node still leads after the index was taken.
func (s *Store) leaderReadIndex(ctx context.Context, verify bool) (uint64, error) {
	if s.raft.State() != raft.Leader {
		return 0, ErrNotLeader
	}
	term := s.raft.CurrentTerm()
	if s.readyTerm.Load() != term {
		if err := s.settle(ctx); err != nil {
			return 0, err
		}
		if s.raft.CurrentTerm() != term {
			return 0, ErrNotLeader
		}
		s.readyTerm.Store(term)
	}
	_, _, idx := s.ledger.committed()
	if verify {
		if err := waitFuture(ctx, s.raft.VerifyLeader()); err != nil {
			return 0, err
		}
	}
	return idx, nil
}

// behindSnapshot reports whether the database lacks entries the newest
// snapshot holds, so Raft must restore it on start. A snapshot's Raft
// index counts entries the FSM never sees (a new leader's no-op, a
// barrier) and the database's applied index does not: a snapshot taken
// after them is ahead of the database by its index alone, and restoring
// it would copy the whole ledger at every start of a quiet node. So when
// the index is ahead, the applied index the snapshot's own database
// records decides. Anything unreadable means restore: that is always
// safe.
func (s *Store) behindSnapshot(snaps raft.SnapshotStore) bool {
	_, _, applied := s.ledger.committed()
	list, err := snaps.List()
	if err != nil || len(list) == 0 || list[0].Index <= applied {
		return false
	}
	// raft.FileSnapshotStore keeps each snapshot's data in
	// snapshots/<id>/state.bin: here, a whole SQLite database.
	db, err := openCopy(filepath.Join(s.cfg.Dir, snapshotsDir, list[0].ID, "state.bin"))
	if err != nil {
		return true
	}
	defer db.Close()
	var held uint64
	if err := db.QueryRow(`SELECT value FROM raftstore_meta WHERE key = ?`, metaApplied).Scan(&held); err != nil {
		return true
	}
	return held > applied
}
