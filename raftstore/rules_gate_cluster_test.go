package raftstore

import (
	"errors"
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

// TestAJoinWaitsForAnAdoptionUnderWay: while an adoption holds the
// leader's rules gate (it has found every member able to apply the new
// rules and not yet committed them), a node that lacks them and asks to
// join is not added; once the adoption commits, the join is refused with
// ErrRulesUnsupported. Checked the other way round, the join would have
// found the old rules and let in a node that must stop at the adoption.
func TestAJoinWaitsForAnAdoptionUnderWay(t *testing.T) {
	next := models.RulesVersion + 1
	c := mustCluster(t, 1, nil)
	tn := c.nodes[0]
	c.kill(tn)
	tn.rules = next
	c.restart(tn)
	leader := mustLeader(t, c.nodes).s

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	old := &testNode{id: "old", dir: filepath.Join(t.TempDir(), "old"), addr: ln.Addr().String(), net: newFaultNet()}
	c.start(old, ln, false)
	t.Cleanup(func() { old.s.Close() })

	leader.rulesGate.Lock() // the adoption has checked the members
	joined := make(chan error, 1)
	go func() { joined <- leader.Join(testCtx(t), old.s.Info(), true) }()
	time.Sleep(500 * time.Millisecond)
	if isMember(t, leader, "old") {
		leader.rulesGate.Unlock()
		t.Fatal("the node was added while an adoption was under way")
	}
	adopt, err := models.NewCommand("adopt-next", models.KindAdoptRules, "", time.Now(), models.AdoptRulesPayload{Version: next})
	if err != nil {
		t.Fatal(err)
	}
	data, err := encodeEntry(logEntry{Op: opLedger, Cmds: []models.Command{adopt}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := leader.applyLocal(testCtx(t), data)
	leader.rulesGate.Unlock()
	if res, ok := resp.([]models.Result); err != nil || !ok || !res[0].Accepted {
		t.Fatalf("the adoption: %v %v", resp, err)
	}
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
