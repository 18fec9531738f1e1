package raftstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestAJoinerTheLeaderCannotReachNeverCountsInTheQuorum: a node started
// without the cluster's TLS settings asks a one-node TLS cluster to add it
// as a voter. Had it been added as one, the cluster would have two voters,
// one unreachable, and no majority: no write could commit, nor the removal
// that would undo it. It is added as a non-voter, the join says why it is
// not promoted, the cluster keeps committing and can remove it, and a
// node with the right settings then joins and is promoted.
func TestAJoinerTheLeaderCannotReachNeverCountsInTheQuorum(t *testing.T) {
	ca := mustCA(t)
	tlsFor := func(name string) *Config {
		cert, key, caf := ca.mustNodeCert(t, name)
		conf, err := MutualTLS(cert, key, caf)
		if err != nil {
			t.Fatal(err)
		}
		return &Config{TLS: conf}
	}
	c := &testCluster{t: t, tlsFor: tlsFor}
	c.boot(1)
	leader := c.nodes[0].s

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Open(Config{NodeID: "plain", Dir: t.TempDir(), Listener: ln, Tune: fastRaft, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	err = leader.Join(ctx, plain.Info(), true)
	cancel()
	if !errors.Is(err, ErrNotCaughtUp) {
		t.Fatalf("join of a node the leader cannot reach: %v, want ErrNotCaughtUp", err)
	}
	if v := mustVoter(t, leader, "plain"); v {
		t.Fatal("the unreachable node was made a voter")
	}
	mustPropose(t, leader, orgCmd(t, "after-bad-join", "after-bad-join"))
	if err := leader.Remove(testCtx(t), "plain"); err != nil {
		t.Fatalf("remove the unreachable node: %v", err)
	}
	if err := leader.Remove(testCtx(t), "node0"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("remove the only voter: %v, want ErrInvalid", err)
	}

	// A node with the cluster's TLS settings joins and is promoted.
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNode{id: "node1", dir: filepath.Join(t.TempDir(), "node1"), addr: ln.Addr().String(), net: newFaultNet(), tls: tlsFor("node1").TLS}
	c.nodes = append(c.nodes, tn)
	c.start(tn, ln, false)
	if err := leader.Join(testCtx(t), tn.s.Info(), true); err != nil {
		t.Fatalf("join of a node with the cluster's TLS settings: %v", err)
	}
	if v := mustVoter(t, leader, "node1"); !v {
		t.Fatal("a node that can be reached and has caught up was not promoted")
	}
	mustPropose(t, tn.s, orgCmd(t, "via-new-voter", "via-new-voter"))
	mustConverge(t, c.nodes, 2)
}

// mustVoter reports whether id is a voter in s's view of the cluster,
// failing the test if it is not a member.
func mustVoter(t *testing.T, s *Store, id string) bool {
	t.Helper()
	nodes, err := s.Nodes()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.ID == id {
			return n.Voter
		}
	}
	t.Fatalf("%s is not a member: %+v", id, nodes)
	return false
}

// TestRemovingTheLeaderHandsOverFirst: an operator removes the node that
// leads, through a follower and then through the leader itself. Each
// removal answers success (not a timeout while the removed leader steps
// down), the node leaves the configuration and the listing, and the rest
// of the cluster keeps committing.
func TestRemovingTheLeaderHandsOverFirst(t *testing.T) {
	c := mustCluster(t, 4, nil)
	for round, via := range []string{"a follower", "the leader itself"} {
		leader := mustLeader(t, c.live())
		through := leader
		if round == 0 {
			through = followers(c.live(), leader)[0]
		}
		if err := through.s.Remove(testCtx(t), leader.id); err != nil {
			t.Fatalf("remove the leader through %s: %v", via, err)
		}
		c.kill(leader)
		next := mustLeader(t, c.live())
		nodes, err := next.s.Nodes()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if n.ID == leader.id {
				t.Fatalf("removed through %s, %s is still listed: %+v", via, leader.id, nodes)
			}
		}
		if infos, err := next.s.ledger.nodeInfos(); err != nil || infos[leader.id].ID != "" {
			t.Fatalf("removed through %s, the listing keeps %s: %+v %v", via, leader.id, infos, err)
		}
		mustPropose(t, next.s, orgCmd(t, fmt.Sprintf("after-%d", round), "after"))
	}
}

// TestALeaderThatCannotHandOverAnswersRetry: removing the leader while it
// is cut off from every other voter cannot hand leadership over. The
// caller gets an error the API answers with 503 "retry" (not a bare
// error, a 500), the node stays a member, and once the network heals the
// same removal succeeds.
func TestALeaderThatCannotHandOverAnswersRetry(t *testing.T) {
	c := mustCluster(t, 3, nil)
	leader := mustLeader(t, c.live())
	mustPropose(t, leader.s, orgCmd(t, "before-the-cut", "before"))
	leader.net.partition()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	err := leader.s.Remove(ctx, leader.id)
	cancel()
	if !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrNoLeader) && !errors.Is(err, ErrNotLeader) {
		t.Fatalf("removing a leader cut off from the other voters: %v, want a sentinel that means retry", err)
	}
	leader.net.heal()
	next := mustLeader(t, c.live())
	mustConverge(t, c.live(), 1)
	if err := next.s.Remove(testCtx(t), leader.id); err != nil {
		t.Fatalf("the same removal once the network healed: %v", err)
	}
}
