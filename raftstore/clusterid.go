package raftstore

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Cluster identity. Raft trusts whoever speaks its protocol at a member's
// address: a node restored from a backup (term 1) follows the first old
// member that contacts it with a higher term and installs the old ledger
// over its own, and two restores of one backup, both at the backup's Raft
// index, take each other's logs for their own. Either way the ledgers fork
// and nothing says so.
//
// So every cluster has an id, random, minted when a node bootstraps it and
// again whenever a backup is restored (a restore is a new cluster). Every
// connection to the cluster port, Raft and RPC alike, starts with the
// dialler's cluster id (transport.go), and a node refuses a connection
// whose id is not its own, logging it once per peer. The id is kept in
// raft.db's stable store, beside Raft's term and vote: it belongs to the
// node's membership, not to its ledger, so snapshots and backups (copies of
// ledger.db) do not carry it, a follower that installs a snapshot keeps its
// own (the same: its leader's connection was let in), and a wiped data
// directory has none.
//
// A node with no Raft state and no id (a joiner) belongs to no cluster and
// refuses every connection until it is told which cluster it is joining
// (PrepareJoin, which `pedigree serve --join` calls with the id the member
// it asks reports); it then admits that cluster's connections alone and
// records the id at the first. An old member of another cluster dialling
// its address is refused like any other stranger.
//
// Legacy: a node with Raft state but no recorded id is of a cluster made
// before cluster ids. Its id is "", spoken as the one-byte header those
// binaries use, so a legacy cluster keeps working through a rolling
// upgrade, and nodes that join it adopt "". A cluster bootstrapped or
// restored since has a real id and refuses "" peers, old binaries among
// them.

// clusterKey is the stable-store key of this node's clusterRecord. Raft's
// own keys ("CurrentTerm", ...) never start with "pedigree.".
var clusterKey = []byte("pedigree.cluster")

// clusterRecord is what raft.db records of the node's cluster.
type clusterRecord struct {
	ID string `json:"id"`
	// Founded is true when this node minted the id: it bootstrapped the
	// cluster or was restored from a backup as its first node.
	Founded bool `json:"founded,omitempty"`
}

// ErrClusterMismatch means a node is not of the cluster it was asked to
// take part in: it holds another cluster's state, or it has none and was
// not told to join this one.
var ErrClusterMismatch = errors.New("raftstore: the node is not of this cluster")

// identityState is where a node stands with respect to clusters.
type identityState int

const (
	// noCluster: no Raft state and no id; every connection is refused.
	noCluster identityState = iota
	// joining: told to join cluster id (PrepareJoin); its first admitted
	// connection makes the node a member.
	joining
	// member: the node belongs to cluster id ("" for a legacy cluster).
	member
)

// identity is the cluster a node belongs to, as its mux enforces it.
type identity struct {
	mu      sync.Mutex
	state   identityState
	id      string
	founded bool
	// persist records an adopted id; nil in tests' bare muxes.
	persist func(clusterRecord) error
	log     *slog.Logger
	// logged holds the refusals already logged, so a peer that keeps
	// dialling is reported once, not at every heartbeat.
	logged map[string]bool
	// refused counts refusals; onRefuse, if set, is told of each (the
	// metric).
	refused  atomic.Int64
	onRefuse func()
}

// maxLoggedRefusals bounds logged: past it refusals are logged at debug.
const maxLoggedRefusals = 1024

// newIdentity is a node's identity before its data directory is read: no
// cluster.
func newIdentity(log *slog.Logger) *identity {
	return &identity{log: log, logged: map[string]bool{}}
}

// dialID is the id this node dials with: its cluster's, or the one it is
// joining. A node of no cluster dials nobody.
func (c *identity) dialID() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == noCluster {
		return "", fmt.Errorf("%w: this node belongs to no cluster yet (it joins one through pedigree serve --join)", ErrClusterMismatch)
	}
	return c.id, nil
}

// current is the node's cluster id (the one it joins, while it joins) and
// whether it founded that cluster.
func (c *identity) current() (id string, founded bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id, c.founded
}

// Refusal codes a node answers a cluster header with (transport.go).
const (
	admitOK        byte = 0
	refuseOther    byte = 1 // a member of another cluster, whose id follows
	refuseNoMember byte = 2 // of no cluster and joining none; "" follows
	refuseJoining  byte = 3 // joining another cluster, whose id follows
)

// admit decides on a connection from a peer of cluster claimed, and makes
// a joining node a member at the first it admits. It returns admitOK, or
// a refusal code and this node's id (the one it joins, when joining).
func (c *identity) admit(claimed string, remote net.Addr) (byte, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.state == member && claimed == c.id:
		return admitOK, ""
	case c.state == joining && claimed == c.id:
		if c.persist != nil {
			if err := c.persist(clusterRecord{ID: c.id}); err != nil {
				c.log.Error("cannot record the cluster id this node joins; the connection is refused", "cluster", describeCluster(c.id), "error", err)
				return refuseJoining, c.id
			}
		}
		c.state = member
		c.log.Info("joined a cluster: its leader reached this node", "cluster", describeCluster(c.id), "remote", remote)
		return admitOK, ""
	case c.state == member:
		c.logRefusal(remote, claimed, "refused a connection from another cluster: is a member of the cluster this one was restored from still running, or a node restored from the same backup? Stop it, or empty its data directory and join it to this cluster",
			"this_cluster", describeCluster(c.id))
		return refuseOther, c.id
	case c.state == joining:
		c.logRefusal(remote, claimed, "refused a connection from another cluster than the one this node is joining", "joining", describeCluster(c.id))
		return refuseJoining, c.id
	}
	c.logRefusal(remote, claimed, "refused a connection: this node belongs to no cluster yet and joins one only through pedigree serve --join")
	return refuseNoMember, ""
}

// logRefusal counts a refusal, and logs it once per peer host and
// claimed cluster.
func (c *identity) logRefusal(remote net.Addr, claimed, msg string, args ...any) {
	c.refused.Add(1)
	if c.onRefuse != nil {
		c.onRefuse()
	}
	host := fmt.Sprint(remote)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	key := host + "\x00" + claimed
	args = append(args, "remote", remote, "peer_cluster", describeCluster(claimed))
	if c.logged[key] || len(c.logged) >= maxLoggedRefusals {
		c.log.Debug(msg, args...)
		return
	}
	c.logged[key] = true
	c.log.Warn(msg, args...)
}

// prepare makes a node that is of no cluster, or a member that holds no
// Raft state yet, one joining cluster id; a member with state only
// accepts its own cluster's id.
func (c *identity) prepare(id string, stateless bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == member && c.id == id {
		return nil
	}
	if c.state == member && !stateless {
		return fmt.Errorf("%w: this node's data directory holds a ledger of %s, so it cannot join %s; join with an empty data directory",
			ErrClusterMismatch, describeCluster(c.id), describeCluster(id))
	}
	c.state, c.id, c.founded = joining, id, false
	return nil
}

// describeCluster names a cluster id for people: "" is a legacy cluster.
func describeCluster(id string) string {
	if id == "" {
		return "a cluster made before cluster ids"
	}
	return "cluster " + id
}

// newClusterID mints a cluster id: 128 random bits, as base32 text.
func newClusterID() string { return rand.Text() }

// loadClusterRecord reads the node's record from raft.db; ok is false
// when there is none.
func loadClusterRecord(bolt *raftboltdb.BoltStore) (rec clusterRecord, ok bool, err error) {
	b, err := bolt.Get(clusterKey)
	if errors.Is(err, raftboltdb.ErrKeyNotFound) {
		return clusterRecord{}, false, nil
	}
	if err != nil {
		return clusterRecord{}, false, fmt.Errorf("read the cluster id: %w", err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return clusterRecord{}, false, fmt.Errorf("read the cluster id: %q: %w", b, err)
	}
	return rec, true, nil
}

func storeClusterRecord(bolt *raftboltdb.BoltStore, rec clusterRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := bolt.Set(clusterKey, b); err != nil {
		return fmt.Errorf("record the cluster id: %w", err)
	}
	return nil
}

// initIdentity settles the node's cluster before its mux serves: the
// recorded one; a new one if it founds a cluster (bootstrap without Raft
// state, or a restore); "" for a node with Raft state and no record (a
// legacy cluster); none for a node without state (a joiner).
func (s *Store) initIdentity(hasState bool) error {
	id := s.mux.ident
	id.persist = func(rec clusterRecord) error { return storeClusterRecord(s.bolt, rec) }
	id.onRefuse = s.ledger.m.refusals.WithLabelValues(s.cfg.NodeID).Inc
	rec, ok, err := loadClusterRecord(s.bolt)
	if err != nil {
		return err
	}
	founding := s.seedIndex > 0 || (s.cfg.Bootstrap && !hasState)
	switch {
	case ok:
	case founding:
		rec = clusterRecord{ID: newClusterID(), Founded: true}
		if err := storeClusterRecord(s.bolt, rec); err != nil {
			return err
		}
		s.log.Info("founded a new cluster", "cluster", rec.ID)
	case hasState:
		rec, ok = clusterRecord{}, true // legacy: never recorded, so none is added
	default:
		return nil // a joiner: of no cluster until PrepareJoin
	}
	id.mu.Lock()
	id.state, id.id, id.founded = member, rec.ID, rec.Founded
	id.mu.Unlock()
	return nil
}

// ClusterID is the id of the cluster this node belongs to, or is joining
// (PrepareJoin): "" for a cluster made before cluster ids, or for a node
// that belongs to none and joins none.
func (s *Store) ClusterID() string {
	id, _ := s.mux.ident.current()
	return id
}

// Founded reports whether this node founded its cluster: it bootstrapped
// it, or started it from a backup. Such a node holds a ledger of its own
// and can never join another cluster.
func (s *Store) Founded() bool {
	_, founded := s.mux.ident.current()
	return founded
}

// HoldsRaftState reports whether this node holds any Raft log or
// snapshot. A node becomes a voter only once it has caught up, so a node
// that holds none yet is counted as a voter only if it lost its raft.db
// (pedigree serve refuses to join then).
func (s *Store) HoldsRaftState() bool {
	return s.raft.LastIndex() > 0
}

// PrepareJoin tells a node which cluster it is about to ask to join (the
// id a member of it reports in its Status): from then on it admits that
// cluster's connections alone, and records the id at the first, which is
// the leader adding it. Call it before the join request. A node that
// holds Raft state of another cluster returns ErrClusterMismatch; one
// that holds none may be pointed at another cluster again.
func (s *Store) PrepareJoin(clusterID string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.mux.ident.prepare(clusterID, s.raft.LastIndex() == 0)
}
