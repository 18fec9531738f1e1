package raftstore

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
)

// treeCheck recomputes the Merkle tree from the stored entries, a run of
// entries at a time, and checks every stored node against it: each leaf
// against its entry's bytes, each inner node against its children. A
// backup check runs it over the whole ledger at once; the audit runs it a
// window per round, so an edit anywhere in a node's stored ledger, not
// only in the few top subtrees a root is read from, is found within one
// pass.
type treeCheck struct {
	rng *compact.Range // the tree recomputed from entries 1 to rng.End()
}

func newTreeCheck() *treeCheck { return &treeCheck{rng: rangeFactory.NewEmptyRange(0)} }

// treeFault is a stored ledger that contradicts itself: an entry that does
// not hash to its leaf, a node that is not the hash of its children, a
// node or entry the tree's size says is there and is not. It is never a
// failed read.
type treeFault struct{ msg string }

func (f *treeFault) Error() string { return f.msg }

func faultf(format string, args ...any) error { return &treeFault{fmt.Sprintf(format, args...)} }

// sqlReader is a *sql.DB or a *sql.Tx.
type sqlReader interface {
	Query(query string, args ...any) (*sql.Rows, error)
	Prepare(query string) (*sql.Stmt, error)
}

// extend checks the entries after those already checked, up to seq last,
// stopping early, at an entry's end, once it has read maxEntries entries
// or maxBytes bytes of payload and result (0: no limit). The entries up to
// last must be committed. It returns a *treeFault for a contradiction
// and another error for a failed read; either way the check cannot go on.
func (c *treeCheck) extend(q sqlReader, last uint64, maxEntries, maxBytes int) error {
	from := c.rng.End()
	if last <= from {
		return nil
	}
	nodeStmt, err := q.Prepare(`SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?`)
	if err != nil {
		return err
	}
	defer nodeStmt.Close()
	limit := int64(last - from)
	if maxEntries > 0 {
		limit = min(limit, int64(maxEntries))
	}
	rows, err := q.Query(`SELECT e.seq, e.command_id, e.kind, e.actor, e.time, e.payload, e.accepted, e.code, e.message, e.data, e.raft_index, m.hash
		FROM ledger_entries e LEFT JOIN merkle_nodes m ON m.level = 0 AND m.idx = e.seq - 1
		WHERE e.seq > ? AND e.seq <= ? ORDER BY e.seq LIMIT ?`, from, last, limit)
	if err != nil {
		return fmt.Errorf("read entries: %w", err)
	}
	defer rows.Close()
	var bad error
	visit := func(id compact.NodeID, hash []byte) {
		if bad != nil || id.Level == 0 { // leaves are checked with their entries
			return
		}
		var stored []byte
		err := nodeStmt.QueryRow(id.Level, id.Index).Scan(&stored)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			bad = faultf("Merkle node level %d index %d is missing", id.Level, id.Index)
		case err != nil:
			bad = fmt.Errorf("Merkle node level %d index %d: %w", id.Level, id.Index, err)
		case !bytes.Equal(stored, hash):
			bad = faultf("Merkle node level %d index %d is not the hash of its children", id.Level, id.Index)
		}
	}
	read := 0
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return err
		}
		if want := c.rng.End() + 1; e.Seq != want {
			return faultf("entry %d is missing", want)
		}
		leaf := LeafHash(e.Seq, e.Command, e.Result)
		if !bytes.Equal(leaf, e.LeafHash) {
			return faultf("entry %d does not hash to its stored leaf", e.Seq)
		}
		if err := c.rng.Append(leaf, visit); err != nil {
			return err
		}
		if bad != nil {
			return bad
		}
		read += len(e.Command.Payload) + len(e.Result.Data)
		if maxBytes > 0 && read >= maxBytes {
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read entries: %w", err)
	}
	if c.rng.End() < from+uint64(limit) {
		return faultf("entry %d is missing", c.rng.End()+1)
	}
	return nil
}
