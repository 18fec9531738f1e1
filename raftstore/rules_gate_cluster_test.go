package raftstore

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/pedigree-ledger/pedigree/models"
)

// isMember reports whether id is in the leader's Raft configuration.
func isMember(t *testing.T, leader *Store, id string) bool {
	t.Helper()
	cf := leader.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(cf.Configuration().Servers, func(srv raft.Server) bool { return string(srv.ID) == id })
}

// TestTheLeaderRefusesAnAdoptionSomeMemberLacks: an adoption of rules
// proposed through the store itself, not the API (which checks on the
// node it reached), is checked on the leader: refused with
// ErrRulesUnsupported, naming the member that lacks the version, until
// every member has it; from a follower as from the leader.
func TestTheLeaderRefusesAnAdoptionSomeMemberLacks(t *testing.T) {
	next := models.RulesVersion + 1
	c := mustCluster(t, 3, nil)
	mustLeader(t, c.nodes)
	for _, tn := range c.nodes[:2] {
		c.kill(tn)
		tn.rules = next
		c.restart(tn)
		mustLeader(t, c.live())
	}
	adopt, err := models.NewCommand("adopt-next", models.KindAdoptRules, "", time.Time{}, models.AdoptRulesPayload{Version: next})
	if err != nil {
		t.Fatal(err)
	}
	leader := mustLeader(t, c.nodes)
	for _, tn := range []*testNode{leader, followers(c.nodes, leader)[0]} {
		_, err := tn.s.Propose(testCtx(t), adopt)
		if !errors.Is(err, ErrRulesUnsupported) || !strings.Contains(err.Error(), c.nodes[2].id) {
			t.Fatalf("adoption proposed on %s with %s on the old binary: %v", tn.id, c.nodes[2].id, err)
		}
	}
	if _, err := leader.s.EntryByID("adopt-next"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the refused adoption is in the ledger: %v", err)
	}

	c.kill(c.nodes[2])
	c.nodes[2].rules = next
	c.restart(c.nodes[2])
	leader = mustLeader(t, c.nodes)
	if res := mustPropose(t, followers(c.nodes, leader)[0].s, adopt); !res[0].Accepted {
		t.Fatalf("adoption once all are upgraded: %+v", res[0])
	}
	// Sent again, it gets its first answer; the members are not asked
	// (one that cannot answer would otherwise refuse it).
	followers(c.nodes, leader)[1].net.partition()
	if res := mustPropose(t, leader.s, adopt); !res[0].Accepted {
		t.Fatalf("the adoption sent again: %+v", res[0])
	}
}

// gateTestCluster is a one-node cluster whose binary applies the next
// rules version, not yet adopted, and a started node, "old", whose binary
// lacks it and has not joined.
func gateTestCluster(t *testing.T) (leader *Store, old *testNode, adopt models.Command) {
	t.Helper()
	next := models.RulesVersion + 1
	c := mustCluster(t, 1, nil)
	tn := c.nodes[0]
	c.kill(tn)
	tn.rules = next
	c.restart(tn)
	leader = mustLeader(t, c.nodes).s
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	old = &testNode{id: "old", dir: filepath.Join(t.TempDir(), "old"), addr: ln.Addr().String(), net: newFaultNet()}
	c.start(old, ln, false)
	t.Cleanup(func() { old.s.Close() })
	adopt, err = models.NewCommand("adopt-next", models.KindAdoptRules, "", time.Time{}, models.AdoptRulesPayload{Version: next})
	if err != nil {
		t.Fatal(err)
	}
	return leader, old, adopt
}

// mustRefuseJoin waits for a join's answer and checks that it refused
// the node for its rules, and that the node is no member.
func mustRefuseJoin(t *testing.T, leader *Store, joined <-chan error) {
	t.Helper()
	select {
	case err := <-joined:
		if !errors.Is(err, ErrRulesUnsupported) {
			t.Fatalf("join after the adoption: %v, want ErrRulesUnsupported", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the join did not end")
	}
	if isMember(t, leader, "old") {
		t.Fatal("a node lacking the ledger's rules is a member")
	}
}

// TestAJoinWaitsForAnAdoptionUnderWay: an adoption, proposed as any is,
// has found every member able to apply the new rules and is not yet in
// the log; a node that lacks them asks to join meanwhile. It is not
// added, and once the adoption commits it is refused with
// ErrRulesUnsupported. Checked the other way round, the join would have
// found the old rules and let in a node that must stop at the adoption.
func TestAJoinWaitsForAnAdoptionUnderWay(t *testing.T) {
	leader, old, adopt := gateTestCluster(t)
	checked, proceed := make(chan struct{}), make(chan struct{})
	leader.testHookAdoptionChecked = func() {
		close(checked)
		<-proceed
	}
	adopted := make(chan error, 1)
	go func() {
		res, err := leader.Propose(testCtx(t), adopt)
		if err == nil && !res[0].Accepted {
			err = fmt.Errorf("rejected: %+v", res[0])
		}
		adopted <- err
	}()
	<-checked
	joined := make(chan error, 1)
	go func() { joined <- leader.Join(testCtx(t), old.s.Info(), true) }()
	time.Sleep(500 * time.Millisecond)
	member := isMember(t, leader, "old")
	close(proceed)
	if member {
		t.Fatal("the node was added while an adoption was under way")
	}
	if err := <-adopted; err != nil {
		t.Fatalf("the adoption: %v", err)
	}
	mustRefuseJoin(t, leader, joined)
}

// TestAJoinCountsAnAdoptionTheLedgerHasNotApplied: an adoption is in the
// leader's log and handed to its FSM, but its ledger has not committed it
// yet (as after a leader change, or a proposer that gave up waiting): a
// node lacking the new rules that asks to join meanwhile waits for the
// ledger and is refused, rather than checked against the rules before.
func TestAJoinCountsAnAdoptionTheLedgerHasNotApplied(t *testing.T) {
	leader, old, adopt := gateTestCluster(t)
	q := leader.fsm.q
	hold := make(chan struct{})
	q.mu.Lock()
	apply := q.apply
	q.apply = func(logs []*raft.Log) []any {
		<-hold
		return apply(logs)
	}
	q.mu.Unlock()
	released := false
	release := func() {
		if !released {
			released = true
			close(hold)
		}
	}
	defer release()

	adopt.Time = time.Now()
	data, err := encodeEntry(logEntry{Op: opLedger, Cmds: []models.Command{adopt}})
	if err != nil {
		t.Fatal(err)
	}
	if err := leader.raft.Apply(data, 10*time.Second).Error(); err != nil {
		t.Fatalf("the adoption: %v", err)
	}
	if v := leader.ActiveRules(); v > models.RulesVersion {
		t.Fatalf("the held ledger is at rules %d already", v)
	}
	joined := make(chan error, 1)
	go func() { joined <- leader.Join(testCtx(t), old.s.Info(), true) }()
	time.Sleep(500 * time.Millisecond)
	if isMember(t, leader, "old") {
		t.Fatal("the node was added against the rules before the adoption")
	}
	release()
	mustRefuseJoin(t, leader, joined)
}

// TestANodeRemovedWhileItCaughtUpIsNotPromoted: a joining voter is a
// non-voter until it has caught up. If meanwhile it was removed, or
// joined again at another address, promoting it must not put it back as
// it was (it would skip the checks of a new join, the rules among them).
func TestANodeRemovedWhileItCaughtUpIsNotPromoted(t *testing.T) {
	c := mustCluster(t, 1, nil)
	leader := mustLeader(t, c.nodes).s
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	x := &testNode{id: "x", dir: filepath.Join(t.TempDir(), "x"), addr: ln.Addr().String(), net: newFaultNet()}
	c.start(x, ln, false)
	t.Cleanup(func() { x.s.Close() })
	id, addr := raft.ServerID("x"), raft.ServerAddress(x.addr)
	if err := leader.Join(testCtx(t), x.s.Info(), false); err != nil {
		t.Fatalf("join as a non-voter: %v", err)
	}
	if err := leader.Remove(testCtx(t), "x"); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if err := leader.promote(testCtx(t), id, addr); !errors.Is(err, ErrNotCaughtUp) || isMember(t, leader, "x") {
		t.Fatalf("promoting the removed node: %v (member: %v)", err, isMember(t, leader, "x"))
	}

	if err := leader.Join(testCtx(t), x.s.Info(), false); err != nil {
		t.Fatalf("join again: %v", err)
	}
	// Joined again elsewhere: as joinLocal does, the old entry goes first
	// (raft v1.7.3 races with itself when a member's address changes in
	// place: hashicorp/raft#681).
	moved := raft.ServerAddress("127.0.0.1:1")
	if err := waitFuture(testCtx(t), leader.raft.RemoveServer(id, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := waitFuture(testCtx(t), leader.raft.AddNonvoter(id, moved, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := leader.promote(testCtx(t), id, addr); !errors.Is(err, ErrNotCaughtUp) {
		t.Fatalf("promoting the node at its old address: %v", err)
	}
	cf := leader.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		t.Fatal(err)
	}
	for _, srv := range cf.Configuration().Servers {
		if srv.ID == id && (srv.Address != moved || srv.Suffrage != raft.Nonvoter) {
			t.Fatalf("x is %v at %s", srv.Suffrage, srv.Address)
		}
	}
}
