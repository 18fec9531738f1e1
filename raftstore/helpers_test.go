package raftstore

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/pedigree-ledger/pedigree/models"
)

// fastRaft shortens Raft's timers for loopback clusters sharing two busy
// cores: fast enough for quick failover, slow enough not to flap under -race.
func fastRaft(c *raft.Config) {
	c.HeartbeatTimeout = 400 * time.Millisecond
	c.ElectionTimeout = 400 * time.Millisecond
	c.LeaderLeaseTimeout = 200 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
}

// faultNet drops all traffic to and from one node while partitioned: it
// wraps the node's listener and its dialer, so every connection the node
// has, in either direction, passes through it.
//
// A black hole is the other way a node vanishes, as a machine that lost
// power or a dropped route: connections stay open, and everything sent
// either way is lost, so peers wait for answers until their deadlines.
type faultNet struct {
	mu      sync.Mutex
	blocked bool
	hole    bool
	conns   map[*faultConn]struct{}
}

func newFaultNet() *faultNet { return &faultNet{conns: map[*faultConn]struct{}{}} }

func (f *faultNet) partition() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.blocked = true
	for c := range f.conns {
		c.Conn.Close()
	}
}

// blackhole makes the node vanish without closing anything.
func (f *faultNet) blackhole() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hole = true
}

func (f *faultNet) heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.blocked = false
	if f.hole {
		// Streams lost bytes in the hole: end them, as a peer's timeout would.
		f.hole = false
		for c := range f.conns {
			c.Conn.Close()
		}
	}
}

func (f *faultNet) inHole() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hole
}

func (f *faultNet) isBlocked() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.blocked
}

func (f *faultNet) wrap(c net.Conn) (net.Conn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.blocked {
		c.Close()
		return nil, errors.New("faultnet: partitioned")
	}
	fc := &faultConn{Conn: c, f: f}
	f.conns[fc] = struct{}{}
	return fc, nil
}

func (f *faultNet) dial(addr string, timeout time.Duration) (net.Conn, error) {
	if f.isBlocked() {
		return nil, errors.New("faultnet: partitioned")
	}
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	return f.wrap(c)
}

func (f *faultNet) listener(ln net.Listener) net.Listener { return &faultListener{Listener: ln, f: f} }

type faultListener struct {
	net.Listener
	f *faultNet
}

func (l *faultListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if fc, err := l.f.wrap(c); err == nil {
			return fc, nil
		}
	}
}

type faultConn struct {
	net.Conn
	f *faultNet
}

func (c *faultConn) Read(p []byte) (int, error) {
	if c.f.isBlocked() {
		c.Conn.Close()
		return 0, errors.New("faultnet: partitioned")
	}
	for {
		n, err := c.Conn.Read(p)
		if err != nil || !c.f.inHole() {
			return n, err
		}
		// In the hole: what arrived is lost; wait for more, a deadline
		// or the close.
	}
}

func (c *faultConn) Write(p []byte) (int, error) {
	if c.f.isBlocked() {
		c.Conn.Close()
		return 0, errors.New("faultnet: partitioned")
	}
	if c.f.inHole() {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *faultConn) Close() error {
	c.f.mu.Lock()
	delete(c.f.conns, c)
	c.f.mu.Unlock()
	return c.Conn.Close()
}

// testNode is one cluster member whose process can "crash" and restart.
type testNode struct {
	id   string
	dir  string
	addr string // fixed raft address, reused on restart
	net  *faultNet
	tls  *tls.Config
	// rules, if set, is the newest rules version the node's "binary"
	// applies (Config.RulesVersion).
	rules int
	s     *Store
}

type testCluster struct {
	t     testing.TB
	nodes []*testNode
	tune  func(*raft.Config)
	// tlsFor, if set, gives each node its TLS settings (only TLS is used).
	tlsFor func(name string) *Config
	// auditInterval, if set, is each node's Config.AuditInterval.
	auditInterval time.Duration
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("RAFTSTORE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// mustCluster starts n nodes on 127.0.0.1: node 0 bootstraps, the others
// join as voters. It waits until all agree on the membership.
func mustCluster(t testing.TB, n int, tune func(*raft.Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, tune: tune}
	c.boot(n)
	return c
}

func (c *testCluster) boot(n int) {
	t := c.t
	t.Helper()
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tn := &testNode{id: fmt.Sprintf("node%d", i), dir: filepath.Join(t.TempDir(), fmt.Sprintf("node%d", i)), addr: ln.Addr().String(), net: newFaultNet()}
		if c.tlsFor != nil {
			tn.tls = c.tlsFor(tn.id).TLS
		}
		c.nodes = append(c.nodes, tn)
		c.start(tn, ln, i == 0)
		if i == 0 {
			mustLeader(t, c.nodes[:1])
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			if err := c.nodes[0].s.Join(ctx, tn.s.Info(), true); err != nil {
				cancel()
				t.Fatalf("join %s: %v", tn.id, err)
			}
			cancel()
		}
	}
	t.Cleanup(func() {
		for _, tn := range c.nodes {
			if tn.s != nil {
				tn.s.Close()
			}
		}
	})
	waitFor(t, 20*time.Second, "all nodes see the full membership", func() bool {
		for _, tn := range c.nodes {
			ns, err := tn.s.Nodes()
			if err != nil || len(ns) != n {
				return false
			}
		}
		return true
	})
}

func (c *testCluster) start(tn *testNode, ln net.Listener, bootstrap bool) {
	c.t.Helper()
	if ln == nil {
		var err error
		// Rebinding the node's old port may race with the kernel releasing
		// it; poll until it is free.
		waitFor(c.t, 10*time.Second, "raft port free again", func() bool {
			ln, err = net.Listen("tcp", tn.addr)
			return err == nil
		})
	}
	s, err := Open(c.config(tn, ln, bootstrap))
	if err != nil {
		ln.Close()
		c.t.Fatalf("open %s: %v", tn.id, err)
	}
	tn.s = s
	if !bootstrap {
		// As pedigree serve --join does before it asks to join: the node
		// learns the cluster's id from a member. A restarted member
		// already holds that id, and this changes nothing.
		for _, m := range c.live() {
			if m != tn {
				if err := s.PrepareJoin(m.s.ClusterID()); err != nil {
					c.t.Fatalf("prepare %s to join: %v", tn.id, err)
				}
				break
			}
		}
	}
}

// config is the Config a test node opens with, listening on ln.
func (c *testCluster) config(tn *testNode, ln net.Listener, bootstrap bool) Config {
	tune := c.tune
	if tune == nil {
		tune = fastRaft
	}
	return Config{
		NodeID: tn.id, Dir: tn.dir, Listener: tn.net.listener(ln), Dial: tn.net.dial,
		Bootstrap: bootstrap, Tune: tune, Logger: testLogger(c.t), HTTPAddr: "http://" + tn.id + ".invalid",
		ProposeTimeout: 10 * time.Second, TLS: tn.tls, AuditInterval: c.auditInterval, RulesVersion: tn.rules,
	}
}

// kill closes a node hard: its network is cut first, then the store stops.
func (c *testCluster) kill(tn *testNode) {
	tn.net.partition()
	if err := tn.s.Close(); err != nil {
		c.t.Logf("close %s: %v", tn.id, err)
	}
	tn.s = nil
	tn.net.heal()
}

func (c *testCluster) restart(tn *testNode) {
	c.start(tn, nil, false)
}

// joinReplica starts node id and joins it to c as a non-voting replica,
// through c's first node.
func (c *testCluster) joinReplica(id string) *testNode {
	t := c.t
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNode{id: id, dir: t.TempDir(), addr: ln.Addr().String(), net: newFaultNet()}
	c.nodes = append(c.nodes, tn)
	c.start(tn, ln, false)
	if err := c.nodes[0].s.Join(testCtx(t), tn.s.Info(), false); err != nil {
		t.Fatal(err)
	}
	return tn
}

func (c *testCluster) live() []*testNode {
	var out []*testNode
	for _, tn := range c.nodes {
		if tn.s != nil {
			out = append(out, tn)
		}
	}
	return out
}

// mustListenAt listens on addr once the port is free again (a stopped
// node's).
func mustListenAt(t testing.TB, addr string) (ln net.Listener) {
	t.Helper()
	waitFor(t, 10*time.Second, "port "+addr+" free", func() bool {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err == nil
	})
	return ln
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mustLeader waits until exactly one of nodes leads and all of them agree.
func mustLeader(t testing.TB, nodes []*testNode) *testNode {
	t.Helper()
	var leader *testNode
	waitFor(t, 20*time.Second, "one leader all nodes agree on", func() bool {
		leader = nil
		for _, tn := range nodes {
			if tn.s.IsLeader() {
				if leader != nil {
					return false
				}
				leader = tn
			}
		}
		if leader == nil {
			return false
		}
		for _, tn := range nodes {
			if _, id := tn.s.raft.LeaderWithID(); string(id) != leader.id {
				return false
			}
		}
		return true
	})
	return leader
}

// followers are the nodes other than leader.
func followers(nodes []*testNode, leader *testNode) []*testNode {
	var out []*testNode
	for _, tn := range nodes {
		if tn != leader {
			out = append(out, tn)
		}
	}
	return out
}

// mustConverge waits until all nodes have the same tree size and root, and
// at least minSize entries.
func mustConverge(t testing.TB, nodes []*testNode, minSize uint64) Head {
	t.Helper()
	var h Head
	waitFor(t, 30*time.Second, fmt.Sprintf("nodes converge on one tree of at least %d entries", minSize), func() bool {
		h = nodes[0].s.Head()
		if h.Size < minSize {
			return false
		}
		for _, tn := range nodes[1:] {
			o := tn.s.Head()
			if o.Size != h.Size || string(o.Root) != string(h.Root) {
				return false
			}
		}
		return true
	})
	return h
}

// orgCmd is a real register_organisation command for an admin named name.
func orgCmd(t testing.TB, id, name string) models.Command {
	t.Helper()
	c, err := models.NewCommand(id, models.KindRegisterOrganisation, "", time.Time{},
		models.RegisterOrganisationPayload{ID: name, Name: "Admin " + name, Role: models.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustPropose(t testing.TB, s *Store, cmds ...models.Command) []models.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := s.Propose(ctx, cmds...)
	if err != nil {
		t.Fatalf("propose: %v", err)
	}
	return res
}

// mustSingle opens a one-node bootstrapped store.
func mustSingle(t testing.TB) *Store {
	t.Helper()
	c := mustCluster(t, 1, nil)
	return c.nodes[0].s
}

func mustKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testCtx is a context for one store call, generous enough for a loaded
// shared machine; each call gets its own so slow steps do not starve later
// ones.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// peerMux is a bare mux (no store behind it) that dials as a member of
// cluster id, so a test can speak the cluster port's protocol by hand.
func peerMux(t testing.TB, id string) *mux {
	m := newMux(nil, nil, nil, nil, testLogger(t))
	m.ident.state, m.ident.id = member, id
	return m
}

// mustStrings is the one text column query selects from db, row by row.
func mustStrings(t testing.TB, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
