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

// TestRemovingALeaderThatVanishedGoesToTheNext: the leader's machine stops
// answering without closing its connections, and an operator removes it
// through a follower. The request forwarded to it gives up as soon as the
// others elect a new leader, which removes it: the answer comes within
// seconds, not after the request's whole deadline.
func TestRemovingALeaderThatVanishedGoesToTheNext(t *testing.T) {
	c := mustCluster(t, 3, nil)
	old := mustLeader(t, c.nodes)
	rest := followers(c.nodes, old)
	old.net.blackhole()
	defer old.net.heal()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- rest[0].s.Remove(ctx, old.id)
	}()
	mustLeader(t, rest)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("removing the vanished leader: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the removal forwarded to the vanished leader is still waiting 5 s after the next was elected")
	}
	for _, tn := range rest {
		ns, err := tn.s.Nodes()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range ns {
			if n.ID == old.id {
				t.Fatalf("%s still lists %s", tn.id, old.id)
			}
		}
	}
}

// TestARemovalCutShortThenNotAMemberIsDone: "not a member" after an
// attempt that may have removed the node (cut short once it reached the
// leader) means the removal is done; before any such attempt it means the
// node never was one.
func TestARemovalCutShortThenNotAMemberIsDone(t *testing.T) {
	notMember := fmt.Errorf("%w: node %q is not a member", ErrNotFound, "n9")
	cutShort := fmt.Errorf("%w: the leader changed while it was asked; %w", ErrNotLeader, errMaybeDone)
	for _, tc := range []struct {
		name     string
		attempts []error
		want     error
	}{
		{"not a member at once", []error{notMember}, ErrNotFound},
		{"no leader, then not a member", []error{ErrNoLeader, notMember}, ErrNotFound},
		{"refused by a follower, then not a member", []error{ErrNotLeader, notMember}, ErrNotFound},
		{"cut short, then not a member", []error{cutShort, notMember}, nil},
		{"connection broke, then not a member", []error{errForward, notMember}, nil},
		{"cut short, then removed", []error{cutShort, nil}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i := 0
			attempt := untilRemoved(func() error { i++; return tc.attempts[i-1] })
			var err error
			for range tc.attempts {
				if err = attempt(); !retryable(err) {
					break
				}
			}
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("after %v: %v, want %v", tc.attempts, err, tc.want)
			}
		})
	}
}
