package raftstore

import (
	"database/sql"
	"database/sql/driver"
	"errors"

	"github.com/mattn/go-sqlite3"

	"github.com/pedigree-ledger/pedigree/models"
)

// The lifecycle rules raftstore applies, named once so the FSM code reads
// as what it does.
var migrateRules = models.Migrate

// newRuleBatch is the rules' batch for one apply transaction. A rule that
// meets a fault of this node's storage makes the batch fail, and the node
// stop, instead of rejecting the command: the rejection would go into the
// entry's Merkle leaf on this node only.
func newRuleBatch() *models.Batch {
	b := models.NewBatch()
	b.IsFault = storageFault
	return b
}

// storageFault reports whether err is this node's storage failing, which
// another node applying the same entry would not meet: its disk full or
// failing, its memory exhausted, its database locked, corrupt, read-only
// or closed. What every node meets alike (a constraint, a bad statement, a
// value SQLite refuses) is not a fault: stopping every node on it would
// stop the cluster on every restart, as the entry is applied again.
func storageFault(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrFull, sqlite3.ErrIoErr, sqlite3.ErrNomem, sqlite3.ErrBusy, sqlite3.ErrLocked,
			sqlite3.ErrCorrupt, sqlite3.ErrNotADB, sqlite3.ErrCantOpen, sqlite3.ErrReadonly, sqlite3.ErrPerm,
			sqlite3.ErrInterrupt, sqlite3.ErrProtocol, sqlite3.ErrNoLFS, sqlite3.ErrAuth:
			return true
		}
		return false
	}
	return errors.Is(err, sql.ErrConnDone) || errors.Is(err, sql.ErrTxDone) || errors.Is(err, driver.ErrBadConn)
}
