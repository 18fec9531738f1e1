package raftstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"hash/crc64"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// A snapshotDamage spoils the newer snapshot's data (state.bin) in dir.
type snapshotDamage func(t *testing.T, dir string)

// flipAByte spoils the data under its checksum: the snapshot store
// refuses to open it.
func flipAByte(t *testing.T, dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "state.bin"))
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(filepath.Join(dir, "state.bin"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// notADatabase replaces the data and its checksum: the snapshot opens,
// and the ledger refuses to restore it.
func notADatabase(t *testing.T, dir string) {
	rewriteSnapshot(t, dir, []byte("not a database"))
}

// unreadableProjection adds to the snapshot's database a product whose
// signed flag is not a truth value: what a restore reads first (the tree,
// the applied index) reads, and the reload after the copy (the verify
// index's products) fails.
func unreadableProjection(t *testing.T, dir string) {
	path := filepath.Join(t.TempDir(), "state.db")
	data, err := os.ReadFile(filepath.Join(dir, "state.bin"))
	if err == nil {
		err = os.WriteFile(path, data, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	_, db, err := openSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`INSERT INTO products (gtin, name, manufacturer, signed, seq, record_time) VALUES ('09506000134352', 'x', 'm', 'maybe', 1, '2026-01-01')`)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		t.Fatal(err)
	}
	rewriteSnapshot(t, dir, data)
}

// rewriteSnapshot replaces a snapshot's data, and its size and checksum,
// so that the snapshot store opens it.
func rewriteSnapshot(t *testing.T, dir string, data []byte) {
	var meta map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err == nil {
		err = json.Unmarshal(b, &meta)
	}
	if err != nil {
		t.Fatal(err)
	}
	h := crc64.New(crc64.MakeTable(crc64.ECMA))
	h.Write(data)
	meta["CRC"], meta["Size"] = h.Sum(nil), len(data)
	if b, err = json.Marshal(meta); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.bin"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// twoSnapshots starts one node that keeps trailing log entries behind a
// snapshot, writes, snapshots, writes 20 more entries and snapshots again.
// It stops the node, loses its database, and damages the newer snapshot,
// so that a start must restore and cannot restore the newer one. It
// returns the node, its head before the stop, and the damaged snapshot's
// directory with a copy of it as it was.
func twoSnapshots(t *testing.T, trailing uint64, damage snapshotDamage) (c *testCluster, tn *testNode, head Head, damaged, was string) {
	t.Helper()
	c = mustCluster(t, 1, func(rc *raft.Config) {
		fastRaft(rc)
		rc.SnapshotThreshold = 1 << 30 // only the test snapshots
		rc.SnapshotInterval = time.Hour
		rc.TrailingLogs = trailing
	})
	tn = c.nodes[0]
	writeN(t, tn.s, "a", 10, 1)
	if err := tn.s.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	writeN(t, tn.s, "b", 20, 1)
	f := tn.s.raft.Snapshot()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	meta, rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	head = tn.s.Head()
	c.kill(tn)
	for _, name := range []string{ledgerFile, ledgerFile + "-wal", ledgerFile + "-shm"} {
		if err := os.Remove(filepath.Join(tn.dir, name)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	damaged = filepath.Join(tn.dir, snapshotsDir, meta.ID)
	was = filepath.Join(t.TempDir(), "was")
	if err := os.CopyFS(was, os.DirFS(damaged)); err != nil {
		t.Fatal(err)
	}
	damage(t, damaged)
	return c, tn, head, damaged, was
}

// TestADamagedSnapshotFallsBackToAnOlderOneTheLogContinues: a node whose
// database is lost and whose newest snapshot is damaged restores the
// older one and replays the log after it, to the same tree.
func TestADamagedSnapshotFallsBackToAnOlderOneTheLogContinues(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage snapshotDamage
	}{
		{"not a database", notADatabase},
		// Copied in before the failure: the older snapshot's restore
		// makes the database and memory the same again.
		{"an unreadable projection", unreadableProjection},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, tn, head, _, _ := twoSnapshots(t, 1000, tc.damage)
			c.restart(tn)
			mustLeader(t, c.nodes)
			waitFor(t, 10*time.Second, "the node replays its log", func() bool { return tn.s.Head().Size == head.Size })
			if got := tn.s.Head(); !bytes.Equal(got.Root, head.Root) {
				t.Fatalf("root %x after the fallback, want %x", got.Root, head.Root)
			}
			if tn.s.ledger.restores.Load() != 1 {
				t.Fatalf("%d snapshot restores, want the older snapshot's one", tn.s.ledger.restores.Load())
			}
		})
	}
}

// TestANodeRefusesAnOlderSnapshotTheLogNoLongerContinues: when the newer
// snapshot compacted the log past the older one, falling back to the
// older one would leave a gap (Raft panicked reading it). The node
// refuses to start, says why, and loses nothing: with the damage
// repaired, it starts.
func TestANodeRefusesAnOlderSnapshotTheLogNoLongerContinues(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage snapshotDamage
		says   string
	}{
		{"a byte flipped", flipAByte, "open snapshot"},
		{"not a database", notADatabase, "restore snapshot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, tn, head, damaged, was := twoSnapshots(t, 5, tc.damage)
			ln, err := net.Listen("tcp", tn.addr)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Open(c.config(tn, ln, false))
			if err == nil {
				s.Close()
				t.Fatal("the node started from a snapshot the log does not continue")
			}
			ln.Close()
			if !errors.Is(err, errNoUsableSnapshot) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %q does not say which snapshot failed and why", err)
			}
			if err := os.RemoveAll(damaged); err != nil {
				t.Fatal(err)
			}
			if err := os.CopyFS(damaged, os.DirFS(was)); err != nil {
				t.Fatal(err)
			}
			c.restart(tn)
			mustLeader(t, c.nodes)
			if got := tn.s.Head(); got.Size != head.Size || !bytes.Equal(got.Root, head.Root) {
				t.Fatalf("tree %d %x after the repair, want %d %x", got.Size, got.Root, head.Size, head.Root)
			}
		})
	}
}

// mustRefuseToOpen opens tn's directory, which must fail with
// errNoUsableSnapshot: not start, and not panic.
func mustRefuseToOpen(t *testing.T, c *testCluster, tn *testNode) {
	t.Helper()
	ln, err := net.Listen("tcp", tn.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Open panicked: %v", r)
		}
	}()
	s, err := Open(c.config(tn, ln, false))
	if err == nil {
		s.Close()
		t.Fatal("the node started from a snapshot its log does not continue")
	}
	if !errors.Is(err, errNoUsableSnapshot) {
		t.Fatalf("error %q, want errNoUsableSnapshot", err)
	}
}

// TestAnOlderSnapshotIsNotUsedAcrossAnInstallsGap: a follower that
// installs the leader's snapshot keeps its own older snapshot and the
// entries around it, and appends after the installed one: its log jumps
// over the entries up to it. Lost its database and damaged the installed
// snapshot, it must refuse to start, not fall back and panic on the gap.
func TestAnOlderSnapshotIsNotUsedAcrossAnInstallsGap(t *testing.T) {
	c := mustCluster(t, 3, func(rc *raft.Config) {
		fastRaft(rc)
		rc.SnapshotThreshold = 1 << 30 // only the test snapshots
		rc.SnapshotInterval = time.Hour
		rc.TrailingLogs = 5
	})
	leader := mustLeader(t, c.nodes)
	f := followers(c.nodes, leader)[0]
	writeN(t, leader.s, "a", 20, 1)
	mustConverge(t, c.nodes, 20)
	if err := f.s.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	// The follower's log goes on past its snapshot, by one write: the
	// install below keeps only its last TrailingLogs (5) entries, which
	// must reach back to the entry after that snapshot, whatever else
	// (a new term's no-op, an announcement) lands meanwhile.
	writeN(t, leader.s, "a2", 1, 1)
	mustConverge(t, c.nodes, 21)
	c.kill(f)
	writeN(t, leader.s, "b", 100, 1)
	if err := leader.s.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	c.restart(f)
	waitFor(t, 20*time.Second, "the follower installs the leader's snapshot", func() bool { return f.s.ledger.restores.Load() > 0 })
	writeN(t, leader.s, "c", 10, 1)
	mustConverge(t, c.nodes, 131)
	files, err := raft.NewFileSnapshotStore(f.dir, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	list, err := files.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("the follower's snapshots: %v, %v", list, err)
	}
	var entry raft.Log
	if err := f.s.bolt.GetLog(list[1].Index+1, &entry); err != nil {
		t.Fatalf("the premise: the log holds the entry after the older snapshot (%d): %v", list[1].Index, err)
	}
	c.kill(f)
	for _, name := range []string{ledgerFile, ledgerFile + "-wal", ledgerFile + "-shm"} {
		if err := os.Remove(filepath.Join(f.dir, name)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	notADatabase(t, filepath.Join(f.dir, snapshotsDir, list[0].ID))
	mustRefuseToOpen(t, c, f)
}
