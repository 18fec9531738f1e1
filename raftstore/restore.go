package raftstore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/raft"
)

// Restoring a backup makes a new one-node cluster whose state is the
// backup. The data directory is made to look like that of a node that
// has just taken a snapshot at the backup's Raft index, with itself as
// the only voter: ledger.db is the backup's entries replayed into a new
// projection (restore_replay.go), and Raft's snapshot store holds
// the same bytes with that index and configuration. Raft then starts from
// the snapshot, as after any restart, and numbers new entries after it.
// Two things follow, and both are why this is not raft.Restore on a
// bootstrapped node:
//
//   - The FSM skips entries at or below the database's applied index (a
//     restarted node's log replays what the database already holds). New
//     entries come after the snapshot's index, which is the backup's
//     applied index, so none is skipped. A backup copied into a fresh
//     node's ledger.db by hand would have its first entries skipped:
//     Open refuses a database without Raft state for that reason.
//   - Nothing can fail half-way inside Raft: raft.Restore panics when the
//     FSM cannot take the snapshot, while here every step that can fail
//     (the copy, its check, the snapshot) runs before Raft starts, and a
//     failure removes what the restore wrote.
//
// Nodes that then join catch up from that snapshot, as a node joining any
// cluster whose log was compacted does.
//
// A restore mints a new cluster id (clusterid.go): the restored cluster
// is not the one backed up, and its nodes refuse that one's members, which
// may still run and dial the address the restore took over.
//
// A restore never replaces a ledger: it refuses a data directory that
// holds any Raft or ledger state. It writes restore.pending first and
// removes it last, so a restore cut short by a crash leaves a directory
// that Open refuses, rather than one that starts as an empty ledger.

// The files of a data directory.
const (
	raftLogFile       = "raft.db"
	ledgerFile        = "ledger.db"
	nodeKeyFile       = "node.key"
	snapshotsDir      = "snapshots" // raft.FileSnapshotStore's
	restorePending    = "restore.pending"
	divergedFile      = "diverged" // audit.go
	restoreCopySuffix = ".restoring"
)

// stateFiles are what a data directory that has held a node holds. A
// directory with none of them is empty enough to restore into (a volume's
// lost+found, or the backup file itself, may be there). node.key is not
// among them: it names the node, not its state, and an operator may keep
// a node's key across a restore.
var stateFiles = []string{
	raftLogFile, ledgerFile, ledgerFile + "-wal", ledgerFile + "-shm", ledgerFile + "-journal",
	ledgerFile + restoreCopySuffix, ledgerFile + restoreCopySuffix + "-journal",
	ledgerFile + replaySuffix, ledgerFile + replaySuffix + "-wal", ledgerFile + replaySuffix + "-shm",
	snapshotsDir, restorePending, divergedFile,
}

// ErrDataDirInUse means a data directory holds state that an operation
// would replace or misread: a restore into a directory that holds a
// ledger, or a directory whose restore did not finish.
var ErrDataDirInUse = errors.New("raftstore: the data directory is in use")

// OpenRestored makes cfg.Dir a new one-node cluster whose ledger is the
// backup file at path (as Store.Backup wrote it), and opens it. The
// directory must hold no Raft or ledger state (ErrDataDirInUse); the
// backup must pass VerifyBackup and its entries must replay, under this
// binary's rules, to the results they record (ErrBadBackup, or
// models.ErrRulesTooNew for a backup at newer rules). If a check or any
// later step fails, the directory is left as it was. The returned store
// is the cluster's only voter, of a new cluster id (Founded); its Raft
// index continues from the backup's, its tree from the backup's tree, and
// its projection is what the entries make. The backup's cluster listing
// is dropped (those nodes are not members); Config.Bootstrap is ignored.
//
// Open the directory with Open afterwards, as any node's.
func OpenRestored(cfg Config, path string) (*Store, BackupInfo, error) {
	cfg.Bootstrap = false
	s, err := newStore(cfg)
	if err != nil {
		return nil, BackupInfo{}, err
	}
	held, err := heldState(cfg.Dir)
	if err != nil {
		return nil, BackupInfo{}, err
	}
	if len(held) > 0 {
		return nil, BackupInfo{}, fmt.Errorf("%w: %s already holds %s; a restore makes a new cluster in an empty data directory and never replaces a ledger",
			ErrDataDirInUse, cfg.Dir, strings.Join(held, ", "))
	}
	_, statErr := os.Stat(cfg.Dir)
	madeDir := errors.Is(statErr, os.ErrNotExist)
	_, keyErr := os.Stat(filepath.Join(cfg.Dir, nodeKeyFile))
	hadKey := keyErr == nil
	undo := func() {
		for _, name := range stateFiles {
			os.RemoveAll(filepath.Join(cfg.Dir, name))
		}
		if !hadKey {
			os.Remove(filepath.Join(cfg.Dir, nodeKeyFile))
		}
		if madeDir {
			os.Remove(cfg.Dir)
		}
	}

	info, err := s.prepareRestore(path)
	if err != nil {
		undo()
		return nil, BackupInfo{}, err
	}
	s.seedIndex = info.Applied
	if err := s.open(); err != nil {
		s.cleanup()
		undo()
		return nil, BackupInfo{}, err
	}
	err = os.Remove(filepath.Join(cfg.Dir, restorePending))
	if err == nil {
		err = SyncDir(cfg.Dir)
	}
	if err != nil {
		s.Close()
		undo()
		return nil, BackupInfo{}, fmt.Errorf("finish: %w", err)
	}
	s.log.Info("restored a backup as a new cluster", "backup", path, "tree_size", info.Size, "raft_index", info.Applied)
	return s, info, nil
}

// heldState lists the state files dir holds.
func heldState(dir string) ([]string, error) {
	var held []string
	for _, name := range stateFiles {
		_, err := os.Lstat(filepath.Join(dir, name))
		switch {
		case err == nil:
			held = append(held, name)
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("check data directory: %w", err)
		}
	}
	return held, nil
}

// checkNoUnfinishedRestore refuses a data directory whose restore was cut
// short: its Raft state, if any, may not match its database.
func checkNoUnfinishedRestore(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, restorePending)); err == nil {
		return fmt.Errorf("%w: a restore into %s did not finish (%s is there); empty the directory and restore again",
			ErrDataDirInUse, dir, restorePending)
	}
	return nil
}

// lostRaftLogAdvice is what to do with a data directory whose ledger has
// lost its Raft log. Restoring a backup there would be the wrong advice
// for a cluster's member: it would start a second cluster beside the one
// the node belonged to.
const lostRaftLogAdvice = "if this node is a member of a cluster, remove it from the cluster, empty this directory and join it again " +
	"(pedigree serve --join); if it was a cluster's only node, restore a backup into an empty directory (pedigree serve --bootstrap --restore)"

// refuseWithoutRaftState refuses a database that holds applied entries
// when the data directory has no Raft state (raft.db emptied): the FSM
// would skip every new entry up to the database's applied index as one it
// already holds.
func (l *ledger) refuseWithoutRaftState(hasRaftState bool) error {
	if _, _, applied := l.committed(); !hasRaftState && applied > 0 {
		return fmt.Errorf("%w: %s holds a ledger applied up to Raft index %d but there is no Raft state beside it; %s",
			ErrDataDirInUse, l.path, applied, lostRaftLogAdvice)
	}
	return nil
}

// refuseLostRaftLog refuses a data directory that holds a ledger or a
// snapshot but no raft.db, before Open creates one. raft.db is the first
// file a node makes, so the node lost it (or a database was copied in by
// hand), and with it the votes it cast, its term and its cluster id: it
// could vote twice in a term, and would take itself for a node of a
// cluster made before cluster ids. Checking the file, not what Raft finds
// in it, refuses the same loss after a snapshot, when the snapshot alone
// is Raft state, and a second Open after a refused one.
func refuseLostRaftLog(dir string) error {
	if _, err := os.Lstat(filepath.Join(dir, raftLogFile)); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var held []string
	if _, err := os.Lstat(filepath.Join(dir, ledgerFile)); err == nil {
		held = append(held, ledgerFile)
	}
	snaps, _ := os.ReadDir(filepath.Join(dir, snapshotsDir))
	for _, e := range snaps {
		if !strings.HasSuffix(e.Name(), ".tmp") { // raft's snapshot being written
			held = append(held, snapshotsDir+"/"+e.Name())
			break
		}
	}
	if len(held) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s holds %s but no Raft log (%s): this node lost its Raft state, and with it the votes it cast and its cluster id; %s",
		ErrDataDirInUse, dir, strings.Join(held, " and "), raftLogFile, lostRaftLogAdvice)
}

// prepareRestore writes the restore's marker and ledger.db: the backup
// copied (and checked as a copy, not the original, which could change
// between a check and a copy), then replayed into a new projection
// (restore_replay.go). Of the backup only its entries, their tree and
// their Raft indexes reach ledger.db; so its cluster listing stays behind
// too (those nodes are not members of the new cluster, which records its
// own as they join).
func (s *Store) prepareRestore(path string) (BackupInfo, error) {
	dir := s.cfg.Dir
	src, err := os.Open(path)
	if err != nil {
		return BackupInfo{}, err
	}
	defer src.Close()
	if st, err := src.Stat(); err != nil || !st.Mode().IsRegular() {
		return BackupInfo{}, fmt.Errorf("%w: %s is not a regular file", ErrBadBackup, path)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return BackupInfo{}, fmt.Errorf("create data directory: %w", err)
	}
	marker := fmt.Sprintf("restoring %s; if this file stays, the restore did not finish: empty this directory and restore again\n", path)
	if err := writeSynced(filepath.Join(dir, restorePending), strings.NewReader(marker)); err != nil {
		return BackupInfo{}, err
	}
	copyPath := filepath.Join(dir, ledgerFile+restoreCopySuffix)
	if err := writeSynced(copyPath, src); err != nil {
		return BackupInfo{}, fmt.Errorf("copy %s: %w", path, err)
	}
	info, err := VerifyBackup(copyPath)
	if err != nil {
		return BackupInfo{}, err
	}
	ledgerPath := filepath.Join(dir, ledgerFile)
	if err := replayBackup(copyPath, ledgerPath, info, s.cfg.NodeID, s.rulesSupported(), s.log); err != nil {
		return BackupInfo{}, err
	}
	if err := syncFile(ledgerPath); err != nil {
		return BackupInfo{}, err
	}
	if err := SyncDir(dir); err != nil {
		return BackupInfo{}, err
	}
	return info, nil
}

// syncFile makes a file's contents durable.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// seedSnapshot stores the restored database as Raft's snapshot at index,
// with this node as the only voter: Raft starts from it and hands it to
// the nodes that join.
func seedSnapshot(snaps raft.SnapshotStore, trans raft.Transport, id, addr string, index uint64, dbPath string) error {
	conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(addr)}}}
	// Term 1, as a bootstrapped cluster's first entry: the new cluster's
	// first election starts term 1 from a stored term of 0.
	sink, err := snaps.Create(raft.SnapshotVersionMax, index, 1, conf, index, trans)
	if err != nil {
		return fmt.Errorf("create the restored snapshot: %w", err)
	}
	if err := copyToSink(sink, dbPath); err != nil {
		return fmt.Errorf("write the restored snapshot: %w", err)
	}
	return nil
}

// writeSynced writes r to a new file at path and syncs it.
func writeSynced(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// SyncDir makes a directory's entries (a new name, a rename, a removal)
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
