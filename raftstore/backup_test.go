package raftstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// mustBackupFile writes a backup of s to a new file and returns its path.
func mustBackupFile(t testing.TB, s *Store) (string, BackupInfo) {
	t.Helper()
	b, err := s.Backup(testCtx(t))
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	info := b.BackupInfo
	path := filepath.Join(t.TempDir(), "backup.db")
	mustWriteBackup(t, b, path)
	return path, info
}

// copyFile copies src to a new file dst.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// mustWriteBackup streams b to a new file and closes b.
func mustWriteBackup(t testing.TB, b *Backup, path string) {
	t.Helper()
	defer b.Close()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(f, b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil || n != b.Bytes {
		t.Fatalf("write backup: %d of %d bytes: %v", n, b.Bytes, err)
	}
}

func mustOpenCopy(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := openCopy(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestBackupHoldsTheHeadItReports: a backup's tree head is the node's,
// read from the copy, and VerifyBackup finds the same in the file.
func TestBackupHoldsTheHeadItReports(t *testing.T) {
	s := mustSingle(t)
	writeN(t, s, "o", 11, 3)
	head := s.Head()
	path, info := mustBackupFile(t, s)
	if info.Size != head.Size || !bytes.Equal(info.Root, head.Root) || info.Applied == 0 {
		t.Fatalf("backup head %d %x (applied %d), node %d %x", info.Size, info.Root, info.Applied, head.Size, head.Root)
	}
	got, err := VerifyBackup(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Size != info.Size || !bytes.Equal(got.Root, info.Root) || got.Applied != info.Applied {
		t.Fatalf("VerifyBackup %+v, Backup %+v", got, info)
	}
}

// TestVerifyBackupFindsEveryKindOfDamage: a backup whose entries, leaves,
// inner nodes or bookkeeping were edited, or whose file was cut short, is
// refused with ErrBadBackup; so a backup that passes holds exactly the
// tree of its entries.
func TestVerifyBackupFindsEveryKindOfDamage(t *testing.T) {
	s := mustSingle(t)
	writeN(t, s, "o", 11, 1) // 11 entries: inner nodes up to level 3
	good, _ := mustBackupFile(t, s)
	if _, err := VerifyBackup(good); err != nil {
		t.Fatalf("the intact backup: %v", err)
	}
	for name, edit := range map[string]string{
		"entry payload edited":  `UPDATE ledger_entries SET payload = CAST('{"id":"mallory"}' AS BLOB) WHERE seq = 3`,
		"entry verdict flipped": `UPDATE ledger_entries SET accepted = 1 - accepted WHERE seq = 5`,
		"entry time edited":     `UPDATE ledger_entries SET time = '2000-01-01T00:00:00Z' WHERE seq = 7`,
		"leaf edited":           `UPDATE merkle_nodes SET hash = zeroblob(32) WHERE level = 0 AND idx = 10`,
		"inner node edited":     `UPDATE merkle_nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 1`,
		"top node edited":       `UPDATE merkle_nodes SET hash = zeroblob(32) WHERE level = 3 AND idx = 0`,
		"inner node missing":    `DELETE FROM merkle_nodes WHERE level = 1 AND idx = 4`,
		"extra node":            `INSERT INTO merkle_nodes (level, idx, hash) VALUES (4, 0, zeroblob(32))`,
		"last entry dropped":    `DELETE FROM ledger_entries WHERE seq = 11`,
		"entry renumbered":      `UPDATE ledger_entries SET seq = 12 WHERE seq = 11`,
		"no applied index":      `DELETE FROM raftstore_meta`,
		"no tree":               `DROP TABLE merkle_nodes`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "damaged.db")
			copyFile(t, good, path)
			_, db, err := openSQLiteDSN(path, sqliteFileURI(path)+"?_journal_mode=DELETE")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(edit); err != nil {
				t.Fatal(err)
			}
			db.Close()
			if _, err := VerifyBackup(path); !errors.Is(err, ErrBadBackup) {
				t.Fatalf("VerifyBackup = %v, want ErrBadBackup", err)
			}
		})
	}
	t.Run("cut short", func(t *testing.T) {
		data, err := os.ReadFile(good)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "cut.db")
		if err := os.WriteFile(path, data[:len(data)/2], 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyBackup(path); !errors.Is(err, ErrBadBackup) {
			t.Fatalf("VerifyBackup = %v, want ErrBadBackup", err)
		}
	})
	t.Run("not SQLite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "text.db")
		if err := os.WriteFile(path, []byte(`{"error":{"code":"forbidden"}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyBackup(path); !errors.Is(err, ErrBadBackup) {
			t.Fatalf("VerifyBackup = %v, want ErrBadBackup", err)
		}
	})
}

// TestBackupsBesideSnapshotsAndWrites: backups taken at once, while the
// node writes and snapshots (which copy the database the same way), all
// hold sound ledgers; none leaves a file behind, not even while it is
// being read, nor when its context ends before the copy is made; and a
// copy left by a process that died is removed when the node opens.
func TestBackupsBesideSnapshotsAndWrites(t *testing.T) {
	c := mustCluster(t, 1, snapshotOften)
	tn := c.nodes[0]
	s := tn.s
	writeN(t, s, "seed", 20, 5)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // writes
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			if _, err := s.Propose(ctx, orgCmd(t, fmt.Sprintf("w%d", i), fmt.Sprintf("w%d", i))); err != nil && ctx.Err() == nil {
				t.Errorf("write: %v", err)
				return
			}
		}
	}()
	go func() { // snapshots, beside Raft's own
		defer wg.Done()
		for ctx.Err() == nil {
			if err := s.Snapshot(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) && ctx.Err() == nil {
				t.Errorf("snapshot: %v", err)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()

	const backups = 4
	errs := make(chan error, backups*3)
	var bwg sync.WaitGroup
	for i := 0; i < backups; i++ {
		bwg.Add(1)
		go func() {
			defer bwg.Done()
			for j := 0; j < 3; j++ {
				b, err := s.Backup(ctx)
				if err != nil {
					errs <- err
					return
				}
				path := filepath.Join(t.TempDir(), "b.db")
				f, err := os.Create(path)
				if err != nil {
					errs <- err
					return
				}
				_, err = io.Copy(f, b)
				f.Close()
				b.Close()
				if err != nil {
					errs <- err
					return
				}
				info, err := VerifyBackup(path)
				if err != nil {
					errs <- err
					return
				}
				if info.Size != b.Size || !bytes.Equal(info.Root, b.Root) {
					errs <- fmt.Errorf("backup holds %d %x, said %d %x", info.Size, info.Root, b.Size, b.Root)
				}
			}
		}()
	}
	bwg.Wait()
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Unlinked once made: a reader that never finishes, or a process
	// that dies while one reads, leaves nothing behind.
	b, err := s.Backup(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, tn.dir); len(left) > 0 {
		t.Errorf("a backup being read is on disk: %v", left)
	}
	if _, err := io.CopyN(io.Discard, b, b.Bytes); err != nil {
		t.Errorf("read the unlinked copy: %v", err)
	}
	b.Close()

	done, stop := context.WithCancel(context.Background())
	stop()
	if _, err := s.Backup(done); !errors.Is(err, ErrTimeout) {
		t.Errorf("backup with its context ended: %v, want ErrTimeout", err)
	}
	if left := leftovers(t, tn.dir); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}

	// A copy a dead process left is removed at the next open.
	c.kill(tn)
	stale := filepath.Join(tn.dir, backupTempPrefix+"123456")
	if err := os.Mkdir(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "ledger.db"), []byte("half a copy"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.restart(tn)
	if left := leftovers(t, tn.dir); len(left) > 0 {
		t.Errorf("after a restart: %v", left)
	}
}

// leftovers lists backup copies in a data directory.
func leftovers(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, backupTempPrefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestOpenRemovesOnlyItsOwnStaleCopies: Open removes the copies of the
// database a dead process left (its backups' directories, a snapshot's
// copy, a received snapshot), and nothing else: not an operator's file
// or directory named like a backup (a restore reads one from the data
// directory), nor a file under the copies' own prefix.
func TestOpenRemovesOnlyItsOwnStaleCopies(t *testing.T) {
	src := mustSingle(t)
	writeN(t, src, "b", 5, 1)
	file, _ := mustBackupFile(t, src)
	dir := filepath.Join(t.TempDir(), "node")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(dir, "backup-2026-11-22.db")
	copyFile(t, file, kept)
	notACopy := filepath.Join(dir, backupTempPrefix+"notes.txt")
	if err := os.WriteFile(notACopy, []byte("mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keptDir := filepath.Join(dir, "backup-2026-11")
	if err := os.Mkdir(keptDir, 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, file, filepath.Join(keptDir, "ledger.db"))
	s, err := restoreInto(t, dir, kept)
	if err != nil {
		t.Fatal(err)
	}
	addr := s.RaftAddr()
	s.Close()
	stale := filepath.Join(dir, backupTempPrefix+"123456")
	if err := os.Mkdir(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "ledger.db"), []byte("half a copy"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A snapshot's copy and a received snapshot, with SQLite's files.
	var staleFiles []string
	for _, name := range []string{"snapshot-123.db", "restore-456.db", "restore-456.db-wal", "restore-456.db-shm"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("half a copy"), 0o600); err != nil {
			t.Fatal(err)
		}
		staleFiles = append(staleFiles, path)
	}
	snapshotLike := filepath.Join(dir, "snapshot-of-tuesday")
	if err := os.Mkdir(snapshotLike, 0o700); err != nil {
		t.Fatal(err)
	}

	rc := &testCluster{t: t}
	s, err = Open(rc.config(&testNode{id: "r0", dir: dir, net: newFaultNet()}, mustListenAt(t, addr), false))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range []string{kept, notACopy, filepath.Join(keptDir, "ledger.db"), snapshotLike} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s after a restore and a restart: %v", filepath.Base(p), err)
		}
	}
	for _, p := range append(staleFiles, stale) {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the stale copy %s after a restart: %v", filepath.Base(p), err)
		}
	}
}
