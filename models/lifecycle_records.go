package models

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pedigree-ledger/pedigree/models/gs1"
	"gorm.io/gorm"
)

// LifecycleRecord is one change of a pack's EU FMD status by a decommission
// or its undo (KindDecommission, KindUndoDecommission). The pack's item row
// holds only its present state, and an undo clears who decommissioned it,
// where and when; these rows keep every change, so a pack's chain of
// custody shows it dispensed and made active again, which is what the undo
// rules of Delegated Regulation (EU) 2016/161 Art. 13 let a regulator
// police. EPCIS events that decommission a pack (dispensing, destroying)
// are stored events already and have no row here.
//
// Every column comes from the entry and the pack's record, so a node that
// did not write the rows at apply (a ledger older than the table, a node
// rolled back to a binary without it) writes the same ones later from the
// entries (LifecycleRecordsOf).
type LifecycleRecord struct {
	ID int64 `gorm:"primaryKey;autoIncrement" json:"-"`
	// ItemID is the pack's; an entry changes a pack at most once, so it
	// and Seq are unique together, which lets the rows be written again
	// from the entries without doubling.
	ItemID int64 `gorm:"uniqueIndex:idx_lifecycle_records_item_seq,priority:1;not null" json:"-"`
	// Seq is the ledger position of the decommission or undo.
	Seq uint64 `gorm:"uniqueIndex:idx_lifecycle_records_item_seq,priority:2;index:idx_lifecycle_records_lot,priority:3;not null" json:"seq"`
	// GTIN and Lot are the pack's, so a lot's changes are one index
	// range, in ledger order, rather than a walk of its packs.
	GTIN string      `gorm:"index:idx_lifecycle_records_lot,priority:1;not null" json:"gtin"`
	Lot  string      `gorm:"index:idx_lifecycle_records_lot,priority:2;not null" json:"lot"`
	Kind CommandKind `gorm:"not null" json:"kind"`
	// Status is the status the change set: the decommissioned one, or
	// active for an undo.
	Status Status `gorm:"not null" json:"status"`
	Actor  string `gorm:"not null" json:"actor"`
	// Location is the GLN of the premises (LocationGLN).
	Location         string    `gorm:"not null" json:"location"`
	SuppliedToPublic bool      `gorm:"not null" json:"supplied_to_public,omitempty"`
	RecordTime       time.Time `gorm:"not null" json:"record_time"`
}

// LifecycleChange is a LifecycleRecord with the pack it changed, as a
// chain of custody lists it: its key, and the GTIN and lot of its record
// (ItemGTIN, ItemLot), which a reader compares with the row's own.
type LifecycleChange struct {
	LifecycleRecord
	Key      string `json:"key"`
	ItemGTIN string `json:"-"`
	ItemLot  string `json:"-"`
}

// writeLifecycle records the change the accepted command just made to
// items: status set by the actor at loc.
func (a *applier) writeLifecycle(items []*Item, status Status, loc string, suppliedToPublic bool) error {
	rows := make([]LifecycleRecord, len(items))
	for i, it := range items {
		rows[i] = LifecycleRecord{ItemID: it.ID, Seq: a.seq, GTIN: it.GTIN, Lot: it.Lot, Kind: a.cmd.Kind, Status: status,
			Actor: a.actorID(), Location: loc, SuppliedToPublic: suppliedToPublic, RecordTime: a.at}
	}
	if err := a.tx.CreateInBatches(rows, 500).Error; err != nil {
		return fmt.Errorf("record lifecycle changes: %w", err)
	}
	return nil
}

// LifecycleOf is what an accepted decommission or undo entry recorded:
// the same change (Change, without item, GTIN or lot) for each pack whose
// key is in Keys.
type LifecycleOf struct {
	Keys   []string
	Change LifecycleRecord
}

// LifecycleRecordsOf returns what the accepted command at seq recorded in
// lifecycle_records, read from the command alone, as Apply read it: for a
// decommission or undo the packs and the change; for any other kind, no
// keys. A reader holds a lifecycle row to its entry with it, and a node
// writes the rows of entries it applied without writing them.
func LifecycleRecordsOf(seq uint64, cmd Command) (LifecycleOf, error) {
	var epcs []string
	var out LifecycleOf
	var loc string
	// Decoded leniently: the entry was accepted by the rules of its day,
	// and a field a later release dropped must not make it unreadable.
	switch cmd.Kind {
	case KindDecommission:
		var p DecommissionPayload
		if err := json.Unmarshal(cmd.Payload, &p); err != nil {
			return out, fmt.Errorf("models: entry %d: %w", seq, err)
		}
		epcs, loc = p.EPCs, p.Location
		out.Change.Status, out.Change.SuppliedToPublic = p.Status, p.SuppliedToPublic
	case KindUndoDecommission:
		var p UndoDecommissionPayload
		if err := json.Unmarshal(cmd.Payload, &p); err != nil {
			return out, fmt.Errorf("models: entry %d: %w", seq, err)
		}
		epcs, loc = p.EPCs, p.Location
		out.Change.Status = StatusActive
	default:
		return out, nil
	}
	gln := cmd.Actor
	if loc != "" {
		var ok bool
		if gln, ok = LocationGLN(loc); !ok {
			return out, fmt.Errorf("models: entry %d: location %q is not a GLN", seq, loc)
		}
	}
	out.Change.Seq, out.Change.Kind, out.Change.Actor, out.Change.Location, out.Change.RecordTime =
		seq, cmd.Kind, cmd.Actor, gln, cmd.Time.UTC()
	out.Keys = make([]string, len(epcs))
	for i, s := range epcs {
		epc, err := parseEPC(s)
		if err != nil || epc.Kind != gs1.EPCSGTIN {
			return out, fmt.Errorf("models: entry %d: epcs[%d] %q is not a pack", seq, i, s)
		}
		out.Keys[i] = EPCKey(epc)
	}
	return out, nil
}

// RecordLifecycle writes the lifecycle rows of accepted entries (see
// LifecycleRecordsOf), in their order and each entry's packs in payload
// order, as Apply writes them, and passes over rows already written. Each
// pack's GTIN and lot come from its record, which a pack never changes.
// An entry naming a pack the projection does not hold gets no row; its
// seq is returned in skipped, with why.
func RecordLifecycle(tx *gorm.DB, ofs []LifecycleOf) (skipped map[uint64]error, err error) {
	seen := map[string]bool{}
	var keys []string
	for _, of := range ofs {
		for _, k := range of.Keys {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	byKey := make(map[string]Item, len(keys))
	for chunk := range slices.Chunk(keys, sqlChunk) {
		var part []Item
		if err := tx.Select("id", "key", "gtin", "lot").Where(`"key" IN ?`, chunk).Find(&part).Error; err != nil {
			return nil, fmt.Errorf("models: lifecycle packs: %w", err)
		}
		for _, it := range part {
			byKey[it.Key] = it
		}
	}
	const cols = 10
	var vals []any
	flush := func() error {
		if len(vals) == 0 {
			return nil
		}
		row := "(?" + strings.Repeat(",?", cols-1) + ")"
		q := `INSERT OR IGNORE INTO lifecycle_records (item_id, seq, gtin, lot, kind, status, actor, location, supplied_to_public, record_time) VALUES ` +
			row + strings.Repeat(","+row, len(vals)/cols-1)
		if err := tx.Exec(q, vals...).Error; err != nil {
			return fmt.Errorf("models: record lifecycle rows: %w", err)
		}
		vals = vals[:0]
		return nil
	}
next:
	for _, of := range ofs {
		for _, k := range of.Keys {
			if _, ok := byKey[k]; !ok {
				if skipped == nil {
					skipped = map[uint64]error{}
				}
				skipped[of.Change.Seq] = fmt.Errorf("%w: the entry names %s, which the projection does not hold", ErrNotFound, k)
				continue next
			}
		}
		ch := of.Change
		for _, k := range of.Keys {
			it := byKey[k]
			vals = append(vals, it.ID, ch.Seq, it.GTIN, it.Lot, ch.Kind, ch.Status, ch.Actor, ch.Location, ch.SuppliedToPublic, ch.RecordTime)
			if len(vals) >= 300*cols {
				if err := flush(); err != nil {
					return skipped, err
				}
			}
		}
	}
	return skipped, flush()
}

// lifecycleChanges reads the subject's lifecycle changes in ledger order,
// at most limit; for a viewer that does not see everything, only those it
// made or that were made at its premises, as with events (a change is a
// decommission entry's, which SeesEntry gives its writer alone): another
// pharmacy's dispense of a pack the viewer once held is not its business.
func lifecycleChanges(db *gorm.DB, s Subject, viewer *Viewer, limit int) ([]LifecycleChange, error) {
	q := db.Table("lifecycle_records").
		Select(`lifecycle_records.*, items."key" AS "key", items.gtin AS item_gtin, items.lot AS item_lot`).
		Joins("JOIN items ON items.id = lifecycle_records.item_id")
	switch {
	case s.lot != "":
		q = q.Where("lifecycle_records.gtin = ? AND lifecycle_records.lot = ?", s.gtin, s.lot)
	default:
		q = q.Where(`lifecycle_records.item_id IN (SELECT id FROM items WHERE `+s.items+`)`, s.itemArgs...)
	}
	if viewer != nil && !viewer.SeesEverything() {
		q = q.Where("(lifecycle_records.actor = ? OR lifecycle_records.location = ?)", viewer.Org, viewer.Org)
	}
	out := []LifecycleChange{}
	// Both indexes end in seq (and the rowid): ledger order without a sort.
	if err := q.Order("lifecycle_records.seq, lifecycle_records.id").Limit(limit).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("models: lifecycle changes: %w", err)
	}
	return out, nil
}

// subjectRecall returns the recall of the subject's lot: a lot's own, or,
// of a pack, its lot's; nil when there is none or the subject is a
// container.
func subjectRecall(db *gorm.DB, s Subject, items []Item) (*Recall, error) {
	gtin, lot := s.gtin, s.lot
	if lot == "" {
		if len(items) != 1 || items[0].Kind != ItemPack {
			return nil, nil
		}
		gtin, lot = items[0].GTIN, items[0].Lot
	}
	var r []Recall
	if err := db.Where("gtin = ? AND lot = ?", gtin, lot).Limit(1).Find(&r).Error; err != nil {
		return nil, fmt.Errorf("models: the lot's recall: %w", err)
	}
	if len(r) == 0 {
		return nil, nil
	}
	return &r[0], nil
}
