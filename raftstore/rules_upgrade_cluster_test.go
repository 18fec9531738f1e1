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

// TestRulesAreAdoptedAfterARollingUpgrade upgrades a 3-node cluster one
// node at a time to a binary that knows the next rules version, under
// writes: the ledger refuses to adopt it while any member lacks it, adopts
// it once all have it, every node then says so with the same tree, and a
// node still on the old binary may not join.
func TestRulesAreAdoptedAfterARollingUpgrade(t *testing.T) {
	next := models.RulesVersion + 1
	c := mustCluster(t, 3, nil)
	leader := mustLeader(t, c.nodes)
	mustPropose(t, leader.s, orgCmd(t, "before", "before"))
	adopt := func() models.Command {
		cmd, err := models.NewCommand("adopt-next", models.KindAdoptRules, "", time.Time{}, models.AdoptRulesPayload{Version: next})
		if err != nil {
			t.Fatal(err)
		}
		return cmd
	}

	for i, tn := range c.nodes {
		asker := c.live()[0].s
		err := asker.CheckRulesSupported(testCtx(t), next)
		if !errors.Is(err, ErrRulesUnsupported) || !strings.Contains(err.Error(), tn.id) {
			t.Fatalf("before %s is upgraded: %v", tn.id, err)
		}
		c.kill(tn)
		tn.rules = next
		c.restart(tn)
		mustPropose(t, mustLeader(t, c.live()).s, orgCmd(t, fmt.Sprintf("during-%d", i), fmt.Sprintf("during-%d", i)))
	}
	leader = mustLeader(t, c.nodes)
	for _, tn := range c.nodes {
		if err := tn.s.CheckRulesSupported(testCtx(t), next); err != nil {
			t.Fatalf("%s, all upgraded: %v", tn.id, err)
		}
		if err := tn.s.CheckRulesSupported(testCtx(t), next+1); !errors.Is(err, ErrRulesUnsupported) {
			t.Fatalf("%s asked about version %d: %v", tn.id, next+1, err)
		}
	}
	if res := mustPropose(t, leader.s, adopt()); !res[0].Accepted {
		t.Fatalf("adopting %d: %+v", next, res[0])
	}
	mustPropose(t, leader.s, orgCmd(t, "after", "after"))
	mustConverge(t, c.nodes, 0)
	waitFor(t, 10*time.Second, "every node at the new rules", func() bool {
		for _, tn := range c.nodes {
			if st := tn.s.Status(); st.RulesActive != next || st.RulesSupported != next {
				return false
			}
		}
		return true
	})

	// A node that lacks the ledger's rules may not join, nor one that
	// cannot be asked (it could be a binary from before rule versions).
	for i, joiner := range []struct {
		rules       int
		unreachable bool
		err         error
	}{{models.RulesVersion, false, ErrRulesUnsupported}, {next, true, ErrNotCaughtUp}, {next, false, nil}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("late%d", i)
		tn := &testNode{id: id, dir: filepath.Join(t.TempDir(), id), addr: ln.Addr().String(), net: newFaultNet(), rules: joiner.rules}
		c.start(tn, ln, false)
		t.Cleanup(func() { tn.s.Close() })
		if joiner.unreachable {
			tn.net.partition()
		}
		err = leader.s.Join(testCtx(t), tn.s.Info(), true)
		if !errors.Is(err, joiner.err) {
			t.Fatalf("a node knowing rules up to %d joins: %v, want %v", joiner.rules, err, joiner.err)
		}
		cf := leader.s.raft.GetConfiguration()
		if err := cf.Error(); err != nil {
			t.Fatal(err)
		}
		member := slices.ContainsFunc(cf.Configuration().Servers, func(srv raft.Server) bool { return string(srv.ID) == id })
		if member != (joiner.err == nil) {
			t.Fatalf("%s (rules %d, unreachable %v) is a member: %v", id, joiner.rules, joiner.unreachable, member)
		}
	}
}

// TestAnOldBinaryStopsAtAnAdoptionAndGoesOnOnceUpgraded applies an
// adoption of rules version 2 on a node whose binary knows only 1: apply
// stops (the node crashes and restarts) without recording anything, and
// once the binary knows version 2 the same entry applies.
func TestAnOldBinaryStopsAtAnAdoptionAndGoesOnOnceUpgraded(t *testing.T) {
	l := mustOpenLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	l.rulesSupported = 1
	adopt, err := models.NewCommand("adopt-2", models.KindAdoptRules, "", time.Unix(1700000000, 0), models.AdoptRulesPayload{Version: 2})
	if err != nil {
		t.Fatal(err)
	}
	data, err := encodeEntry(logEntry{Op: opLedger, Cmds: []models.Command{orgCmd(t, "c1", "root"), adopt}})
	if err != nil {
		t.Fatal(err)
	}
	apply := func() (resp any, stopped any) {
		defer func() { stopped = recover() }()
		return l.applyBatch([]*raft.Log{{Index: 1, Type: raft.LogCommand, Data: data}})[0], nil
	}
	if resp, stopped := apply(); stopped == nil || !strings.Contains(fmt.Sprint(stopped), "upgrade") {
		t.Fatalf("the old binary answered %v, stopped %v", resp, stopped)
	}
	if size, _, applied := l.committed(); size != 0 || applied != 0 {
		t.Fatalf("the stopped batch left size %d, applied %d", size, applied)
	}

	l.rulesSupported = 2
	resp, stopped := apply()
	results, ok := resp.([]models.Result)
	if stopped != nil || !ok || !results[0].Accepted || !results[1].Accepted {
		t.Fatalf("the upgraded binary: %v, stopped %v", resp, stopped)
	}
	if v := l.rulesActive.Load(); v != 2 {
		t.Fatalf("the ledger is at rules %d", v)
	}

	// The same ledger under the old binary again (rolled back, or got in
	// a snapshot): it stops at the next entry rather than judge it by the
	// old rules, and a node does not open it at all.
	l.rulesSupported = 1
	next, err := encodeEntry(logEntry{Op: opLedger, Cmds: []models.Command{orgCmd(t, "c3", "other")}})
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "upgrade") {
				t.Errorf("the rolled-back binary applied an entry of a ledger at rules 2 (stopped: %v)", p)
			}
		}()
		l.applyBatch([]*raft.Log{{Index: 2, Type: raft.LogCommand, Data: next}})
	}()
	if err := l.loadRules(); !errors.Is(err, models.ErrRulesTooNew) {
		t.Fatalf("loading a ledger at rules 2 with a binary knowing 1: %v", err)
	}
}

// TestANodeDoesNotOpenALedgerAtRulesItLacks: a data directory whose ledger
// adopted rules newer than the node's binary is refused at Open, with a
// message that says to upgrade.
func TestANodeDoesNotOpenALedgerAtRulesItLacks(t *testing.T) {
	c := mustCluster(t, 1, nil)
	tn := c.nodes[0]
	adopt, err := models.NewCommand("adopt-next", models.KindAdoptRules, "", time.Time{}, models.AdoptRulesPayload{Version: models.RulesVersion + 1})
	if err != nil {
		t.Fatal(err)
	}
	c.kill(tn)
	tn.rules = models.RulesVersion + 1
	c.restart(tn)
	mustLeader(t, c.nodes)
	if res := mustPropose(t, tn.s, adopt); !res[0].Accepted {
		t.Fatalf("adopt: %+v", res[0])
	}
	c.kill(tn)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tn.rules = 0
	s, err := Open(c.config(tn, ln, false))
	if err == nil {
		s.Close()
	}
	if !errors.Is(err, models.ErrRulesTooNew) || !strings.Contains(err.Error(), "upgrade") {
		t.Fatalf("opening a ledger at rules %d with this binary: %v", models.RulesVersion+1, err)
	}
}
