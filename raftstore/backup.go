package raftstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"time"

	"github.com/transparency-dev/merkle/compact"
)

// Backups. A backup is what a snapshot is: a VACUUM INTO copy of the
// node's SQLite database, which holds the ledger entries, the Merkle tree,
// the projection (idempotency by command id included: it is the ledger
// table's unique command_id) and the Raft index of the last entry applied.
// The copy is one SQLite read transaction, so it is consistent whatever
// the FSM commits meanwhile, and its tree head is read from the copy
// itself, never from the live ledger, so the head given with a backup is
// the one it holds.
//
// A backup is a prefix of the ledger's history. Restoring it (restore.go)
// makes a new cluster whose tree extends that prefix; what was committed
// after the backup is not in it.

// BackupInfo is the ledger a backup holds.
type BackupInfo struct {
	// Size is the tree size: how many ledger entries the backup holds.
	Size uint64
	// Root is the Merkle root of the tree of Size entries.
	Root []byte
	// Applied is the Raft index of the last log entry applied to the copy
	// in the cluster it came from.
	Applied uint64
}

// Backup is a consistent copy of a node's database, open for reading.
// Close it: that releases the copy's disk space.
type Backup struct {
	BackupInfo
	// Bytes is the copy's length.
	Bytes int64
	f     *os.File
	dir   string // the copy's temporary directory, "" once removed
}

// Read reads the copy.
func (b *Backup) Read(p []byte) (int, error) { return b.f.Read(p) }

// Close closes the copy and removes it if it is still on disk.
func (b *Backup) Close() error {
	err := b.f.Close()
	if b.dir != "" {
		if rerr := os.RemoveAll(b.dir); rerr != nil && err == nil {
			err = rerr
		}
		b.dir = ""
	}
	return err
}

// backupTempPrefix names the temporary directories backups copy into,
// inside the data directory (the same disk as the database: a copy can be
// as large, and the system's temporary directory may be memory). Open
// removes what a dead process left under this prefix, so it is one no
// operator would choose for a file of their own (a backup kept beside
// the ledger, say).
const backupTempPrefix = ".pedigree-backup-tmp-"

// Backup makes a consistent copy of this node's database. It holds what
// this node has applied when the copy starts: read at Leader or
// Linearizable consistency first (Read) for a copy that holds every write
// acknowledged before. Copies are made one at a time (each reads the whole
// database and writes as much); a second waits for the first copy to be
// made, not read, within ctx. Ending ctx interrupts the copy.
//
// A node the tree audit found diverged (Ready's ErrDiverged) refuses with
// that error: its ledger is not the cluster's, and a restore of it would
// start a cluster from a history the others never held.
func (s *Store) Backup(ctx context.Context) (*Backup, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if d := s.diverged.Load(); d != nil {
		return nil, fmt.Errorf("backup: %w", d)
	}
	select {
	case s.backupSlot <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for another backup's copy: %v", ErrTimeout, ctx.Err())
	case <-s.done:
		return nil, ErrClosed
	}
	defer func() { <-s.backupSlot }()
	start := time.Now()
	b, err := s.ledger.backup(ctx)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("%w: %v (%v)", ErrTimeout, ctx.Err(), err)
	}
	if d := s.diverged.Load(); err == nil && d != nil { // found while copying
		b.Close()
		return nil, fmt.Errorf("backup: %w", d)
	}
	if err == nil {
		s.log.Info("backup copied", "tree_size", b.Size, "raft_index", b.Applied, "bytes", b.Bytes, "duration", time.Since(start))
	}
	return b, err
}

func (l *ledger) backup(ctx context.Context) (*Backup, error) {
	// A directory of its own: VACUUM INTO creates the file itself, and a
	// name reserved and freed in a shared directory could be taken by a
	// concurrent snapshot's copy in between.
	dir, err := os.MkdirTemp(filepath.Dir(l.path), backupTempPrefix)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	path := filepath.Join(dir, "ledger.db")
	if _, err := l.sqlDB.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("backup: copy the database: %w", err)
	}
	info, err := readBackupInfo(path)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("backup: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("backup: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("backup: %w", err)
	}
	b := &Backup{BackupInfo: info, Bytes: st.Size(), f: f, dir: dir}
	// Unlinked now: the open file stays readable to its end, and nothing
	// is left behind if the process dies while a client reads it. Where
	// an open file cannot be removed, Close removes it.
	if os.RemoveAll(dir) == nil {
		b.dir = ""
	}
	return b, nil
}

// removeStaleCopies removes the copies of the database a previous process
// was making when it stopped: a backup's (a directory), a snapshot's
// (vacuumCopy) and a received snapshot's (ledger.restore), each the size
// of the ledger. Open calls it before anything can make one.
func removeStaleCopies(dataDir string) {
	dirs, _ := filepath.Glob(filepath.Join(dataDir, backupTempPrefix+"*"))
	for _, d := range dirs {
		// Only directories: a file under the prefix is not a backup's.
		if st, err := os.Lstat(d); err == nil && st.IsDir() {
			os.RemoveAll(d)
		}
	}
	for _, pattern := range []string{snapshotCopyPattern, restoreCopyPattern} {
		// With the -wal and -shm files SQLite keeps beside a copy.
		files, _ := filepath.Glob(filepath.Join(dataDir, pattern+"*"))
		for _, f := range files {
			if st, err := os.Lstat(f); err == nil && st.Mode().IsRegular() {
				os.Remove(f)
			}
		}
	}
}

// openCopy opens a database file this process alone holds (a backup's
// copy) read-only. immutable=1 spares SQLite its locks and journal
// files: nothing else writes the file.
func openCopy(path string) (*sql.DB, error) {
	_, db, err := openSQLiteDSN(path, sqliteFileURI(path)+"?mode=ro&immutable=1")
	return db, err
}

// readBackupInfo reads the tree head and applied index of a copy the
// ledger made, from its stored subtrees (at most 64 reads).
func readBackupInfo(path string) (BackupInfo, error) {
	db, err := openCopy(path)
	if err != nil {
		return BackupInfo{}, err
	}
	defer db.Close()
	var info BackupInfo
	if err := db.QueryRow(`SELECT COALESCE(MAX(seq), 0) FROM ledger_entries`).Scan(&info.Size); err != nil {
		return BackupInfo{}, fmt.Errorf("read the copy's tree size: %w", err)
	}
	err = db.QueryRow(`SELECT value FROM raftstore_meta WHERE key = ?`, metaApplied).Scan(&info.Applied)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return BackupInfo{}, fmt.Errorf("read the copy's applied index: %w", err)
	}
	rng, err := (&ledger{}).rangeAt(db, info.Size)
	if err != nil {
		return BackupInfo{}, err
	}
	if info.Root, err = rootOf(rng); err != nil {
		return BackupInfo{}, err
	}
	return info, nil
}

// ErrBadBackup means a file is not a backup of a Pedigree ledger, or one
// whose ledger does not hash to its own Merkle tree.
var ErrBadBackup = errors.New("raftstore: not a sound ledger backup")

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// VerifyBackup checks a backup file offline and returns the ledger it
// holds. The file must be a SQLite database that passes SQLite's own
// check, holds the ledger's tables and a Raft index, and whose Merkle tree
// is exactly the tree of its entries: every entry's leaf is recomputed
// from the entry, every stored node of the tree from its children, and no
// other node is stored. So the returned root is the root of the entries
// the file holds, and a restore from it serves proofs that verify. It
// reads the whole file; nothing else may write it meanwhile.
func VerifyBackup(path string) (BackupInfo, error) {
	if err := checkMagic(path); err != nil {
		return BackupInfo{}, err
	}
	db, err := openCopy(path)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("%w: %v", ErrBadBackup, err)
	}
	defer db.Close()
	info, err := verifyLedger(db)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("%w: %s: %v", ErrBadBackup, path, err)
	}
	return info, nil
}

func checkMagic(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var head [len(sqliteMagic)]byte
	if _, err := io.ReadFull(f, head[:]); err != nil || string(head[:]) != sqliteMagic {
		return fmt.Errorf("%w: %s is not a SQLite database", ErrBadBackup, path)
	}
	return nil
}

func verifyLedger(db *sql.DB) (BackupInfo, error) {
	var check string
	if err := db.QueryRow(`PRAGMA quick_check`).Scan(&check); err != nil || check != "ok" {
		return BackupInfo{}, fmt.Errorf("SQLite's check fails: %q %v", check, err)
	}
	for _, table := range []string{"raftstore_meta", "ledger_entries", "merkle_nodes", "cluster_nodes"} {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil || n != 1 {
			return BackupInfo{}, fmt.Errorf("no table %s: not a Pedigree ledger", table)
		}
	}
	var info BackupInfo
	if err := db.QueryRow(`SELECT value FROM raftstore_meta WHERE key = ?`, metaApplied).Scan(&info.Applied); err != nil || info.Applied == 0 {
		return BackupInfo{}, fmt.Errorf("no applied Raft index recorded (%v)", err)
	}
	var count, lowest, highest uint64
	if err := db.QueryRow(`SELECT COUNT(*), COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0) FROM ledger_entries`).Scan(&count, &lowest, &highest); err != nil {
		return BackupInfo{}, fmt.Errorf("count entries: %w", err)
	}
	if highest != count || (count > 0 && lowest != 1) {
		return BackupInfo{}, fmt.Errorf("entries are not numbered 1 to %d (lowest %d, highest %d)", count, lowest, highest)
	}
	info.Size = count
	// Stored nodes beyond those of the tree would not change its root,
	// but a proof could read them: there must be none.
	var stored uint64
	if err := db.QueryRow(`SELECT COUNT(*) FROM merkle_nodes`).Scan(&stored); err != nil {
		return BackupInfo{}, fmt.Errorf("count Merkle nodes: %w", err)
	}
	if want := 2*count - uint64(bits.OnesCount64(count)); stored != want {
		return BackupInfo{}, fmt.Errorf("%d Merkle nodes stored, the tree of %d entries has %d", stored, count, want)
	}
	rng, err := rebuildTree(db, count)
	if err != nil {
		return BackupInfo{}, err
	}
	if info.Root, err = rootOf(rng); err != nil {
		return BackupInfo{}, err
	}
	return info, nil
}

// rebuildTree recomputes the tree from the entries, checking each node
// the ledger would have stored against the stored one.
func rebuildTree(db *sql.DB, size uint64) (*compact.Range, error) {
	c := newTreeCheck()
	if err := c.extend(db, size, 0, 0); err != nil {
		return nil, err
	}
	return c.rng, nil
}
