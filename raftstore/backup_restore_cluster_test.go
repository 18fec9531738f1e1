package raftstore

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"

	"github.com/pedigree-ledger/pedigree/models"
)

// TestBackupFromAFollowerRestoresIntoANewCluster: a follower of a
// three-node cluster under writes backs up at linearizable consistency;
// the backup holds every write acknowledged before it began and is a
// prefix of the cluster's history. Restored into a fresh node it gives
// the same tree (size and root) and the same projection; a command it
// holds, sent again, gets its first answer; the node restarts from its
// data directory; two fresh nodes join and catch up from a snapshot; and
// writes after the restore extend the backup's tree (a consistency proof
// from the backup's size verifies).
func TestBackupFromAFollowerRestoresIntoANewCluster(t *testing.T) {
	c := mustCluster(t, 3, nil)
	leader := mustLeader(t, c.nodes)
	capture := captureMaker(t, func(cmds ...models.Command) {
		for _, cmd := range cmds {
			if res := mustPropose(t, leader.s, cmd); !res[0].Accepted {
				t.Fatalf("%s rejected: %s", cmd.Kind, res[0].Message)
			}
		}
	})
	const perCapture = 5
	command := func(i int) models.Command {
		return capture(fmt.Sprintf("w%d", i), i*perCapture, (i+1)*perCapture)
	}

	// Writers go through every node, before, during and after the backup.
	var mu sync.Mutex
	var acked []string
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			res, err := c.nodes[i%len(c.nodes)].s.Propose(ctx, command(i))
			cancel()
			if err != nil || !res[0].Accepted {
				t.Errorf("write %d: %v %+v", i, err, res)
				return
			}
			mu.Lock()
			acked = append(acked, fmt.Sprintf("w%d", i))
			mu.Unlock()
		}
	}()
	ackedNow := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(acked)
	}
	waitFor(t, 30*time.Second, "writes under way", func() bool { return len(ackedNow()) >= 20 })

	follower := followers(c.nodes, leader)[0]
	before := ackedNow()
	if _, err := follower.s.Read(testCtx(t), Linearizable); err != nil {
		t.Fatalf("linearizable read on %s: %v", follower.id, err)
	}
	b, err := follower.s.Backup(testCtx(t))
	if err != nil {
		t.Fatalf("backup on %s: %v", follower.id, err)
	}
	file := filepath.Join(t.TempDir(), "backup.db")
	mustWriteBackup(t, b, file)
	waitFor(t, 30*time.Second, "writes after the backup", func() bool { return len(ackedNow()) >= len(before)+10 })
	close(stop)
	<-done

	info, err := VerifyBackup(file)
	if err != nil {
		t.Fatalf("verify the backup: %v", err)
	}
	if info.Size != b.Size || !bytes.Equal(info.Root, b.Root) || info.Applied != b.Applied {
		t.Fatalf("the backup holds %+v, its head said %+v", info, b.BackupInfo)
	}
	backupDB := mustOpenCopy(t, file)
	for _, id := range before {
		var n int
		if err := backupDB.QueryRow(`SELECT COUNT(*) FROM ledger_entries WHERE command_id = ?`, id).Scan(&n); err != nil || n != 1 {
			t.Fatalf("write %s, acknowledged before the backup began, is not in it (%v)", id, err)
		}
	}
	// A prefix of the cluster's history, which has grown since.
	old := mustConverge(t, c.nodes, info.Size+1)
	p, err := leader.s.ConsistencyProof(info.Size, old.Size)
	if err != nil || !bytes.Equal(p.FirstRoot, info.Root) {
		t.Fatalf("the cluster's tree at the backup's size %d is not the backup's: %v", info.Size, err)
	}

	// Restore into a fresh node: a new one-node cluster.
	rc := &testCluster{t: t}
	r0 := mustRestoredNode(t, rc, "r0", file, info)
	t.Cleanup(func() {
		for _, tn := range rc.nodes {
			if tn.s != nil {
				tn.s.Close()
			}
		}
	})
	mustLeader(t, rc.nodes)
	if h := r0.s.Head(); h.Size != info.Size || !bytes.Equal(h.Root, info.Root) {
		t.Fatalf("restored head %d %x, backup %d %x", h.Size, h.Root, info.Size, info.Root)
	}
	mustSameTables(t, backupDB, r0.s.ledger.sqlDB, "the restored node")
	// Commands sent again, at once: one the backup holds gets its first
	// answer and changes nothing; one acknowledged after the backup is
	// applied anew. (Sent before anything else the new cluster does, so
	// an entry numbered within the backup's Raft index would be skipped.)
	first, err := r0.s.EntryByID(before[0])
	if err != nil {
		t.Fatal(err)
	}
	if res := mustPropose(t, r0.s, command(0)); res[0].Seq != first.Seq || r0.s.Head().Size != info.Size {
		t.Fatalf("%s sent again: seq %d (first %d), tree %d (backup %d)", before[0], res[0].Seq, first.Seq, r0.s.Head().Size, info.Size)
	}
	lost := slices.Index(ackedNow(), before[len(before)-1]) + 1
	for ; lost < len(ackedNow()); lost++ {
		if _, err := r0.s.EntryByID(ackedNow()[lost]); err != nil {
			break // the first write not in the backup
		}
	}
	if res := mustPropose(t, r0.s, command(lost)); !res[0].Accepted || res[0].Seq != info.Size+1 {
		t.Fatalf("w%d, lost with the old cluster, sent again: %+v", lost, res[0])
	}

	// The old cluster's listing is gone; the new one lists the new node.
	waitFor(t, 10*time.Second, "the restored node listing itself alone", func() bool {
		var listed int
		ns, err := r0.s.Nodes()
		return err == nil && len(ns) == 1 && ns[0].ID == "r0" && ns[0].PublicKey != "" &&
			r0.s.ledger.sqlDB.QueryRow(`SELECT COUNT(*) FROM cluster_nodes`).Scan(&listed) == nil && listed == 1
	})

	// The restored node restarts from its data directory.
	rc.kill(r0)
	rc.restart(r0)
	mustLeader(t, rc.nodes)
	if h := r0.s.Head(); h.Size != info.Size+1 {
		t.Fatalf("restarted restored node: tree %d, want %d", h.Size, info.Size+1)
	}

	// Two fresh nodes join and catch up from the restored snapshot.
	for _, id := range []string{"r1", "r2"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tn := &testNode{id: id, dir: filepath.Join(t.TempDir(), id), addr: ln.Addr().String(), net: newFaultNet()}
		rc.nodes = append(rc.nodes, tn)
		rc.start(tn, ln, false)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err = r0.s.Join(ctx, tn.s.Info(), true)
		cancel()
		if err != nil {
			t.Fatalf("join %s: %v", id, err)
		}
	}
	mustConverge(t, rc.nodes, info.Size+1)
	for _, tn := range rc.nodes[1:] {
		if tn.s.ledger.restores.Load() == 0 {
			t.Fatalf("%s caught up without the restored snapshot", tn.id)
		}
		mustSameTables(t, r0.s.ledger.sqlDB, tn.s.ledger.sqlDB, tn.id)
	}

	// New writes, through a joined node, extend the backup's tree.
	for i := 0; i < 5; i++ {
		mustPropose(t, rc.nodes[2].s, orgCmd(t, fmt.Sprintf("after-%d", i), fmt.Sprintf("after-%d", i)))
	}
	h := mustConverge(t, rc.nodes, info.Size+6)
	cp, err := rc.nodes[1].s.ConsistencyProof(info.Size, h.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.VerifyConsistency(hasher, info.Size, h.Size, cp.Hashes, info.Root, h.Root); err != nil {
		t.Fatalf("consistency proof from the backup's tree (%d) to the restored cluster's (%d): %v", info.Size, h.Size, err)
	}
	ns, err := rc.nodes[2].s.Nodes()
	if err != nil || len(ns) != 3 || !ns[0].Voter || !ns[1].Voter || !ns[2].Voter {
		t.Fatalf("restored cluster's members: %+v %v", ns, err)
	}
}

// mustRestoredNode restores file into a new node of rc and checks it holds
// want.
func mustRestoredNode(t testing.TB, rc *testCluster, id, file string, want BackupInfo) *testNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNode{id: id, dir: filepath.Join(t.TempDir(), id), addr: ln.Addr().String(), net: newFaultNet()}
	s, got, err := OpenRestored(rc.config(tn, ln, true), file)
	if err != nil {
		ln.Close()
		t.Fatalf("restore into %s: %v", id, err)
	}
	tn.s = s
	rc.nodes = append(rc.nodes, tn)
	if got.Size != want.Size || !bytes.Equal(got.Root, want.Root) || got.Applied != want.Applied {
		t.Fatalf("restore says it restored %+v, the backup holds %+v", got, want)
	}
	return tn
}

// mustSameTables checks that every table of want but the cluster's own
// bookkeeping (its node listing and applied index) holds as many rows in
// got, and that want holds packs and events.
func mustSameTables(t testing.TB, want, got *sql.DB, what string) {
	t.Helper()
	tables := mustStrings(t, want, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
		AND name NOT IN ('cluster_nodes', 'raftstore_meta') ORDER BY name`)
	counts := map[string]int64{}
	for _, table := range tables {
		var w, g int64
		q := fmt.Sprintf(`SELECT COUNT(*) FROM %q`, table)
		if err := want.QueryRow(q).Scan(&w); err != nil {
			t.Fatal(err)
		}
		if err := got.QueryRow(q).Scan(&g); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if w != g {
			t.Fatalf("%s: table %s holds %d rows, want %d", what, table, g, w)
		}
		counts[table] = w
	}
	if counts["items"] == 0 || counts["event_records"] == 0 || counts["ledger_entries"] == 0 {
		t.Fatalf("%s: no packs, events or entries to compare (%v): the test proves little", what, counts)
	}
}
