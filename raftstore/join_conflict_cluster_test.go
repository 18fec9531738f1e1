package raftstore

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAJoinNeverRemovesALiveMember: two easy mistakes made a join remove a
// running voter as a stale entry: a new node advertising a member's
// address (a copied --raft-advertise), and a second node given a member's
// id (a cloned unit file). With one voter of three already down, that
// left two voters, one of them dead, and no leader. Both joins are now
// refused, the membership is as it was, and the cluster still commits.
func TestAJoinNeverRemovesALiveMember(t *testing.T) {
	for _, tc := range []struct {
		name string
		// joiner is the id and advertised address the mistaken node
		// joins with, given the live member it copies.
		joiner func(member *testNode, own string) (id, advertise string)
	}{
		{"another node at a member's address", func(m *testNode, own string) (string, string) { return "newcomer", m.addr }},
		{"a member's id at another address", func(m *testNode, own string) (string, string) { return m.id, own }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCluster(t, 3, nil)
			leader := mustLeader(t, c.nodes)
			fs := followers(c.nodes, leader)
			down, member := fs[0], fs[1]
			c.kill(down)
			mustPropose(t, leader.s, orgCmd(t, "before", "before"))
			before, err := leader.s.Nodes()
			if err != nil {
				t.Fatal(err)
			}

			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			id, advertise := tc.joiner(member, ln.Addr().String())
			s, err := Open(Config{NodeID: id, Dir: filepath.Join(t.TempDir(), "mistaken"), Listener: ln, AdvertiseAddr: advertise,
				Tune: fastRaft, Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.PrepareJoin(leader.s.ClusterID()); err != nil {
				t.Fatal(err)
			}
			if err := leader.s.Join(testCtx(t), s.Info(), true); !errors.Is(err, ErrInvalid) {
				t.Errorf("the mistaken join: %v, want ErrInvalid", err)
			}
			after, err := leader.s.Nodes()
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before) {
				t.Errorf("members before the join %+v, after %+v", before, after)
			}
			for i := range before {
				if i < len(after) && (after[i].ID != before[i].ID || after[i].RaftAddr != before[i].RaftAddr || after[i].Voter != before[i].Voter) {
					t.Errorf("member %d before the join %+v, after %+v", i, before[i], after[i])
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := leader.s.Propose(ctx, orgCmd(t, "after", "after")); err != nil {
				t.Errorf("a write after the mistaken join, two of three voters running: %v", err)
			}
		})
	}
}

// TestAWipedVoterIsNotCountedBeforeItRejoins: a voter whose data
// directory was lost, restarted at its address and asking to join as the
// voter it is listed as, was taken by Raft as a no-op and counted in the
// quorum at once, empty, having forgotten the votes it cast. Its new node
// key gives it away: the join is refused until the node is removed, and
// then it joins as a new member and catches up.
func TestAWipedVoterIsNotCountedBeforeItRejoins(t *testing.T) {
	c := mustCluster(t, 3, nil)
	leader := mustLeader(t, c.nodes)
	wiped := followers(c.nodes, leader)[0]
	writeN(t, leader.s, "a", 20, 1)
	waitFor(t, 10*time.Second, "the follower's key is listed", func() bool { return listedKey(t, leader.s, wiped.id) != "" })
	c.kill(wiped)
	if err := os.RemoveAll(wiped.dir); err != nil {
		t.Fatal(err)
	}
	c.restart(wiped)
	if err := leader.s.Join(testCtx(t), wiped.s.Info(), true); !errors.Is(err, ErrInvalid) {
		t.Fatalf("the wiped voter's join: %v, want ErrInvalid", err)
	}
	if err := leader.s.Remove(testCtx(t), wiped.id); err != nil {
		t.Fatal(err)
	}
	if err := leader.s.Join(testCtx(t), wiped.s.Info(), true); err != nil {
		t.Fatalf("the wiped node's join once removed: %v", err)
	}
	mustConverge(t, c.nodes, 20)
}
