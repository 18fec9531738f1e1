package models

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"

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
// Batch manages savepoints and RecordRejection itself: the caller may call
// Prefetch with the batch's commands first, then calls Apply for each
// command and Flush before it reads the projection or commits.
type Batch struct {
	actors   map[string]*Organisation // by id; nil: known not to exist
	orgs     map[string]bool          // registered or not, by id
	products map[string]*Product      // by GTIN; nil: known not to exist

	// pending holds the captures applied in memory and not yet written;
	// nil when there are none and nothing is remembered of items.
	pending *capture
	// inMemory is set while a capture runs against pending.
	inMemory bool
	// decoded holds the events Prefetch decoded, by command id, until the
	// command runs (takeDecoded).
	decoded map[string]decodedCapture

	// For the verify index (IndexChanges): written are the pack rows the
	// batch wrote from memory, in write order; bulkSeqs the commands that
	// changed packs by SQL statements (moving or unpacking a container's
	// contents), whose rows are read back. A rejected command's entries
	// are dropped with its writes.
	written  []Item
	bulkSeqs []uint64

	// IsFault tells the errors a rule meets that are this node's own
	// (its disk full or failing, its memory exhausted) from those every
	// node meets alike (a rule's bug, a constraint). Apply returns the
	// former as its error, so the caller does not commit; the latter, like
	// a rule's panic, reject the command with CodeInternal. A rejection
	// is hashed into the entry's Merkle leaf, so recording one for a fault
	// that only this node met would make its tree differ from the others'
	// for good; stopping instead lets it apply the entry again once the
	// fault is gone. nil: every error rejects.
	IsFault func(error) bool

	// Supported is the newest version of the rules this node applies;
	// 0 means RulesVersion. Tests set it to play older or newer binaries.
	Supported int
	// active is the ledger's rules version (see rules.go); 0 when not
	// read yet.
	active int
}

// decodedCapture is a capture's payload and the events decoded from it,
// their event ids filled in.
type decodedCapture struct {
	payload []byte
	events  []Event
}

// takeDecoded returns, once, the events Prefetch decoded from cmd's
// payload.
func (b *Batch) takeDecoded(cmd Command) ([]Event, bool) {
	d, ok := b.decoded[cmd.ID]
	if !ok || !bytes.Equal(d.payload, cmd.Payload) {
		return nil, false
	}
	delete(b.decoded, cmd.ID)
	return d.events, true
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
// storage failure, or a fault b.IsFault names (the transaction must not
// commit); a rejection is a Result with Accepted false, its writes undone
// and its alert recorded.
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
	written, bulk := len(b.written), len(b.bulkSeqs)
	res, _, fault := b.run(tx, seq, cmd)
	if fault != nil {
		return Result{}, fault
	}
	if !res.Accepted {
		b.written, b.bulkSeqs = b.written[:written], b.bulkSeqs[:bulk]
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
	res, needSQL, fault := b.run(tx, seq, cmd)
	b.inMemory = false
	switch {
	case fault != nil:
		c.undo()
		return Result{}, true, fault
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

// prefetchMaxPayload bounds the captures Prefetch reads ahead: it decodes
// each one once more, which a large capture's own bulk reads (a few
// statements for thousands of events) do not repay; the commands that
// come one or a few events each are the ones whose per-command reads
// cost most.
const prefetchMaxPayload = 16 << 10

// Prefetch reads ahead, in one statement each, what the batch's leading
// small captures (cmds, in ledger order, up to the first command that is
// not a capture) would each read as they run: the items their events name
// and whether their new event ids are stored. Call it first, before Apply;
// it changes no result, only how many statements the captures need. A
// command it cannot decode is left to Apply to reject.
func (b *Batch) Prefetch(tx *gorm.DB, cmds []Command) (err error) {
	if b.pending != nil {
		return nil // only the batch's first reads are known to be current
	}
	defer func() {
		// The rules turn a panic into a rejection of its command (see
		// run); here it only means not reading ahead.
		if p := recover(); p != nil {
			b.pending, b.decoded, err = nil, nil, nil
		}
	}()
	rules, err := b.activeRules(tx)
	if err != nil {
		return fmt.Errorf("models: prefetch: %w", err)
	}
	decoded := map[string]decodedCapture{}
	var keys, ids []string
	for _, cmd := range cmds {
		if cmd.Kind != KindCaptureEvents {
			break
		}
		if len(cmd.Payload) > prefetchMaxPayload {
			continue
		}
		events, ok := decodeCaptureFast(bytes.Trim(cmd.Payload, jsonSpace))
		if !ok {
			continue
		}
		if rules >= rulesEPCISFidelity && readEPCIS2(events) != nil {
			continue // the capture rule refuses it
		}
		for i := range events {
			e := &events[i]
			keys = append(keys, instanceKeys(e)...)
			if e.EventID == "" {
				e.EventID = eventHashID(e, rules) // as the capture rule would
			}
			if e.ErrorDeclaration == nil {
				ids = append(ids, e.EventID)
			}
		}
		decoded[cmd.ID] = decodedCapture{payload: cmd.Payload, events: events}
	}
	if len(keys) == 0 && len(ids) == 0 {
		return nil
	}
	c := newCapture(b)
	c.a = &applier{tx: tx, batch: b}
	if err := c.load(keys); err != nil {
		return fmt.Errorf("models: prefetch: %w", err)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	stored := map[string]bool{}
	for chunk := range slices.Chunk(ids, sqlChunk) {
		found, err := storedEventIDs(tx, chunk)
		if err != nil {
			return fmt.Errorf("models: prefetch: %w", err)
		}
		for _, id := range found {
			stored[id] = true
		}
	}
	c.absentIDs = make(map[string]bool, len(ids))
	for _, id := range ids {
		if !stored[id] {
			c.absentIDs[id] = true
		}
	}
	b.pending, b.decoded = c, decoded
	return nil
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

// wrote notes a row the batch wrote, if it is a pack's.
func (b *Batch) wrote(it *Item) {
	if b == nil || it.Kind != ItemPack {
		return
	}
	row := *it
	if it.DecommissionedAt != nil {
		t := *it.DecommissionedAt
		row.DecommissionedAt = &t
	}
	b.written = append(b.written, row)
}

// wroteInSQL notes that the command at seq changed packs by an SQL
// statement, so that IndexChanges reads their rows back.
func (b *Batch) wroteInSQL(seq uint64) {
	if b != nil && (len(b.bulkSeqs) == 0 || b.bulkSeqs[len(b.bulkSeqs)-1] != seq) {
		b.bulkSeqs = append(b.bulkSeqs, seq)
	}
}

// IndexChanges returns, for the verify index, the rows the batch's
// commands (those after ledger position afterSeq) wrote: the same as
// ChangesSince reads, which TestBatchResultsDoNotDependOnGrouping
// checks, at a fraction of the cost. Pack rows the batch wrote from memory
// come from memory, the packs changed in SQL and the products and recalls
// (few, and indexed by seq) are read from tx. Call it after Flush, in the
// batch's transaction.
func (b *Batch) IndexChanges(tx *gorm.DB, afterSeq uint64) (IndexChanges, error) {
	c, err := readChangedProductsAndRecalls(tx, afterSeq)
	if err != nil {
		return IndexChanges{}, err
	}
	// A pack's last write is its row: the last in memory, unless a bulk
	// statement wrote it at that seq or later, when the database holds
	// the row as the command left it.
	last := make(map[string]int, len(b.written))
	for i := range b.written {
		last[b.written[i].Key] = i
	}
	var bulk []Item
	for chunk := range slices.Chunk(b.bulkSeqs, sqlChunk) {
		args := make([]any, 0, len(chunk)+1)
		for _, s := range chunk {
			args = append(args, s)
		}
		args = append(args, ItemPack)
		moved, err := queryAll(tx, packedItemSelect+`WHERE "seq" IN `+placeholders(len(chunk))+` AND "kind" = ?`, args, scanPackedItem)
		bulk = append(bulk, moved...)
		if err != nil {
			return IndexChanges{}, fmt.Errorf("models: read back packs moved in bulk: %w", err)
		}
	}
	inBulk := make(map[string]bool, len(bulk))
	for _, it := range bulk {
		inBulk[it.Key] = true
	}
	for i := range b.written {
		if it := b.written[i]; last[it.Key] == i && !inBulk[it.Key] {
			c.packs = append(c.packs, it)
		}
	}
	c.packs = append(c.packs, bulk...)
	slices.SortStableFunc(c.packs, func(x, y Item) int { return cmp.Compare(x.Seq, y.Seq) })
	return c, nil
}
