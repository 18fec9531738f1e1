package raftstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/transparency-dev/merkle/compact"
)

// TestAVoterWhoseTreeTheOthersDoNotHoldSaysSo: nodes compare their Merkle
// trees with each other. While they agree every node is ready; once one
// follower's ledger is rewritten behind its back, consistently (entry and
// tree agree, so only the comparison can tell), that follower, and only
// it, reports the difference for good: Ready answers ErrDiverged (so
// /readyz takes it out of service), its status says how, and its
// tree_diverged gauge is 1. The others call it disputed until it stops
// answering as a witness, then agree again.
func TestAVoterWhoseTreeTheOthersDoNotHoldSaysSo(t *testing.T) {
	c := &testCluster{t: t, tune: fastRaft, auditInterval: 50 * time.Millisecond}
	c.boot(3)
	leader := mustLeader(t, c.nodes)
	for i := range 5 {
		mustPropose(t, leader.s, orgCmd(t, fmt.Sprintf("audit-%d", i), fmt.Sprintf("auditor%d", i)))
	}
	mustConverge(t, c.nodes, 5)
	fs := followers(c.nodes, leader)
	same0 := audits(t, fs[0], "same")
	waitFor(t, 10*time.Second, "a follower's audit finds its tree the others'", func() bool {
		return audits(t, fs[0], "same") > same0
	})
	for _, tn := range c.nodes {
		if err := tn.s.Ready(); err != nil || tn.s.Status().Diverged != "" {
			t.Fatalf("%s before any change: %v %q", tn.id, err, tn.s.Status().Diverged)
		}
	}

	inconsistent := audits(t, fs[0], "inconsistent")
	forgeEntry(t, c, fs[0], 3)
	mustFindItselfWrong(t, fs[0])
	st := fs[0].s.Status()
	if !strings.Contains(st.Diverged, "2 of the 3 voters hold another tree") || !strings.Contains(st.Diverged, "take the node out and rebuild it") {
		t.Fatalf("status of the rewritten follower: %+v", st)
	}
	if v, _ := metricValue(t, "pedigree_raftstore_tree_diverged", map[string]string{"node": fs[0].id}); v != 1 {
		t.Fatalf("tree_diverged of the rewritten follower = %v", v)
	}
	if n := audits(t, fs[0], "inconsistent") - inconsistent; n != 0 {
		t.Fatalf("a consistent rewrite was called inconsistent %v times: %s", n, st.Diverged)
	}
	// The other nodes go on agreeing, and the difference is for good.
	same1 := audits(t, fs[1], "same")
	mustPropose(t, leader.s, orgCmd(t, "audit-after", "auditor-after"))
	waitFor(t, 10*time.Second, "the other follower audits again", func() bool { return audits(t, fs[1], "same") > same1 })
	for _, tn := range []*testNode{leader, fs[1]} {
		if err := tn.s.Ready(); err != nil {
			t.Fatalf("%s: %v", tn.id, err)
		}
	}
	if !errors.Is(fs[0].s.Ready(), ErrDiverged) {
		t.Fatal("the rewritten follower forgot its difference")
	}
}

// TestAWrongNodeHandsOnTheLeadership: a node whose ledger is wrong
// answers writes with its own rules' results on its own ledger, so it
// must not lead; Raft cannot be told not to elect it, so whenever it
// leads it hands the leadership on. Made leader by hand, it gives it up,
// and the healthy nodes, which audit it like any other, stay in service.
func TestAWrongNodeHandsOnTheLeadership(t *testing.T) {
	c, leader := auditedCluster(t, 3, "lead", 5)
	bad := followers(c.nodes, leader)[0]
	forgeEntry(t, c, bad, 2)
	mustFindItselfWrong(t, bad)
	led := make(chan struct{}, 1)
	obs := raft.NewObserver(nil, false, func(o *raft.Observation) bool {
		if lo, ok := o.Data.(raft.LeaderObservation); ok && string(lo.LeaderID) == bad.id {
			select {
			case led <- struct{}{}:
			default:
			}
		}
		return false
	})
	bad.s.raft.RegisterObserver(obs)
	defer bad.s.raft.DeregisterObserver(obs)
	leader = mustLeader(t, c.nodes)
	if err := leader.s.raft.LeadershipTransferToServer(raft.ServerID(bad.id), raft.ServerAddress(bad.addr)).Error(); err != nil {
		t.Fatalf("transfer to the wrong node: %v", err)
	}
	select {
	case <-led:
	case <-time.After(10 * time.Second):
		t.Fatal("the wrong node never led: the test proves nothing")
	}
	waitFor(t, 10*time.Second, "a healthy node leads", func() bool {
		return mustLeader(t, c.nodes) != bad
	})
	healthy := followers(c.nodes, bad)
	for _, tn := range healthy {
		if d := tn.s.Status().Diverged; d != "" {
			t.Fatalf("%s, healthy, says %q", tn.id, d)
		}
	}
	// The cluster goes on: a write through the new leader reaches both.
	leader = mustLeader(t, healthy)
	mustPropose(t, leader.s, orgCmd(t, "after", "after-org"))
	mustConverge(t, healthy, 6)
}

// TestWithEveryVoterWrongTheLeadershipStays: a wrong node hands the
// leadership on only to a voter that answers the audit as a healthy
// witness. With every voter wrong there is none, and the leader keeps
// the leadership rather than pass it round for ever (left to Raft it
// changed hands every audit round).
func TestWithEveryVoterWrongTheLeadershipStays(t *testing.T) {
	c := &testCluster{t: t, tune: fastRaft, auditInterval: 50 * time.Millisecond}
	c.boot(3)
	leader := mustLeader(t, c.nodes)
	var changes atomic.Int64
	last := leader.id // only the observer's goroutine touches it
	obs := raft.NewObserver(nil, false, func(o *raft.Observation) bool {
		if lo, ok := o.Data.(raft.LeaderObservation); ok && lo.LeaderID != "" && string(lo.LeaderID) != last {
			last = string(lo.LeaderID)
			changes.Add(1)
		}
		return false
	})
	watcher := followers(c.nodes, leader)[0]
	watcher.s.raft.RegisterObserver(obs)
	defer watcher.s.raft.DeregisterObserver(obs)
	for _, tn := range append(followers(c.nodes, leader), leader) {
		tn.s.flagDivergence(&divergence{fault: "test"})
	}
	time.Sleep(time.Second) // twenty audit rounds
	if n := changes.Load(); n > 1 {
		t.Fatalf("with every voter wrong the leadership changed hands %d times in a second", n)
	}
}

// TestAWrongLeaderHandsOverToVotersOnAnOlderBinary: in a rolling upgrade
// from a binary whose followers answered rpcHead only with not_leader, a
// wrong leader cannot tell a healthy voter by asking; it must still hand
// on the leadership (as Raft chooses, as such binaries did), not keep it.
func TestAWrongLeaderHandsOverToVotersOnAnOlderBinary(t *testing.T) {
	c := &testCluster{t: t, tune: fastRaft, auditInterval: 50 * time.Millisecond}
	c.boot(3)
	bad := mustLeader(t, c.nodes)
	for _, tn := range followers(c.nodes, bad) {
		tn.s.testAnswerHeadAsLeaderOnly.Store(true)
	}
	bad.s.flagDivergence(&divergence{fault: "test"})
	waitFor(t, 10*time.Second, "another node leads", func() bool {
		return mustLeader(t, c.nodes) != bad
	})
}

// TestTwoWrongVotersHandTheLeadershipToTheOlderBinary: two wrong voters
// first in the configuration and one healthy voter on an older binary
// last. Raft's own pick, the first caught-up voter in configuration
// order, would pass the leadership between the two wrong ones for ever;
// they must hand it to the older binary's voter.
func TestTwoWrongVotersHandTheLeadershipToTheOlderBinary(t *testing.T) {
	c := &testCluster{t: t, tune: fastRaft, auditInterval: 50 * time.Millisecond}
	c.boot(3)
	leader := mustLeader(t, c.nodes)
	f := leader.s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	servers := f.Configuration().Servers
	var old *testNode
	var wrong []*testNode
	for _, tn := range c.nodes {
		if tn.id == string(servers[len(servers)-1].ID) {
			old = tn
		} else {
			wrong = append(wrong, tn)
		}
	}
	if leader == old {
		if err := old.s.raft.LeadershipTransferToServer(raft.ServerID(wrong[0].id), raft.ServerAddress(wrong[0].addr)).Error(); err != nil {
			t.Fatal(err)
		}
	}
	old.s.testAnswerHeadAsLeaderOnly.Store(true)
	for _, tn := range wrong {
		tn.s.flagDivergence(&divergence{fault: "test"})
	}
	waitFor(t, 10*time.Second, "the older binary's voter leads", func() bool {
		return mustLeader(t, c.nodes) == old
	})
}

// TestAWrongNodeStaysWrongAcrossARestart: a node its audit found wrong
// says so from the moment it starts again, not only once an audit finds
// it again (a whole pass of the stored tree, for some faults): the
// finding is kept in its data directory until that is wiped.
func TestAWrongNodeStaysWrongAcrossARestart(t *testing.T) {
	c, leader := auditedCluster(t, 3, "r", 5)
	f := followers(c.nodes, leader)[0]
	forgeEntry(t, c, f, 3)
	mustFindItselfWrong(t, f)
	c.auditInterval = time.Hour // no audit after the restart
	c.kill(f)
	c.restart(f)
	if err := f.s.Ready(); !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), "found before this start") ||
		!strings.Contains(err.Error(), "2 of the 3 voters hold another tree") {
		t.Fatalf("after a restart: %v", err)
	}
	waitFor(t, 10*time.Second, "the gauge says so", func() bool {
		v, _ := metricValue(t, "pedigree_raftstore_tree_diverged", map[string]string{"node": f.id})
		return v == 1
	})
}

// TestAnAuditRoundEndsWhenTheNodeCloses: Close waits for the audit loop,
// so a round's calls and waits end with the node, not when the round
// would time out (a whole AuditInterval: a peer that never answers, or
// an index a closing node never applies).
func TestAnAuditRoundEndsWhenTheNodeCloses(t *testing.T) {
	s := mustSingle(t)
	ctx, cancel := s.auditContext(time.Hour)
	defer cancel()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("an audit's context outlived its node's Close")
	}
}

// TestTwoVotersWrongEachTheirOwnWayDoNotTakeOutTheThird: of three voters,
// two go wrong, each its own way, before either finds it. To the healthy
// third both differ, but not as one tree: that says nothing about it, and
// it stays in service (each wrong one sees the same of the other two, so
// none stops: all three count disputes until an operator looks).
func TestTwoVotersWrongEachTheirOwnWayDoNotTakeOutTheThird(t *testing.T) {
	c, leader := auditedCluster(t, 3, "w", 6)
	// Both edited while down, one after the other, so neither audits
	// before both are wrong.
	fs := followers(c.nodes, leader)
	c.auditInterval = time.Hour
	forgeEntry(t, c, fs[0], 2)
	forgeEntry(t, c, fs[1], 4)
	for _, tn := range fs {
		c.kill(tn)
	}
	c.auditInterval = 50 * time.Millisecond
	for _, tn := range fs {
		c.restart(tn)
	}
	d0 := audits(t, leader, "disputed")
	waitFor(t, 10*time.Second, "the healthy voter counts disputes", func() bool { return audits(t, leader, "disputed") > d0+3 })
	if err := leader.s.Ready(); err != nil && !errors.Is(err, ErrNoLeader) {
		t.Fatalf("the healthy voter, between two wrong ones: %v", err)
	}
}

// TestTwoVotersThatDisagreeBothSayItAndNeitherStops: with two voters a
// difference cannot be laid at either's door. Both count it as disputed;
// neither takes itself out of service.
func TestTwoVotersThatDisagreeBothSayItAndNeitherStops(t *testing.T) {
	c, leader := auditedCluster(t, 2, "two", 4)
	f := followers(c.nodes, leader)[0]
	forgeEntry(t, c, f, 1)
	for _, tn := range c.nodes {
		d0 := audits(t, tn, "disputed")
		waitFor(t, 10*time.Second, tn.id+" counts a dispute", func() bool { return audits(t, tn, "disputed") > d0+1 })
	}
	for _, tn := range c.nodes {
		if d := tn.s.Status().Diverged; d != "" {
			t.Fatalf("%s stopped: %q", tn.id, d)
		}
	}
}

// TestAnEditedEntryOrTreeNodeIsFoundWithoutAnyOtherNode: a node
// recomputes its stored tree from its stored entries, so an entry edited
// behind the ledger's back, or a node deep inside the tree (not one of
// the few a root is read from), takes even a node of a cluster of one out
// of service, and the status says where.
func TestAnEditedEntryOrTreeNodeIsFoundWithoutAnyOtherNode(t *testing.T) {
	for _, tc := range []struct {
		name, edit, want string
	}{
		{"entry", `UPDATE ledger_entries SET actor = 'forged' WHERE seq = 3`, "entry 3 does not hash to its stored leaf"},
		// Of 12 entries, the stored subtrees a root is read from are
		// (3, 0) and (2, 2); (1, 1), under (3, 0), is not one of them.
		{"inner node", `UPDATE merkle_nodes SET hash = zeroblob(32) WHERE level = 1 AND idx = 1`, "Merkle node level 1 index 1 is not the hash of its children"},
		{"missing node", `DELETE FROM merkle_nodes WHERE level = 2 AND idx = 1`, "Merkle node level 2 index 1 is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, tn := auditedCluster(t, 1, "e", 12)
			inconsistent := audits(t, tn, "inconsistent")
			if _, err := tn.s.ledger.sqlDB.Exec(tc.edit); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "the node reports the edit", func() bool {
				return errors.Is(tn.s.Ready(), ErrDiverged)
			})
			if st := tn.s.Status(); !strings.Contains(st.Diverged, "its stored ledger contradicts itself: "+tc.want) {
				t.Fatalf("status: %q, want it to say %q", st.Diverged, tc.want)
			}
			if n := audits(t, tn, "inconsistent") - inconsistent; n != 1 {
				t.Fatalf("inconsistent audits = %v", n)
			}
		})
	}
}

// auditedCluster boots n voters that audit every 50 ms, writes entries
// commands through the leader, and waits until every node holds them.
func auditedCluster(t *testing.T, n int, prefix string, entries int) (*testCluster, *testNode) {
	t.Helper()
	c := &testCluster{t: t, tune: fastRaft, auditInterval: 50 * time.Millisecond}
	c.boot(n)
	leader := mustLeader(t, c.nodes)
	writeN(t, leader.s, prefix, entries, 1)
	mustConverge(t, c.nodes, uint64(entries))
	return c, leader
}

// mustFindItselfWrong waits until tn's audit has found its ledger wrong.
func mustFindItselfWrong(t *testing.T, tn *testNode) {
	t.Helper()
	waitFor(t, 10*time.Second, tn.id+" finds its ledger wrong", func() bool {
		return errors.Is(tn.s.Ready(), ErrDiverged)
	})
}

func audits(t *testing.T, tn *testNode, outcome string) float64 {
	t.Helper()
	v, _ := metricValue(t, "pedigree_raftstore_tree_audits_total", map[string]string{"node": tn.id, "outcome": outcome})
	return v
}

// forgeEntry rewrites the entry at seq on tn, and its whole stored tree to
// match, as a forger who knows the format would: the node's ledger then
// agrees with itself, not with the others. It does so while the node is
// down, as an edit of a live file could land between two rounds of the
// node's own audit of its stored tree, which would then find the edit
// (rightly) rather than leave it to the comparison with the others.
func forgeEntry(t *testing.T, c *testCluster, tn *testNode, seq uint64) {
	t.Helper()
	c.kill(tn)
	_, db, err := openSQLite(filepath.Join(tn.dir, ledgerFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT e.seq, e.command_id, e.kind, e.actor, e.time, e.payload, e.accepted, e.code, e.message, e.data, e.raft_index, m.hash
		FROM ledger_entries e JOIN merkle_nodes m ON m.level = 0 AND m.idx = e.seq - 1 ORDER BY e.seq`)
	if err != nil {
		t.Fatal(err)
	}
	rng := rangeFactory.NewEmptyRange(0)
	var nodes [][3]any
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq == seq {
			e.Command.Actor = "forged"
		}
		if err := rng.Append(LeafHash(e.Seq, e.Command, e.Result), func(id compact.NodeID, h []byte) {
			nodes = append(nodes, [3]any{id.Level, id.Index, h})
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if rng.End() < seq {
		t.Fatalf("no entry %d to forge (%d entries)", seq, rng.End())
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`UPDATE ledger_entries SET actor = 'forged' WHERE seq = ?`, seq); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`DELETE FROM merkle_nodes`); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if _, err := tx.Exec(`INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)`, n[0], n[1], n[2]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	c.restart(tn)
}

// TestAFollowerWithAShorterTreeIsDivergedAndServesNoBackup: a follower
// that lost its last ledger entry, but not the Raft index it applied,
// holds a tree smaller than the leader's at the leader's index. The audit
// used to count that as skipped (its tree of the leader's size cannot be
// read) for ever; it is a difference: the follower says so for good and
// refuses backups, whose restore would start a cluster from a history
// the others never held.
func TestAFollowerWithAShorterTreeIsDivergedAndServesNoBackup(t *testing.T) {
	c, leader := auditedCluster(t, 3, "x", 5)
	h := leader.s.Head()
	f := followers(c.nodes, leader)[0]
	if _, err := f.s.Backup(testCtx(t)); err != nil {
		t.Fatalf("backup before the loss: %v", err)
	}

	// The last entry and every tree node over it go, while the node is
	// down; the rest of the tree (size-1 entries) stays whole, so the
	// node's ledger agrees with itself and only the size is wrong.
	c.kill(f)
	_, db, err := openSQLite(filepath.Join(f.dir, ledgerFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM ledger_entries WHERE seq = ?`, h.Size); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM merkle_nodes WHERE ((idx + 1) << level) > ?`, h.Size-1); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	c.restart(f)
	waitFor(t, 10*time.Second, "the follower with a shorter tree reports the difference", func() bool {
		return errors.Is(f.s.Ready(), ErrDiverged)
	})
	want := fmt.Sprintf("its tree holds %d entries where %s's holds %d", h.Size-1, leader.id, h.Size)
	if st := f.s.Status(); !strings.Contains(st.Diverged, want) {
		t.Fatalf("status: %q, want it to say %q", st.Diverged, want)
	}
	if b, err := f.s.Backup(testCtx(t)); !errors.Is(err, ErrDiverged) {
		if b != nil {
			b.Close()
		}
		t.Fatalf("backup of the diverged follower: %v, want ErrDiverged", err)
	}
	if left := leftovers(t, f.dir); len(left) > 0 {
		t.Fatalf("a refused backup left %v", left)
	}
	if _, err := leader.s.Backup(testCtx(t)); err != nil {
		t.Fatalf("the leader's backup: %v", err)
	}
}
