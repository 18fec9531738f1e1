package raftstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
	"github.com/mattn/go-sqlite3"

	"github.com/pedigree-ledger/pedigree/models"
)

// Snapshot returns a snapshot whose Persist copies the SQLite file with
// VACUUM INTO. It first waits for the queued entries to commit, so the
// copy holds every entry up to the snapshot's Raft index. Persist runs
// beside Apply, so the copy may hold entries past that index; that is
// harmless because the copy records its own applied index and a node
// restored from it skips the log entries it already holds.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.q.drain()
	return &snapshot{l: f.l}, nil
}

// Restore replaces the whole database with a snapshot's copy, once the
// entries queued before it are committed (the snapshot replaces them).
//
// A snapshot that cannot be read back once copied in leaves the database
// the snapshot's and memory the ledger's before (errUnreadAfterCopy).
// While the node starts (inside raft.NewRaft), that is an error: Raft
// then restores an older snapshot, which makes both the same again, or
// does not start. Once Raft runs, it would go on applying entries to the
// two apart, so the node stops, as for an entry that cannot be stored;
// started again, it reads the database as it is.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	f.q.drain()
	err := f.l.restore(rc)
	if errors.Is(err, errUnreadAfterCopy) && !f.starting.Load() {
		panic(err)
	}
	if err != nil && f.restoreFailed != nil {
		f.restoreFailed(fmt.Errorf("restore snapshot: %w", err))
	}
	return err
}

// errUnreadAfterCopy is a restore's error when the database holds the
// snapshot and reading it back failed.
var errUnreadAfterCopy = errors.New("raftstore: restore snapshot: the database now holds the snapshot, and reading it back failed")

type snapshot struct {
	l *ledger
}

// Persist writes a consistent copy of the database to the sink. WAL mode
// lets the FSM keep committing while VACUUM INTO reads.
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	tmp, err := s.l.vacuumCopy()
	if err != nil {
		sink.Cancel()
		return err
	}
	defer os.Remove(tmp)
	if err := copyToSink(sink, tmp); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	return nil
}

// copyToSink writes the file at path into sink and closes it, or cancels
// it when it cannot.
func copyToSink(sink raft.SnapshotSink, path string) error {
	f, err := os.Open(path)
	if err != nil {
		sink.Cancel()
		return err
	}
	defer f.Close()
	if _, err := io.Copy(sink, f); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release is a no-op: Persist removes its own temporary file.
func (s *snapshot) Release() {}

// The names of the database copies a snapshot is made from, and a
// received one is restored from, beside ledger.db (os.CreateTemp puts
// random digits for the '*'); a process that stopped may leave one
// (removeStaleCopies).
const (
	snapshotCopyPattern = "snapshot-*.db"
	restoreCopyPattern  = "restore-*.db"
)

// vacuumCopy writes a compact, consistent copy of the database next to it
// and returns its path.
func (l *ledger) vacuumCopy() (string, error) {
	f, err := os.CreateTemp(filepath.Dir(l.path), snapshotCopyPattern)
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	f.Close()
	os.Remove(tmp) // VACUUM INTO wants to create the file itself
	if _, err := l.sqlDB.Exec(`VACUUM INTO ?`, tmp); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("vacuum into snapshot copy: %w", err)
	}
	return tmp, nil
}

// restore copies a snapshot database into the live one with SQLite's online
// backup API, so readers holding the *gorm.DB keep a working handle, then
// reloads the tree frontier and applied index.
func (l *ledger) restore(r io.Reader) (err error) {
	f, err := os.CreateTemp(filepath.Dir(l.path), restoreCopyPattern)
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer removeDB(tmp)
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("receive snapshot: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	f.Close()

	// Verifications read SQLite until load() fills the index again, so
	// each sees one ledger, before or after the copy, not the index's
	// packs of one beside the tables of the other.
	if l.index != nil {
		l.index.Unload()
		defer func() {
			if err == nil {
				return
			}
			// From whichever ledger the database now holds.
			if lerr := l.index.Load(l.db); lerr != nil {
				l.log.Warn("the verify index stays empty after a failed restore; verifications read the database", "error", lerr)
			}
		}()
	}
	// What load() reads back after the copy is read from the file first: a
	// snapshot it cannot read is refused while the database is still the
	// one memory describes.
	if _, err := readBackupInfo(tmp); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	src, err := inPageSizeOf(l.sqlDB, tmp)
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	if src != tmp {
		// The received copy is not needed beside the converted one.
		removeDB(tmp)
		defer removeDB(src)
	}
	if err := copyDatabase(l.sqlDB, src); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	if l.testHookRestoreCopied != nil {
		l.testHookRestoreCopied()
	}
	// A snapshot from an older binary may lack newer projection tables.
	err = l.migrate()
	if err == nil {
		err = l.load()
	}
	switch {
	case errors.Is(err, models.ErrRulesTooNew):
		return err // memory is the file's already: load reads the rules last
	case err != nil:
		return fmt.Errorf("%w: %w", errUnreadAfterCopy, err) // see fsm.Restore
	}
	l.restores.Add(1)
	l.m.snapRestore.WithLabelValues(l.node).Inc()
	return nil
}

// inPageSizeOf returns the path of a database holding what the one at
// path holds, in pages of the size dst's are: path itself when they are
// already, else a copy beside it. The backup API that copyDatabase uses
// refuses (SQLITE_READONLY) to copy pages of one size into a WAL database
// of another, and ledgers differ: a file keeps the page size it was made
// with, so a node whose file an older binary made, or a newer one, installs
// snapshots of another size. The copy is VACUUM INTO, which writes pages
// of the size last set on its connection.
func inPageSizeOf(dst *sql.DB, path string) (string, error) {
	want, err := pageSize(dst)
	if err != nil {
		return "", err
	}
	// Read-write: on a read-only connection VACUUM INTO ignores the size.
	_, src, err := openSQLiteDSN(path, sqliteFileURI(path))
	if err != nil {
		return "", err
	}
	defer src.Close()
	src.SetMaxOpenConns(1) // the pragma holds for its connection only
	have, err := pageSize(src)
	if err != nil {
		return "", err
	}
	if have == want {
		return path, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), restoreCopyPattern)
	if err != nil {
		return "", err
	}
	out := f.Name()
	f.Close()
	os.Remove(out) // VACUUM INTO wants to create the file itself
	if _, err := src.Exec(fmt.Sprintf(`PRAGMA page_size = %d`, want)); err != nil {
		return "", fmt.Errorf("set the page size of a snapshot copy: %w", err)
	}
	if _, err := src.Exec(`VACUUM INTO ?`, out); err != nil {
		removeDB(out)
		return "", fmt.Errorf("copy a snapshot of %d-byte pages into %d-byte pages: %w", have, want, err)
	}
	conv, err := openCopy(out)
	if err != nil {
		removeDB(out)
		return "", err
	}
	got, err := pageSize(conv)
	conv.Close()
	if err == nil && got != want {
		err = fmt.Errorf("a snapshot copied into %d-byte pages has %d-byte pages", want, got)
	}
	if err != nil {
		removeDB(out)
		return "", err
	}
	return out, nil
}

// pageSize is the size of db's pages in bytes.
func pageSize(db *sql.DB) (int, error) {
	var n int
	if err := db.QueryRow(`PRAGMA page_size`).Scan(&n); err != nil {
		return 0, fmt.Errorf("read the page size: %w", err)
	}
	return n, nil
}

// copyDatabase replaces the database dst holds with the one at path,
// through SQLite's online backup API: one transaction, so a crash leaves
// dst as it was, and dst's other connections stay valid. It holds one of
// dst's connections only while it copies, so the caller can use the pool
// again at once.
func copyDatabase(dst *sql.DB, path string) error {
	_, srcSQL, err := openSQLite(path)
	if err != nil {
		return err
	}
	defer srcSQL.Close()
	ctx := context.Background()
	srcConn, err := srcSQL.Conn(ctx)
	if err != nil {
		return err
	}
	defer srcConn.Close()
	dstConn, err := dst.Conn(ctx)
	if err != nil {
		return err
	}
	defer dstConn.Close()
	return dstConn.Raw(func(dc any) error {
		return srcConn.Raw(func(sc any) error {
			d, ok1 := dc.(*sqlite3.SQLiteConn)
			s, ok2 := sc.(*sqlite3.SQLiteConn)
			if !ok1 || !ok2 {
				return fmt.Errorf("not a sqlite3 connection")
			}
			bk, err := d.Backup("main", s, "main")
			if err != nil {
				return fmt.Errorf("start backup: %w", err)
			}
			if _, err := bk.Step(-1); err != nil {
				bk.Finish()
				return fmt.Errorf("copy snapshot: %w", err)
			}
			return bk.Finish()
		})
	})
}
