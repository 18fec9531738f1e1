package raftstore

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// A data directory may be named with characters that mean something in a
// SQLite URI ('?' starts its query, '#' its fragment, '%' an escape). The
// database, and the copies a snapshot and a restore make beside it, must
// still be the files inside it, not ones at a truncated path.
func TestLedgerFilesStayInADirectoryNamedWithURICharacters(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "node#1?mode=ro&x=%41")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ledger.db")
	l := mustOpenLedger(t, path)
	fsmApplier(t, l, time.Now)(orgCmd(t, "a", "alice"), orgCmd(t, "b", "bob"))
	size, root, _ := l.committed()

	f := mustSnapshotFile(t, l)
	restored := mustOpenLedger(t, filepath.Join(dir, "restored.db"))
	if err := restored.restore(f); err != nil {
		t.Fatal(err)
	}
	if gotSize, gotRoot, _ := restored.committed(); gotSize != size || !bytes.Equal(gotRoot, root) {
		t.Fatalf("restored tree %d %x, want %d %x", gotSize, gotRoot, size, root)
	}

	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the ledger is not at %s: %v", path, err)
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != filepath.Base(dir) {
			t.Errorf("%s appeared beside the data directory", e.Name())
		}
	}
}

// mustSnapshotFile is a snapshot of l's database as a follower receives
// it, removed when t ends.
func mustSnapshotFile(t *testing.T, l *ledger) *os.File {
	t.Helper()
	snap, err := l.vacuumCopy()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(snap) })
	f, err := os.Open(snap)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func mustOpenLedger(t *testing.T, path string) *ledger {
	t.Helper()
	l, err := openLedger(path, "node1", 0, 0, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.close() })
	return l
}

// TestASnapshotRestoresBesideBusyReaders: a follower installs a snapshot
// while readers hold all but one of the ledger's connections. The copy
// takes that one, and must give it back before the reload needs one, or
// Raft's FSM goroutine (and with it every apply and read index) waits for
// the readers.
func TestASnapshotRestoresBesideBusyReaders(t *testing.T) {
	dir := t.TempDir()
	src := mustOpenLedger(t, filepath.Join(dir, "src.db"))
	fsmApplier(t, src, time.Now)(orgCmd(t, "a", "alice"), orgCmd(t, "b", "bob"))
	size, root, _ := src.committed()
	f := mustSnapshotFile(t, src)

	l := mustOpenLedger(t, filepath.Join(dir, "ledger.db"))
	ctx := testCtx(t)
	for range maxSQLiteConns - 1 {
		conn, err := l.sqlDB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
	}
	done := make(chan error, 1)
	go func() { done <- l.restore(f) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the restore waited for the readers' connections")
	}
	if gotSize, gotRoot, _ := l.committed(); gotSize != size || !bytes.Equal(gotRoot, root) {
		t.Fatalf("restored tree %d %x, want %d %x", gotSize, gotRoot, size, root)
	}
}

// TestASnapshotAtRulesTooNewLeavesMemoryAsTheFile: a snapshot of a ledger
// at rules this binary lacks is refused (models.ErrRulesTooNew) after the
// copy has replaced the database; the node's view of the ledger (tree,
// applied index) must then be the file's, not the one before, so that
// nothing the node still does works from a ledger it no longer has.
func TestASnapshotAtRulesTooNewLeavesMemoryAsTheFile(t *testing.T) {
	dir := t.TempDir()
	next := models.RulesVersion + 1
	src, err := openLedger(filepath.Join(dir, "src.db"), "src", 0, next, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.close()
	adopt, err := models.NewCommand("adopt-next", models.KindAdoptRules, "", time.Time{}, models.AdoptRulesPayload{Version: next})
	if err != nil {
		t.Fatal(err)
	}
	fsmApplier(t, src, time.Now)(orgCmd(t, "a", "alice"), adopt, orgCmd(t, "b", "bob"))
	size, root, applied := src.committed()
	f := mustSnapshotFile(t, src)

	l := mustOpenLedger(t, filepath.Join(dir, "ledger.db"))
	if err := l.restore(f); !errors.Is(err, models.ErrRulesTooNew) {
		t.Fatalf("restore of a ledger at rules %d: %v, want ErrRulesTooNew", next, err)
	}
	if gotSize, gotRoot, gotApplied := l.committed(); gotSize != size || !bytes.Equal(gotRoot, root) || gotApplied != applied {
		t.Fatalf("after the refused restore the node sees tree %d %x applied %d; the file holds %d %x applied %d",
			gotSize, gotRoot, gotApplied, size, root, applied)
	}
}

// TestEveryConnectionLimitsTheWAL: every connection of the ledger's pool
// limits the WAL's size when SQLite starts it over, so the WAL a snapshot
// install grew to the ledger's size does not stay that size. (Showing the
// shrinking itself would take a ledger larger than the limit.)
func TestEveryConnectionLimitsTheWAL(t *testing.T) {
	l := mustOpenLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	ctx := testCtx(t)
	var conns []*sql.Conn
	for range maxSQLiteConns {
		conn, err := l.sqlDB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns = append(conns, conn)
	}
	for i, conn := range conns {
		var limit int64
		if err := conn.QueryRowContext(ctx, `PRAGMA journal_size_limit`).Scan(&limit); err != nil || limit != walSizeLimit {
			t.Fatalf("connection %d: journal_size_limit %d (%v), want %d", i, limit, err, walSizeLimit)
		}
	}
}

// TestTheVerifyIndexStandsAsideWhileASnapshotIsRestored: between a
// restore's copy and its reload the tables are the snapshot's and the
// verify index still the ledger's before. The index must answer nothing
// then, so each verification reads one ledger from SQLite; it answers
// again once reloaded, and after a restore that failed.
func TestTheVerifyIndexStandsAsideWhileASnapshotIsRestored(t *testing.T) {
	l, commission, verifyPack := mustPacksLedger(t)
	commission("commission", 0, 3)
	answers := func() bool {
		v, ok, err := l.index.Verify(verifyPack(0))
		if err != nil || ok && v.Verdict != models.VerdictAuthentic {
			t.Fatalf("the index's answer: %+v, %v", v, err)
		}
		return ok
	}
	if !answers() {
		t.Fatal("the premise: the index answers for a pack just commissioned")
	}

	var answeredInBetween bool
	l.testHookRestoreCopied = func() { answeredInBetween = answers() }
	if err := l.restore(mustSnapshotFile(t, l)); err != nil {
		t.Fatal(err)
	}
	if answeredInBetween {
		t.Fatal("the index answered between the copy and the reload")
	}
	if !answers() {
		t.Fatal("the index answers nothing after the restore")
	}

	if err := l.restore(strings.NewReader("not a database")); err == nil {
		t.Fatal("a restore of no database succeeded")
	}
	if !answers() {
		t.Fatal("the index answers nothing after a failed restore")
	}
}

// TestARestoreRefusesASnapshotItCannotReadBackBeforeTheCopy: what the
// reload reads after the copy (the tree, the applied index) is read from
// the snapshot first. A snapshot without its Merkle nodes used to be
// copied in and then fail, leaving the tables the snapshot's and memory
// (tree, applied index) the ledger's before: a pack committed after the
// snapshot verified unknown_serial while the head claimed it. It is now
// refused with the database untouched. A failure after the copy stops
// the node (a panic, as for an entry that cannot be stored) rather than
// go on with the two apart.
func TestARestoreRefusesASnapshotItCannotReadBackBeforeTheCopy(t *testing.T) {
	l, commission, verifyPack := mustPacksLedger(t)
	commission("before", 0, 3)
	snap := mustSnapshotFile(t, l)
	_, db, err := openSQLite(snap.Name())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM merkle_nodes`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	commission("after", 3, 6)
	size, root, applied := l.committed()

	if err := l.restore(snap); err == nil {
		t.Fatal("a snapshot without its Merkle tree was restored")
	}
	if s, r, a := l.committed(); s != size || !bytes.Equal(r, root) || a != applied {
		t.Fatalf("memory after the refusal: %d %x %d, was %d %x %d", s, r, a, size, root, applied)
	}
	var dbSize uint64
	if err := l.sqlDB.QueryRow(`SELECT COALESCE(MAX(seq), 0) FROM ledger_entries`).Scan(&dbSize); err != nil || dbSize != size {
		t.Fatalf("the database after the refusal holds %d entries (%v), memory %d", dbSize, err, size)
	}
	if v, err := models.Verify(l.db, verifyPack(4)); err != nil || v.Verdict != models.VerdictAuthentic {
		t.Fatalf("a pack committed after the snapshot: %+v, %v", v, err)
	}

	// A failure once the database holds the snapshot: while the node
	// starts, an error (Raft then tries an older snapshot, which makes the
	// two the same again); once Raft runs, the node stops.
	good := mustSnapshotFile(t, l)
	l.testHookRestoreCopied = func() {
		if _, err := l.sqlDB.Exec(`DROP TABLE IF EXISTS merkle_nodes`); err != nil {
			t.Fatal(err)
		}
	}
	f := newFSM(l)
	defer f.close()
	f.starting.Store(true)
	if err := f.Restore(io.NopCloser(good)); !errors.Is(err, errUnreadAfterCopy) {
		t.Fatalf("a restore that failed after its copy while starting: %v, want errUnreadAfterCopy", err)
	}
	f.starting.Store(false)
	if _, err := good.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a restore that failed after its copy went on")
		}
	}()
	_ = f.Restore(io.NopCloser(good))
}

// mustPacksLedger opens a ledger with a verify index, applied to directly
// (fsmApplier). commission applies a capture (id) commissioning packs
// from to to (captureMaker's), and verifyPack(j) is the verification of
// the j-th pack's scan (GTIN and serial).
func mustPacksLedger(t *testing.T) (l *ledger, commission func(id string, from, to int), verifyPack func(j int) models.VerifyRequest) {
	t.Helper()
	l, err := openLedger(filepath.Join(t.TempDir(), "ledger.db"), "node1", 100, 0, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.close() })
	apply := fsmApplier(t, l, time.Now)
	capture := captureMaker(t, apply)
	net, err := demo.New(1, 40, time.Now()) // captureMaker's network
	if err != nil {
		t.Fatal(err)
	}
	gtin := net.Products[0].GTIN
	commission = func(id string, from, to int) { apply(capture(id, from, to)) }
	verifyPack = func(j int) models.VerifyRequest {
		return models.VerifyRequest{Scan: gs1.ElementString{{AI: "01", Value: gtin}, {AI: "21", Value: randomisedSerial(j)}}}
	}
	return l, commission, verifyPack
}

// TestASnapshotRestoresAcrossPageSizes: a file keeps the page size it was
// made with, so a node installs snapshots of ledgers whose pages are
// larger or smaller than its own. The snapshot must arrive whole, the
// node's file keep its page size, and no copy stay behind.
func TestASnapshotRestoresAcrossPageSizes(t *testing.T) {
	for _, sizes := range [][2]int{{4096, 16384}, {16384, 4096}, {4096, 4096}} {
		from, to := sizes[0], sizes[1]
		t.Run(fmt.Sprintf("%d_to_%d", from, to), func(t *testing.T) {
			dir := t.TempDir()
			src := mustOpenLedgerWithPageSize(t, filepath.Join(dir, "src.db"), from)
			fsmApplier(t, src, time.Now)(orgCmd(t, "a", "alice"), orgCmd(t, "b", "bob"))
			f := mustSnapshotFile(t, src)

			l := mustOpenLedgerWithPageSize(t, filepath.Join(dir, ledgerFile), to)
			fsmApplier(t, l, time.Now)(orgCmd(t, "c", "carol"))
			// One copy of the snapshot at a time on disk: the received
			// one is gone once converted.
			var copies []string
			l.testHookRestoreCopied = func() { copies, _ = filepath.Glob(filepath.Join(dir, "restore-*.db")) }
			if err := l.restore(f); err != nil {
				t.Fatal(err)
			}
			if len(copies) != 1 {
				t.Errorf("copies of the snapshot on disk while it was installed: %q, want one", copies)
			}
			if got, _ := pageSize(l.sqlDB); got != to {
				t.Errorf("the node's pages after the restore: %d bytes, want %d", got, to)
			}
			// The same next entry makes the same tree on both.
			data, err := encodeEntry(logEntry{Op: opLedger, Cmds: []models.Command{orgCmd(t, "d", "dave")}})
			if err != nil {
				t.Fatal(err)
			}
			next := []*raft.Log{{Index: 3, Type: raft.LogCommand, Data: data}}
			for _, node := range []*ledger{src, l} {
				if res, ok := node.applyBatch(next)[0].([]models.Result); !ok || !res[0].Accepted {
					t.Fatalf("the entry after the restore: %+v", res)
				}
			}
			wantSize, wantRoot, _ := src.committed()
			if size, root, _ := l.committed(); size != wantSize || !bytes.Equal(root, wantRoot) {
				t.Errorf("restored tree %d %x, want %d %x", size, root, wantSize, wantRoot)
			}
			if got := mustStrings(t, l.sqlDB, `SELECT id FROM organisations ORDER BY id`); strings.Join(got, " ") != "alice bob dave" {
				t.Errorf("organisations after the restore: %q, want alice bob dave", got)
			}
			left, _ := filepath.Glob(filepath.Join(dir, "restore-*"))
			if len(left) > 0 {
				t.Errorf("the restore left %q", left)
			}
		})
	}
}

// mustOpenLedgerWithPageSize opens a ledger in a file made with pages of
// size bytes, as a node made by a binary of another page size holds.
func mustOpenLedgerWithPageSize(t *testing.T, path string, size int) *ledger {
	t.Helper()
	if err := createWithPageSize(path, size); err != nil {
		t.Fatal(err)
	}
	return mustOpenLedger(t, path)
}

// TestANewLedgerHasLargePages: a ledger file made now has pages of
// ledgerPageSize, and so do the snapshots copied from it; a file made
// with SQLite's default pages, as ledgers were before, opens and keeps
// them.
func TestANewLedgerHasLargePages(t *testing.T) {
	l := mustOpenLedger(t, filepath.Join(t.TempDir(), ledgerFile))
	if got, err := pageSize(l.sqlDB); got != ledgerPageSize {
		t.Errorf("a new ledger's pages: %d bytes (%v), want %d", got, err, ledgerPageSize)
	}
	var mode string
	if err := l.sqlDB.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal mode %q (%v), want wal", mode, err)
	}
	copied, err := l.vacuumCopy()
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(copied)
	if got, err := pageSize(mustOpenCopy(t, copied)); got != ledgerPageSize {
		t.Errorf("a snapshot's pages: %d bytes (%v), want %d", got, err, ledgerPageSize)
	}
	old := mustOpenLedgerWithPageSize(t, filepath.Join(t.TempDir(), ledgerFile), 4096)
	if got, err := pageSize(old.sqlDB); got != 4096 {
		t.Errorf("a ledger made with 4 KiB pages opens with %d (%v)", got, err)
	}
	// An empty file (a start stopped before the file was written) holds
	// no database yet.
	empty := filepath.Join(t.TempDir(), ledgerFile)
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := pageSize(mustOpenLedger(t, empty).sqlDB); got != ledgerPageSize {
		t.Errorf("a ledger opened on an empty file has %d-byte pages (%v), want %d", got, err, ledgerPageSize)
	}
}
