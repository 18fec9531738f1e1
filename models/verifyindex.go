package models

import (
	"database/sql"
	"fmt"
	"sync"

	"gorm.io/gorm"
)

// A verification reads three rows (product, pack, recall); from SQLite
// that read is most of a verification's cost on the server and, through
// the cgo calls and locks it takes, most of its latency tail. A
// VerifyIndex keeps those rows in memory for the packs the ledger changed
// most recently, which are the packs being handled: a pack is received by
// the pharmacy or wholesaler that later verifies it, and that receipt
// changed it.
//
// The index is exact, not a cache that may be stale. Whoever applies
// commands (raftstore's FSM) collects every row the batch changed, in the
// same transaction, and publishes them (Publish) after the commit and
// before the batch's writes are acknowledged. Batch.IndexChanges gives
// those rows mostly from memory, as the rules wrote them; ChangesSince
// reads them back by seq, which works because every write to an item,
// product or recall sets its seq to the writing command's ledger position
// (an invariant of the rules that the test ledger checks after every
// command, as it checks that both give the same rows). So an indexed
// pack's row is the committed row, and a write is visible to the
// verifications that follow its acknowledgement. Products and recalls are kept whole (they are few, and
// never change or go once written); packs are bounded by MaxPacks, the
// ones changed longest ago leaving first. A pack the index does not hold
// is read from SQLite as before.

// VerifyIndex holds in memory the rows Verify reads: every product and
// recall, and the most recently changed packs. Its methods are safe for
// concurrent use; Publish and Load must be called by one writer.
type VerifyIndex struct {
	maxPacks int

	mu       sync.RWMutex
	loaded   bool
	products map[string]*Product // by GTIN
	recalls  map[lotKey]*Recall
	packs    map[string]*Item // by key; packs only, not containers
	// order lists (seq, key) for each published pack row in publication
	// order, which is seq order; the front is evicted first. An entry
	// whose seq is not the pack's current one is outdated and skipped.
	order []indexedPack
}

type lotKey struct{ gtin, lot string }

type indexedPack struct {
	seq uint64
	key string
}

// NewVerifyIndex returns an empty index holding at most maxPacks packs
// (at least one). It answers nothing until Load.
func NewVerifyIndex(maxPacks int) *VerifyIndex {
	return &VerifyIndex{maxPacks: max(maxPacks, 1)}
}

// Unload empties ix, which answers nothing again until the next Load: a
// snapshot restore replaces the database under it, and between the copy
// and the Load its rows would be of the ledger before, beside tables
// already of the ledger after.
func (ix *VerifyIndex) Unload() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.products, ix.recalls, ix.packs, ix.order = nil, nil, nil, nil
	ix.loaded = false
}

// MaxPacks is the most packs the index holds.
func (ix *VerifyIndex) MaxPacks() int { return ix.maxPacks }

// Len is the number of packs the index holds.
func (ix *VerifyIndex) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.packs)
}

// IndexChanges are rows a batch of commands wrote, collected inside the
// batch's transaction (Batch.IndexChanges, ChangesSince) to Publish once
// it commits.
type IndexChanges struct {
	products []Product
	recalls  []Recall
	packs    []Item
}

// Len is the number of rows in c.
func (c IndexChanges) Len() int { return len(c.products) + len(c.recalls) + len(c.packs) }

// Load replaces the index's content with the committed projection db
// holds: every product and recall, and the MaxPacks most recently changed
// packs. Call it when the projection is opened or replaced (a snapshot
// restored), with no batch being applied.
func (ix *VerifyIndex) Load(db *gorm.DB) error {
	c, err := readChangedProductsAndRecalls(db, 0) // all: seqs start at 1
	if err == nil {
		// The newest packs, oldest first so that they are published in
		// seq order.
		c.packs, err = queryAll(db, `SELECT packed FROM (SELECT "seq", `+packedItemColumns+` AS packed FROM "items"
			WHERE "kind" = ? ORDER BY "seq" DESC LIMIT ?) ORDER BY "seq"`,
			[]any{ItemPack, ix.maxPacks}, scanPackedItem)
	}
	if err != nil {
		return fmt.Errorf("models: load verify index: %w", err)
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.products, ix.recalls, ix.packs, ix.order = map[string]*Product{}, map[lotKey]*Recall{}, map[string]*Item{}, nil
	ix.publishLocked(c)
	ix.loaded = true
	return nil
}

// ChangesSince reads from tx the products, recalls and packs whose seq is
// above seq: in the transaction that applied the commands after ledger
// position seq, the rows they wrote. Batch.IndexChanges gives the same
// rows for a batch's commands, mostly from memory.
func ChangesSince(tx *gorm.DB, seq uint64) (IndexChanges, error) {
	c, err := readChangedProductsAndRecalls(tx, seq)
	if err == nil {
		c.packs, err = queryAll(tx, packedItemSelect+`WHERE "seq" > ? AND "kind" = ? ORDER BY "seq"`, []any{seq, ItemPack}, scanPackedItem)
	}
	if err != nil {
		return IndexChanges{}, fmt.Errorf("models: read verify index changes: %w", err)
	}
	return c, nil
}

// readChangedProductsAndRecalls reads the products and recalls whose seq
// is above seq.
func readChangedProductsAndRecalls(tx *gorm.DB, seq uint64) (IndexChanges, error) {
	var c IndexChanges
	var err error
	c.products, err = queryAll(tx, productSelect+`WHERE "seq" > ? ORDER BY "seq"`, []any{seq}, scanProduct)
	if err == nil {
		c.recalls, err = queryAll(tx, recallSelect+`WHERE "seq" > ? ORDER BY "seq"`, []any{seq}, scanRecall)
	}
	if err != nil {
		return IndexChanges{}, fmt.Errorf("models: read changed products and recalls: %w", err)
	}
	return c, nil
}

// Publish makes committed changes visible to Verify. Publish each batch's
// changes, in ledger order, after its transaction commits.
// An index not loaded (or unloaded) takes nothing: Load reads it all.
func (ix *VerifyIndex) Publish(c IndexChanges) {
	if c.Len() == 0 {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.loaded {
		ix.publishLocked(c)
	}
}

func (ix *VerifyIndex) publishLocked(c IndexChanges) {
	for i := range c.products {
		p := c.products[i]
		ix.products[p.GTIN] = &p
	}
	for i := range c.recalls {
		r := c.recalls[i]
		ix.recalls[lotKey{r.GTIN, r.Lot}] = &r
	}
	for i := range c.packs {
		it := c.packs[i]
		ix.packs[it.Key] = &it
		ix.order = append(ix.order, indexedPack{seq: it.Seq, key: it.Key})
	}
	for len(ix.packs) > ix.maxPacks {
		old := ix.order[0]
		ix.order = ix.order[1:]
		if it := ix.packs[old.key]; it != nil && it.Seq == old.seq {
			delete(ix.packs, old.key)
		}
	}
	// Outdated entries accumulate when packs change again; rebuild the
	// list when they outnumber the packs, so it stays within twice the
	// index.
	if len(ix.order) > 2*len(ix.packs)+1024 {
		live := ix.order[:0:0]
		for _, e := range ix.order {
			if it := ix.packs[e.key]; it != nil && it.Seq == e.seq {
				live = append(live, e)
			}
		}
		ix.order = live
	}
}

// rows returns the verification rows of gtin and serial, as copies; ok
// is false when the index cannot answer (not loaded, or the pack not
// held) and the projection must be read.
func (ix *VerifyIndex) rows(gtin, serial string) (rows verifyRows, ok bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.loaded {
		return verifyRows{}, false
	}
	p := ix.products[gtin]
	if p == nil {
		return verifyRows{}, true // every product is held: it is not registered
	}
	prod := *p
	rows.product = &prod
	if serial == "" {
		return rows, true
	}
	it := ix.packs[PackKey(gtin, serial)]
	if it == nil {
		return verifyRows{}, false
	}
	pack := *it
	if it.DecommissionedAt != nil {
		t := *it.DecommissionedAt
		pack.DecommissionedAt = &t
	}
	rows.pack = &pack
	if r := ix.recalls[lotKey{pack.GTIN, pack.Lot}]; r != nil {
		rc := *r
		rows.recall = &rc
	}
	return rows, true
}

// Verify is Verify's answer from memory when ix holds the scanned pack's
// rows (ok true): the same answer, from the same rows. Otherwise (ok false,
// and always for a nil ix) the caller reads the projection with Verify.
// The error is Verify's for an unreadable scan.
func (ix *VerifyIndex) Verify(req VerifyRequest) (v Verification, ok bool, err error) {
	if ix == nil {
		return Verification{}, false, nil
	}
	gtin, serial, err := scannedPack(req)
	if err != nil {
		return Verification{}, false, err
	}
	rows, ok := ix.rows(gtin, serial)
	if !ok {
		return Verification{}, false, nil
	}
	return judge(req, gtin, serial, rows), true, nil
}

// productSelect and recallSelect select the columns scanProduct and
// scanRecall read.
const (
	productSelect = `SELECT "gtin", "name", "manufacturer", "form", "strength", "pack_size", "signed", "seq", "record_time" FROM "products" `
	recallSelect  = `SELECT "id", "gtin", "lot", "recalled_by", "reason", "seq", "record_time" FROM "recalls" `
)

func scanProduct(r *sql.Rows) (Product, error) {
	var p Product
	var name, form, strength, size sql.NullString
	var signed sql.NullBool
	var seq int64
	if err := r.Scan(&p.GTIN, &name, &p.Manufacturer, &form, &strength, &size, &signed, &seq, &p.RecordTime); err != nil {
		return p, fmt.Errorf("scan product: %w", err)
	}
	p.Name, p.Form, p.Strength, p.PackSize, p.Signed, p.Seq = name.String, form.String, strength.String, size.String, signed.Bool, uint64(seq)
	return p, nil
}

func scanRecall(r *sql.Rows) (Recall, error) {
	var rc Recall
	var by, reason sql.NullString
	var seq int64
	if err := r.Scan(&rc.ID, &rc.GTIN, &rc.Lot, &by, &reason, &seq, &rc.RecordTime); err != nil {
		return rc, fmt.Errorf("scan recall: %w", err)
	}
	rc.RecalledBy, rc.Reason, rc.Seq = by.String, reason.String, uint64(seq)
	return rc, nil
}

// packedItemSelect selects an item's columns packed into one value (see
// packColumns), which scanPackedItem reads: a batch that moved a pallet
// reads back thousands of packs, and one column a row costs a fraction of
// eighteen.
var (
	packedItemColumns = packColumns(prefixed("", itemColumns))
	packedItemSelect  = `SELECT ` + packedItemColumns + ` FROM "items" `
)

func scanPackedItem(r *sql.Rows) (Item, error) {
	var packed string
	if err := r.Scan(&packed); err != nil {
		return Item{}, fmt.Errorf("scan item: %w", err)
	}
	var f [18]packedField
	if len(itemColumns) != len(f) {
		return Item{}, fmt.Errorf("packed item: %d columns, want %d", len(itemColumns), len(f))
	}
	if err := unpackColumns(packed, f[:]); err != nil {
		return Item{}, err
	}
	row, err := unpackItemFields(f[:])
	if err != nil {
		return Item{}, err
	}
	return row.item()
}
