package raftstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// mustRestoreAt restores file as node id at addr, in a cluster of its own.
func mustRestoreAt(t testing.TB, id, addr, file string) *testNode {
	t.Helper()
	rc := &testCluster{t: t}
	tn := &testNode{id: id, dir: filepath.Join(t.TempDir(), id), addr: addr, net: newFaultNet()}
	s, _, err := OpenRestored(rc.config(tn, mustListenAt(t, addr), true), file)
	if err != nil {
		t.Fatalf("restore %s at %s: %v", id, addr, err)
	}
	tn.s = s
	t.Cleanup(func() { s.Close() })
	return tn
}

// TestOldMembersCannotTakeOverARestoredNode: a backup is restored on the
// host, with the id and address, of a member of the cluster it came from,
// while the other members still run and dial that address. Without
// cluster ids the restored node (term 1) followed the first old member to
// call, with a higher term, and installed the old ledger over its own.
// Now their every connection is refused: the restored node elects itself,
// keeps the writes it acknowledged, installs nothing, and the old cluster
// goes on with its own ledger.
func TestOldMembersCannotTakeOverARestoredNode(t *testing.T) {
	c := mustCluster(t, 3, nil)
	leader := mustLeader(t, c.nodes)
	writeN(t, leader.s, "old", 5, 1)
	file, info := mustBackupFile(t, leader.s)
	gone := c.nodes[0]
	oldCluster := gone.s.ClusterID()
	c.kill(gone)
	old := mustLeader(t, c.nodes[1:])
	writeN(t, old.s, "old-after-backup", 5, 1)

	r := mustRestoreAt(t, gone.id, gone.addr, file)
	if id := r.s.ClusterID(); id == "" || id == oldCluster || !r.s.Founded() {
		t.Fatalf("the restored node's cluster id is %q (founded %v); the backed-up cluster's is %q", id, r.s.Founded(), oldCluster)
	}
	waitFor(t, 20*time.Second, "the old members' connections refused", func() bool { return r.s.mux.ident.refused.Load() > 0 })
	mustLeader(t, []*testNode{r})
	writeN(t, r.s, "new-cluster", 2, 1)
	mine := r.s.Head()
	if mine.Size != info.Size+2 {
		t.Fatalf("restored tree %d after two writes, backup %d", mine.Size, info.Size)
	}
	seen := r.s.mux.ident.refused.Load()
	waitFor(t, 30*time.Second, "the old members still calling", func() bool { return r.s.mux.ident.refused.Load() > seen })

	if h := r.s.Head(); h.Size != mine.Size || !bytes.Equal(h.Root, mine.Root) {
		t.Fatalf("the restored node's ledger changed: %d %x, was %d %x", h.Size, h.Root, mine.Size, mine.Root)
	}
	if n := r.s.ledger.restores.Load(); n != 0 || !r.s.IsLeader() {
		t.Fatalf("the restored node installed %d snapshots, leads: %v", n, r.s.IsLeader())
	}
	if _, err := r.s.EntryByID("old-after-backup0"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the old cluster's write after the backup on the restored node: %v", err)
	}
	writeN(t, old.s, "old-later", 1, 1)
	if _, err := old.s.EntryByID("new-cluster0"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the restored cluster's write on the old cluster: %v", err)
	}
	mustConverge(t, c.live(), info.Size+6)
}

// TestTwoRestoresOfOneBackupCannotBeJoined: two clusters restored from
// one backup continue at the same Raft index and term, so Raft would take
// one's log for the other's. Asked to add the other's node, a restored
// cluster refuses with ErrClusterMismatch, adds nothing, and both keep
// their own writes.
func TestTwoRestoresOfOneBackupCannotBeJoined(t *testing.T) {
	src := mustSingle(t)
	writeN(t, src, "b", 3, 1)
	file, info := mustBackupFile(t, src)
	ca, cb := &testCluster{t: t}, &testCluster{t: t}
	a := mustRestoredNode(t, ca, "ra", file, info)
	b := mustRestoredNode(t, cb, "rb", file, info)
	t.Cleanup(func() { a.s.Close(); b.s.Close() })
	mustLeader(t, ca.nodes)
	mustLeader(t, cb.nodes)
	writeN(t, a.s, "only-a", 2, 1)
	writeN(t, b.s, "only-b", 2, 1)
	if a.s.ClusterID() == b.s.ClusterID() || a.s.ClusterID() == src.ClusterID() {
		t.Fatalf("cluster ids: restores %q and %q, source %q", a.s.ClusterID(), b.s.ClusterID(), src.ClusterID())
	}

	err := a.s.Join(testCtx(t), b.s.Info(), true)
	if !errors.Is(err, ErrClusterMismatch) || !strings.Contains(err.Error(), b.s.ClusterID()) {
		t.Fatalf("join of the other restore's node: %v, want ErrClusterMismatch naming its cluster", err)
	}
	if ns, err := a.s.Nodes(); err != nil || len(ns) != 1 {
		t.Fatalf("members after the refused join: %+v %v", ns, err)
	}
	if _, err := b.s.EntryByID("only-b0"); err != nil {
		t.Fatalf("the refused node's own write: %v", err)
	}
	if _, err := b.s.EntryByID("only-a0"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the other cluster's write on the refused node: %v", err)
	}
	if !b.s.IsLeader() || b.s.ledger.restores.Load() != 0 {
		t.Fatal("the refused node no longer leads its own cluster")
	}
}

// TestAJoinerAdmitsOnlyTheClusterItWasToldToJoin: a node with an empty
// data directory belongs to no cluster and refuses every leader until
// told which cluster it joins; then it refuses every other, joins that
// one, and after a restart still belongs to it and no other.
func TestAJoinerAdmitsOnlyTheClusterItWasToldToJoin(t *testing.T) {
	ca := mustCluster(t, 1, nil)
	cb := mustCluster(t, 1, nil)
	a, b := ca.nodes[0].s, cb.nodes[0].s
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	j := &testNode{id: "joiner", dir: filepath.Join(t.TempDir(), "joiner"), addr: ln.Addr().String(), net: newFaultNet()}
	if j.s, err = Open(ca.config(j, ln, false)); err != nil { // not ca.start, which prepares it
		t.Fatal(err)
	}
	ca.nodes = append(ca.nodes, j)

	if err := a.Join(testCtx(t), j.s.Info(), true); !errors.Is(err, ErrClusterMismatch) || !strings.Contains(err.Error(), "not asked to join") {
		t.Fatalf("join of a node told to join nothing: %v, want ErrClusterMismatch", err)
	}
	if err := j.s.PrepareJoin(a.ClusterID()); err != nil {
		t.Fatal(err)
	}
	if err := b.Join(testCtx(t), j.s.Info(), true); !errors.Is(err, ErrClusterMismatch) || !strings.Contains(err.Error(), a.ClusterID()) {
		t.Fatalf("another cluster's join of a node joining %s: %v, want ErrClusterMismatch", a.ClusterID(), err)
	}
	if err := a.Join(testCtx(t), j.s.Info(), true); err != nil {
		t.Fatalf("join of a node told to join this cluster: %v", err)
	}
	if j.s.ClusterID() != a.ClusterID() || j.s.Founded() {
		t.Fatalf("the joiner's cluster %q (founded %v), want %q", j.s.ClusterID(), j.s.Founded(), a.ClusterID())
	}
	mustPropose(t, j.s, orgCmd(t, "via-joiner", "via-joiner"))
	mustConverge(t, ca.nodes, 1)

	ca.kill(j)
	if j.s, err = Open(ca.config(j, mustListenAt(t, j.addr), false)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.s.Close() })
	if j.s.ClusterID() != a.ClusterID() {
		t.Fatalf("after a restart the joiner's cluster is %q, want %q", j.s.ClusterID(), a.ClusterID())
	}
	if err := j.s.PrepareJoin(b.ClusterID()); !errors.Is(err, ErrClusterMismatch) {
		t.Fatalf("a member with state told to join another cluster: %v, want ErrClusterMismatch", err)
	}
	if err := b.Join(testCtx(t), j.s.Info(), true); !errors.Is(err, ErrClusterMismatch) {
		t.Fatalf("another cluster's join of a member: %v, want ErrClusterMismatch", err)
	}
	if ns, err := b.Nodes(); err != nil || len(ns) != 1 {
		t.Fatalf("the other cluster's members: %+v %v", ns, err)
	}
	mustPropose(t, a, orgCmd(t, "after-restart", "after-restart"))
	mustConverge(t, ca.nodes, 2)
}

// forgetClusterID makes a stopped node's data directory one of a cluster
// made before cluster ids: its raft.db without the record.
func forgetClusterID(t testing.TB, dir string) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, raftLogFile), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("conf")).Delete(clusterKey) }); err != nil {
		t.Fatal(err)
	}
}

// TestALegacyClusterKeepsWorkingWithTheOldHeader: the nodes of a cluster
// made before cluster ids (raft.db records none) take the id "", dial
// with the one-byte header older binaries send and answer it, so such a
// cluster works through a rolling upgrade, and a new node joins it; a
// cluster with an id refuses that header, and a legacy node refuses it.
func TestALegacyClusterKeepsWorkingWithTheOldHeader(t *testing.T) {
	c := mustCluster(t, 2, nil)
	writeN(t, c.nodes[0].s, "before", 3, 1)
	mustConverge(t, c.nodes, 3)
	for _, tn := range c.nodes {
		c.kill(tn)
		forgetClusterID(t, tn.dir)
	}
	for _, tn := range c.nodes {
		c.restart(tn)
		if tn.s.ClusterID() != "" || tn.s.Founded() {
			t.Fatalf("%s after an upgrade: cluster %q, founded %v", tn.id, tn.s.ClusterID(), tn.s.Founded())
		}
	}
	leader := mustLeader(t, c.nodes)
	writeN(t, followers(c.nodes, leader)[0].s, "after", 3, 1) // forwarded and replicated
	mustConverge(t, c.nodes, 6)

	// What a legacy node sends: one byte, as the binaries before ids.
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	got := make(chan []byte, 1)
	go func() {
		conn, err := raw.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer conn.Close()
		conn.SetReadDeadline(time.Now().Add(time.Second))
		b, _ := io.ReadAll(conn)
		got <- b
	}()
	conn, err := leader.s.mux.dialService(raw.Addr().String(), muxRPC, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if b := <-got; !bytes.Equal(b, []byte{muxRPC}) {
		t.Fatalf("a legacy node's header is %v, want [%d]", b, muxRPC)
	}

	// What an old binary sends, answered by a legacy node, refused by a
	// node of a cluster with an id.
	real := mustSingle(t)
	oldBinaryCall := func(addr string) (rpcResponse, error) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return rpcResponse{}, err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write([]byte{muxRPC}); err != nil {
			return rpcResponse{}, err
		}
		if err := writeRequest(conn, rpcRequest{Op: rpcApplied}); err != nil {
			return rpcResponse{}, err
		}
		var resp rpcResponse
		_, err = readFrame(conn, &resp)
		return resp, err
	}
	if resp, err := oldBinaryCall(leader.addr); err != nil || resp.Index == 0 {
		t.Fatalf("an old binary's call to a legacy node: %+v %v", resp, err)
	}
	if resp, err := oldBinaryCall(real.RaftAddr()); err == nil {
		t.Fatalf("an old binary's call to a node of cluster %s was answered: %+v", real.ClusterID(), resp)
	}
	if err := real.Join(testCtx(t), leader.s.Info(), true); !errors.Is(err, ErrClusterMismatch) || !strings.Contains(err.Error(), "before cluster ids") {
		t.Fatalf("a cluster with an id asked to add a legacy node: %v, want ErrClusterMismatch", err)
	}

	// A new node joins the legacy cluster and takes its id "".
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNode{id: "new", dir: filepath.Join(t.TempDir(), "new"), addr: ln.Addr().String(), net: newFaultNet()}
	c.nodes = append(c.nodes, tn)
	c.start(tn, ln, false) // prepared for "", as serve --join does
	if err := leader.s.Join(testCtx(t), tn.s.Info(), true); err != nil {
		t.Fatalf("join a legacy cluster: %v", err)
	}
	mustConverge(t, c.nodes, 6)
	c.kill(tn)
	c.restart(tn)
	if tn.s.ClusterID() != "" {
		t.Fatalf("the new member of a legacy cluster restarted with cluster %q", tn.s.ClusterID())
	}
	writeN(t, tn.s, "via-new", 1, 1)
	mustConverge(t, c.nodes, 7)
}

// TestClusterIDsAreMintedByFoundersAndKeptByMembers: a bootstrap and a
// restore each mint an id, recorded as founded; a node that joins takes
// its cluster's, and keeps it through a snapshot it installs (snapshots
// carry the ledger, not the id) and through restarts.
func TestClusterIDsAreMintedByFoundersAndKeptByMembers(t *testing.T) {
	c := mustCluster(t, 1, snapshotOften)
	first := c.nodes[0]
	id := first.s.ClusterID()
	if len(id) != 26 || !first.s.Founded() {
		t.Fatalf("a bootstrapped node's cluster id %q, founded %v", id, first.s.Founded())
	}
	writeN(t, first.s, "a", 120, 1) // past the snapshot threshold: a joiner installs a snapshot
	waitFor(t, 10*time.Second, "a snapshot", func() bool { return first.s.raft.Stats()["last_snapshot_index"] != "0" })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNode{id: "second", dir: filepath.Join(t.TempDir(), "second"), addr: ln.Addr().String(), net: newFaultNet()}
	c.nodes = append(c.nodes, tn)
	c.start(tn, ln, false)
	if err := first.s.Join(testCtx(t), tn.s.Info(), true); err != nil {
		t.Fatal(err)
	}
	mustConverge(t, c.nodes, 120)
	if tn.s.ledger.restores.Load() == 0 {
		t.Fatal("the joiner caught up without a snapshot; the test proves less")
	}
	for _, n := range c.nodes {
		c.kill(n)
		c.restart(n)
	}
	mustLeader(t, c.nodes)
	if first.s.ClusterID() != id || tn.s.ClusterID() != id || !first.s.Founded() || tn.s.Founded() {
		t.Fatalf("after restarts: %q (founded %v) and %q (founded %v), want %q", first.s.ClusterID(), first.s.Founded(), tn.s.ClusterID(), tn.s.Founded(), id)
	}

	file, _ := mustBackupFile(t, tn.s)
	r := mustRestoreAt(t, "r", "127.0.0.1:0", file)
	if r.s.ClusterID() == "" || r.s.ClusterID() == id || !r.s.Founded() {
		t.Fatalf("a restored node's cluster %q (founded %v); the backup's cluster %q", r.s.ClusterID(), r.s.Founded(), id)
	}
}

// TestTheIdentityAdmitsItsOwnClusterOnly is the mux's decision, state by
// state.
func TestTheIdentityAdmitsItsOwnClusterOnly(t *testing.T) {
	remote := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 7000}
	for _, tc := range []struct {
		name    string
		state   identityState
		id      string
		claimed string
		code    byte
		after   identityState
	}{
		{"a member, its own cluster", member, "A", "A", admitOK, member},
		{"a member, another cluster", member, "A", "B", refuseOther, member},
		{"a member, a legacy peer", member, "A", "", refuseOther, member},
		{"a legacy member, a legacy peer", member, "", "", admitOK, member},
		{"a legacy member, a cluster with an id", member, "", "A", refuseOther, member},
		{"joining, that cluster", joining, "A", "A", admitOK, member},
		{"joining, another cluster", joining, "A", "B", refuseJoining, joining},
		{"joining a legacy cluster, a legacy peer", joining, "", "", admitOK, member},
		{"of no cluster", noCluster, "", "A", refuseNoMember, noCluster},
		{"of no cluster, a legacy peer", noCluster, "", "", refuseNoMember, noCluster},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var recorded []clusterRecord
			c := newIdentity(testLogger(t))
			c.state, c.id = tc.state, tc.id
			c.persist = func(r clusterRecord) error { recorded = append(recorded, r); return nil }
			code, _ := c.admit(tc.claimed, remote)
			if code != tc.code || c.state != tc.after {
				t.Fatalf("admit %q: code %d, state %d; want %d, %d", tc.claimed, code, c.state, tc.code, tc.after)
			}
			if adopted := tc.state == joining && code == admitOK; adopted != (len(recorded) == 1) {
				t.Fatalf("recorded %+v", recorded)
			}
			if code != admitOK && c.refused.Load() != 1 {
				t.Fatalf("refusal not counted")
			}
		})
	}
}

// TestAJoinerThatCannotRecordTheClusterRefusesIt: a joiner that cannot
// write its cluster id to raft.db does not join: after a restart it would
// have forgotten which cluster it belongs to.
func TestAJoinerThatCannotRecordTheClusterRefusesIt(t *testing.T) {
	c := newIdentity(testLogger(t))
	c.state, c.id = joining, "A"
	c.persist = func(clusterRecord) error { return errors.New("disk full") }
	if code, _ := c.admit("A", &net.TCPAddr{}); code == admitOK || c.state != joining {
		t.Fatalf("code %d, state %d", code, c.state)
	}
}

// TestARefusedDiallerLearnsWhy: the error a refused connection gives names
// the other node's cluster and wraps ErrClusterMismatch.
func TestARefusedDiallerLearnsWhy(t *testing.T) {
	s := mustSingle(t)
	writeN(t, s, "x", 1, 1) // so its applied index, the answer, is not 0
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f := &forwarder{m: peerMux(t, "OTHER"), idle: map[string][]*rpcConn{}}
	defer f.close()
	_, err := f.call(ctx, s.RaftAddr(), rpcRequest{Op: rpcApplied})
	if !errors.Is(err, ErrClusterMismatch) || !strings.Contains(err.Error(), s.ClusterID()) || !strings.Contains(err.Error(), "OTHER") {
		t.Fatalf("call from another cluster: %v", err)
	}
	ok := &forwarder{m: peerMux(t, s.ClusterID()), idle: map[string][]*rpcConn{}}
	defer ok.close()
	if resp, err := ok.call(ctx, s.RaftAddr(), rpcRequest{Op: rpcApplied}); err != nil || resp.Index == 0 {
		t.Fatalf("call from its own cluster: %+v %v", resp, err)
	}
}
