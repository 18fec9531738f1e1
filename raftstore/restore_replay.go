package raftstore

import (
	"bytes"
	"cmp"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/hashicorp/raft"

	"github.com/pedigree-ledger/pedigree/models"
)

// A restore rebuilds the projection from the backup's entries rather than
// taking the backup's tables. Of the rest of the file it keeps only the
// Raft bookkeeping that places the entries in Raft's log (each entry's
// Raft index, which groups the replay, and the applied index the new
// log continues from), both checked to be in order. VerifyBackup proves that the entries hash to
// the tree, and the tree is what regulators hold signed heads of; nothing
// proves that the organisations, tokens, packs and alerts beside them are
// what those entries made. A backup file edited by hand could otherwise
// plant an admin token or revive a dispensed pack and still restore.
// Replaying the entries through this binary's rules, as a node replays
// its Raft log, makes every restored row a consequence of a signed entry,
// and checks each entry's recorded result on the way: the replayed leaf
// must be the recorded leaf.

// replaySuffix names the database a restore replays into, beside ledger.db.
const replaySuffix = ".replaying"

// replayBatchBytes and replayBatchLogs bound one replay transaction: large
// enough that commits cost little, small enough to keep memory flat.
const (
	replayBatchBytes = 8 << 20
	replayBatchLogs  = 256
)

// replayProgressEvery is how often a long replay says how far it is.
const replayProgressEvery = 10 * time.Second

// replayBackup applies the entries of the checked backup at src, in order
// and grouped by their Raft entry as first applied, to a new ledger at
// dst, with this node's rules (up to supported). It fails with
// ErrBadBackup if an entry replays to another result than it records,
// the rebuilt tree is not info's, or the Raft indexes the backup records
// are not in order and within its applied index; and with
// models.ErrRulesTooNew if the backup adopted rules newer than supported.
// Once replayed, src is removed (it is the restore's own copy), so the
// restore needs room for two copies of the ledger, not three. dst is
// left a single database file (no WAL beside it), as a snapshot is, at
// the backup's applied Raft index.
func replayBackup(src, dst string, info BackupInfo, node string, supported int, log *slog.Logger) (err error) {
	in, err := openCopy(src)
	if err != nil {
		return err
	}
	defer in.Close()
	work := dst + replaySuffix
	defer removeDB(work)
	l, err := openLedger(work, node, 0, supported, log)
	if err != nil {
		return fmt.Errorf("open the replay database: %w", err)
	}
	defer l.close()
	l.m = newStoreMetrics() // the node's metrics count its own applies only

	r := &replayer{l: l, log: log, total: info.Size, started: time.Now()}
	r.lastReport = r.started
	if err := r.run(in); err != nil {
		if errors.Is(err, models.ErrRulesTooNew) {
			return fmt.Errorf("%w: the backup adopted rules this binary (rules up to version %d) lacks: restore it with a binary at least as new as the one that made it (%v)",
				models.ErrRulesTooNew, cmp.Or(supported, models.RulesVersion), err)
		}
		return err
	}
	size, root, lastIndex := l.committed()
	if size != info.Size || !bytes.Equal(root, info.Root) {
		return fmt.Errorf("%w: the replayed ledger has %d entries and root %x, the backup %d and %x",
			ErrBadBackup, size, root, info.Size, info.Root)
	}
	// The backup's applied index may lie past its last ledger entry
	// (membership changes, Raft's own entries), not before it: the
	// restored node's log continues from it, and an entry numbered below
	// one it holds would break the order a later backup is checked by.
	if info.Applied < lastIndex {
		return fmt.Errorf("%w: the backup records Raft index %d as applied, but holds an entry from Raft index %d",
			ErrBadBackup, info.Applied, lastIndex)
	}
	if _, err := l.sqlDB.Exec(`INSERT INTO raftstore_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
		metaApplied, info.Applied); err != nil {
		return fmt.Errorf("record the applied index: %w", err)
	}
	in.Close()
	if err := os.Remove(src); err != nil {
		return fmt.Errorf("remove the backup's copy: %w", err)
	}
	// VACUUM INTO writes one compact file, as snapshots are made; the
	// WAL of the replay database is folded in.
	if _, err := l.sqlDB.Exec(`VACUUM INTO ?`, dst); err != nil {
		removeDB(dst)
		return fmt.Errorf("write the replayed ledger: %w", err)
	}
	if r.reworded > 0 {
		// Messages are for people, and a newer binary may word them
		// otherwise; the replayed ones are what the restored ledger keeps.
		log.Warn("entries of the backup record another message or result data than this binary's rules give them; the restored ledger keeps this binary's",
			"entries", r.reworded)
	}
	log.Info("rebuilt the projection from the backup's entries", "entries", info.Size, "took", time.Since(r.started).Round(time.Millisecond))
	return nil
}

// removeDB removes a SQLite database and the files SQLite keeps beside it.
func removeDB(path string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(path + suffix)
	}
}

// replayer feeds a backup's entries to a ledger in batches.
type replayer struct {
	l       *ledger
	log     *slog.Logger
	total   uint64
	started time.Time

	logs     []*raft.Log
	recorded [][]Entry // per log, the entries as the backup records them
	bytes    int
	done     uint64
	reworded uint64 // entries whose message or data, which leaves do not cover, replayed otherwise

	lastReport time.Time
}

func (r *replayer) run(in *sql.DB) error {
	rows, err := in.Query(`SELECT e.seq, e.command_id, e.kind, e.actor, e.time, e.payload, e.accepted, e.code, e.message, e.data, e.raft_index, m.hash
		FROM ledger_entries e JOIN merkle_nodes m ON m.level = 0 AND m.idx = e.seq - 1 ORDER BY e.seq`)
	if err != nil {
		return fmt.Errorf("read the backup's entries: %w", err)
	}
	defer rows.Close()
	var group []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadBackup, err)
		}
		if len(group) > 0 && e.RaftIndex != group[0].RaftIndex {
			if err := r.add(group); err != nil {
				return err
			}
			group = nil
		}
		if len(group) == 0 && e.RaftIndex <= r.lastIndex() {
			return fmt.Errorf("%w: entry %d has Raft index %d, not after the entry before it (%d)",
				ErrBadBackup, e.Seq, e.RaftIndex, r.lastIndex())
		}
		// No Raft entry holds more commands than a proposal may; a
		// backup whose Raft indexes say otherwise was edited, and would
		// have the replay hold it all in memory at once.
		if len(group) == maxBatch {
			return fmt.Errorf("%w: more than %d entries from Raft index %d, more than one proposal holds",
				ErrBadBackup, maxBatch, e.RaftIndex)
		}
		group = append(group, e)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the backup's entries: %w", err)
	}
	if len(group) > 0 {
		if err := r.add(group); err != nil {
			return err
		}
	}
	return r.apply()
}

// lastIndex is the Raft index of the last entry queued or applied.
func (r *replayer) lastIndex() uint64 {
	if n := len(r.logs); n > 0 {
		return r.logs[n-1].Index
	}
	_, _, applied := r.l.committed()
	return applied
}

// add queues the entries of one Raft entry, as one log again, and applies
// the queue when it is full.
func (r *replayer) add(group []Entry) error {
	cmds := make([]models.Command, len(group))
	for i, e := range group {
		cmds[i] = e.Command
	}
	// The payloads are copied as recorded: the leaves cover these bytes.
	data, err := encodeCommands(cmds, false)
	if err != nil {
		return fmt.Errorf("%w: entry %d: %v", ErrBadBackup, group[0].Seq, err)
	}
	r.logs = append(r.logs, &raft.Log{Index: group[0].RaftIndex, Type: raft.LogCommand, Data: data})
	r.recorded = append(r.recorded, group)
	r.bytes += len(data)
	if r.bytes >= replayBatchBytes || len(r.logs) >= replayBatchLogs {
		return r.apply()
	}
	return nil
}

// apply applies the queued logs in one transaction and checks each
// replayed result against the recorded one through its leaf.
func (r *replayer) apply() (err error) {
	if len(r.logs) == 0 {
		return nil
	}
	defer func() {
		// The ledger panics when it cannot store what it applied (a node
		// must stop); a restore only fails. An adoption of rules this
		// binary lacks is one such stop (models.ErrRulesTooNew).
		if p := recover(); p != nil {
			if perr, ok := p.(error); ok {
				err = fmt.Errorf("replay the backup's entries: %w", perr)
			} else {
				err = fmt.Errorf("replay the backup's entries: %v", p)
			}
		}
	}()
	resp := r.l.applyBatch(r.logs)
	for i, group := range r.recorded {
		if e, ok := resp[i].(error); ok {
			return fmt.Errorf("%w: entry %d: %v", ErrBadBackup, group[0].Seq, e)
		}
		results, _ := resp[i].([]models.Result)
		if len(results) != len(group) {
			return fmt.Errorf("%w: Raft entry %d replayed to %d results, the backup records %d",
				ErrBadBackup, r.logs[i].Index, len(results), len(group))
		}
		for j, e := range group {
			res := results[j]
			if res.Seq != e.Seq || !bytes.Equal(LeafHash(e.Seq, e.Command, res), e.LeafHash) {
				return fmt.Errorf("%w: entry %d replays to another result (seq %d, accepted %v, %q) than the backup records (accepted %v, %q): "+
					"the backup was edited, or a binary whose rules differ from this one's made it",
					ErrBadBackup, e.Seq, res.Seq, res.Accepted, res.Code, e.Result.Accepted, e.Result.Code)
			}
			if res.Message != e.Result.Message || !bytes.Equal(res.Data, e.Result.Data) {
				r.reworded++
			}
		}
		r.done += uint64(len(group))
	}
	r.logs, r.recorded, r.bytes = r.logs[:0], r.recorded[:0], 0
	if now := time.Now(); now.Sub(r.lastReport) >= replayProgressEvery {
		r.lastReport = now
		r.log.Info("replaying the backup's entries", "done", r.done, "of", r.total, "elapsed", now.Sub(r.started).Round(time.Second))
	}
	return nil
}
