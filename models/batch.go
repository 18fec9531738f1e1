package models

import (
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// Batch applies the commands of one database transaction (one Raft batch)
// in ledger order, with the same results and the same projection as
// applying each alone with Apply, whatever the grouping: Raft nodes group
// the same log differently.
//
// It is faster than Apply in two ways, both for captures, the commands
// that come by the thousand:
//
//   - It remembers the organisations and products captures read.
//     capture_events never changes either, so while only captures run the
//     remembered rows are what the database holds; any other command kind
//     forgets them.
//   - Consecutive captures are applied in memory, one pending capture for
//     all of them, and written together by Flush: a batch of 64 single-event
//     captures costs a few multi-row statements instead of a dozen
//     statements each. Each command keeps a journal of the items it
//     touched, so a rejected one is undone in memory and leaves no trace.
//     A capture that needs the database to hold everything (moving a
//     container's contents, unpacking all, an error declaration) stops, is
//     undone, and runs again after a Flush, inside a savepoint, as Apply
//     would run it. Anything else flushes first as well.
//
// Batch manages savepoints and RecordRejection itself: the caller only
// calls Apply for each command and Flush before it reads the projection or
// commits.
type Batch struct {
	actors   map[string]*Organisation // by id; nil: known not to exist
	orgs     map[string]bool          // registered or not, by id
	products map[string]*Product      // by GTIN; nil: known not to exist

	// pending holds the captures applied in memory and not yet written;
	// nil when there are none and nothing is remembered of items.
	pending *capture
	// inMemory is set while a capture runs against pending.
	inMemory bool
}

// errNeedSQL stops a capture running in memory that needs the database to
// hold the batch's pending writes.
var errNeedSQL = errors.New("models: the command needs the pending captures written first")

// NewBatch returns a Batch for one transaction; use it in that transaction
// only.
func NewBatch() *Batch {
	b := &Batch{}
	b.forget()
	return b
}

// forget drops every row the batch remembers, and the pending capture
// (written or empty by then): a command other than a capture may have
// changed the organisations or products.
func (b *Batch) forget() {
	b.actors = map[string]*Organisation{}
	b.orgs = map[string]bool{}
	b.products = map[string]*Product{}
	b.pending = nil
}

// Apply applies cmd, the command at ledger position seq. The error is a
// storage failure (the transaction must not commit); a rejection is a
// Result with Accepted false, its writes undone and its alert recorded.
func (b *Batch) Apply(tx *gorm.DB, seq uint64, cmd Command) (Result, error) {
	if cmd.Kind == KindCaptureEvents {
		res, done, err := b.applyInMemory(tx, seq, cmd)
		if done || err != nil {
			return res, err
		}
	}
	if err := b.Flush(tx); err != nil {
		return Result{}, err
	}
	if err := tx.SavePoint("cmd").Error; err != nil {
		return Result{}, fmt.Errorf("models: savepoint: %w", err)
	}
	res, _ := b.run(tx, seq, cmd)
	if !res.Accepted {
		if err := tx.RollbackTo("cmd").Error; err != nil {
			return Result{}, fmt.Errorf("models: roll back rejected command: %w", err)
		}
		if err := RecordRejection(tx, seq, cmd, res); err != nil {
			return Result{}, err
		}
	}
	if err := tx.Exec("RELEASE cmd").Error; err != nil {
		return Result{}, fmt.Errorf("models: release savepoint: %w", err)
	}
	if cmd.Kind == KindCaptureEvents {
		b.pending = nil // it changed items in SQL, behind memory's back
	} else {
		b.forget()
	}
	return res, nil
}

// applyInMemory applies a capture to the pending capture. done is false
// when the capture needs SQL; it is then undone and must run again.
func (b *Batch) applyInMemory(tx *gorm.DB, seq uint64, cmd Command) (res Result, done bool, err error) {
	if b.pending == nil {
		b.pending = newCapture(b)
	}
	c := b.pending
	c.begin()
	b.inMemory = true
	res, needSQL := b.run(tx, seq, cmd)
	b.inMemory = false
	switch {
	case needSQL:
		c.undo()
		return Result{}, false, nil
	case !res.Accepted:
		c.undo()
		return res, true, RecordRejection(tx, seq, cmd, res)
	}
	c.keep()
	return res, true, nil
}

// Flush writes the pending captures, so the database holds everything
// applied so far. Call it before reading the projection or committing.
func (b *Batch) Flush(tx *gorm.DB) error {
	c := b.pending
	if c == nil || c.clean() {
		return nil
	}
	c.a = &applier{tx: tx}
	if err := c.flush(); err != nil {
		return fmt.Errorf("models: write pending captures: %w", err)
	}
	clear(c.pendingIDs)
	return nil
}
