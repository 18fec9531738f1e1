package models

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pedigree-ledger/pedigree/models/gs1"
	"gorm.io/gorm"
)

// Read functions the server calls: lookups, provenance (chains of custody)
// and listings. They read the local projection; the caller chooses the
// consistency level (a local read, or a read after a leader barrier).
// ChainOfCustody is the one reader of a pack's, lot's or container's
// events; history is its query.

// HistoryEntry is one event in a chain of custody.
type HistoryEntry struct {
	// Seq is the ledger position of the command that captured the event;
	// a regulator asks for its Merkle inclusion proof.
	Seq         uint64    `json:"seq"`
	EventID     string    `json:"event_id"`
	Type        string    `json:"type"`
	EventTime   time.Time `json:"event_time"`
	RecordTime  time.Time `json:"record_time"`
	Action      string    `json:"action,omitempty"`
	BizStep     string    `json:"biz_step,omitempty"`
	Disposition string    `json:"disposition,omitempty"`
	BizLocation string    `json:"biz_location,omitempty"`
	Actor       string    `json:"actor"`
	// Direct is false when the event named a container the item was in.
	Direct bool `json:"direct"`
	// Event is the stored EPCIS 2.0 JSON-LD event.
	Event json.RawMessage `json:"event"`
	// DeclaredSeq is the ledger position of the capture whose error
	// declaration Event restates (EventDeclaration); 0 when none is
	// recorded for the JSON stored.
	DeclaredSeq uint64 `json:"declared_seq,omitempty"`
}

// historyRow is what the history queries select.
type historyRow struct {
	EventRecord
	Direct       bool
	DeclaredSeq  uint64
	DeclaredHash []byte
}

// MaxHistory bounds a history answer; a lot's history can be long.
const MaxHistory = 10000

// history returns the events indexed under the keys that match where (a
// condition on event_epcs."key"), in ledger order, at most limit of them
// (0: MaxHistory), only those viewer may see when it is set.
func history(db *gorm.DB, where string, args []any, viewer *Viewer, limit int) ([]HistoryEntry, error) {
	rows, err := historyRows(db, where, args, viewer, limit)
	if err != nil {
		return nil, err
	}
	return historyEntries(rows), nil
}

// historyRows is history's query: its rows, with their event_records ids.
func historyRows(db *gorm.DB, where string, args []any, viewer *Viewer, limit int) ([]historyRow, error) {
	if limit <= 0 {
		limit = MaxHistory
	}
	where = "(" + where + ")"
	args = slices.Clone(args)
	if viewer != nil {
		if cond, vargs := viewer.visibleEvents(); cond != "" {
			where += " AND " + cond
			args = append(args, vargs...)
		}
	}
	var rows []historyRow
	err := db.Raw(`SELECT event_records.*, MAX(event_epcs.roles <> 0) AS direct, COALESCE(event_declarations.seq, 0) AS declared_seq, event_declarations.json_hash AS declared_hash FROM event_epcs
		JOIN event_records ON event_records.id = event_epcs.event_id
		LEFT JOIN event_declarations ON event_declarations.event_record_id = event_records.id
		WHERE `+where+` GROUP BY event_records.id ORDER BY event_records.id LIMIT ?`, append(args, limit)...).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("models: history: %w", err)
	}
	return rows, nil
}

// historyEntries turns history rows into entries.
func historyEntries(rows []historyRow) []HistoryEntry {
	out := make([]HistoryEntry, len(rows))
	for i, r := range rows {
		if r.DeclaredSeq != 0 {
			if sum := sha256.Sum256([]byte(r.JSON)); !bytes.Equal(sum[:], r.DeclaredHash) {
				r.DeclaredSeq = 0 // the row describes another JSON: see EventDeclaration
			}
		}
		out[i] = HistoryEntry{Seq: r.Seq, EventID: r.EventID, Type: r.Type, EventTime: r.EventTime, RecordTime: r.RecordTime,
			Action: r.Action, BizStep: r.BizStep, Disposition: r.Disposition, BizLocation: r.BizLocation,
			Actor: r.Actor, Direct: r.Direct, Event: json.RawMessage(r.JSON), DeclaredSeq: r.DeclaredSeq}
	}
	return out
}

// Subject names what a chain of custody is about: a pack, a lot or a case
// or pallet. Make one with PackSubject, LotSubject or ContainerSubject.
type Subject struct {
	// Key is the subject's canonical key: PackKey, LotKey or ContainerKey.
	Key string
	// events is the condition on event_epcs."key" selecting its events,
	// items the condition on items selecting its ledger records.
	events, items       string
	eventArgs, itemArgs []any
	// gtin and lot name a lot subject's lot (lotHistory); "" for others.
	gtin, lot string
}

// Lot returns the GTIN and lot of a lot subject; ok is false for a pack
// or a container.
func (s Subject) Lot() (gtin, lot string, ok bool) { return s.gtin, s.lot, s.lot != "" }

// PackSubject names a pack: its events are those that named it or a
// container it was in.
func PackSubject(gtin, serial string) (Subject, error) {
	g, err := gs1.NormalizeGTIN(gtin)
	if err != nil {
		return Subject{}, fmt.Errorf("models: pack: %w", err)
	}
	return itemSubject(PackKey(g, serial)), nil
}

// itemSubject names a pack or container by its key: its events are those
// that named it, those that moved a container it was in and those that
// unpacked all of one it was in.
func itemSubject(k string) Subject {
	return Subject{Key: k, events: `event_epcs."key" IN (?, ?)`, eventArgs: []any{k, contentsKey(k)}, items: `"key" = ?`, itemArgs: []any{k}}
}

// LotSubject names a lot: its events are those naming the lot as a class
// and those naming any of its packs.
func LotSubject(gtin, lot string) (Subject, error) {
	g, err := gs1.NormalizeGTIN(gtin)
	if err != nil {
		return Subject{}, fmt.Errorf("models: lot: %w", err)
	}
	// Its events are read by lotHistory.
	return Subject{Key: LotKey(g, lot), items: `gtin = ? AND lot = ?`, itemArgs: []any{g, lot}, gtin: g, lot: lot}, nil
}

// ContainerSubject names a case or pallet by its canonical key
// (ContainerKey) or any EPC/Digital Link URI of it.
func ContainerSubject(keyOrURI string) Subject {
	return itemSubject(keyOf(keyOrURI))
}

// MaxCustodyItems bounds the items of a Custody: a lot may hold tens of
// thousands of packs.
const MaxCustodyItems = 100

// CustodyQuery says for whom and how much of a chain of custody to read.
type CustodyQuery struct {
	// Viewer, when set, keeps only the events it may see, and a subject
	// none of whose events it may see is, to it, not on the ledger
	// (ErrNotFound). nil reads everything.
	Viewer *Viewer
	// Limit caps the events (MaxHistory if 0 or more); Truncated says
	// when there were more.
	Limit int
}

// Custody is a subject's chain of custody as one viewer may see it.
type Custody struct {
	// Items are the ledger records of the pack or container, or the first
	// MaxCustodyItems packs of a lot, in ledger order; for a viewer that
	// does not see everything, only those it saw an event of.
	Items []Item
	// ItemsTruncated is true when the subject has more items than Items
	// holds (a lot of more than MaxCustodyItems packs), or, for a viewer
	// that does not see everything, may have: of a lot, it is asked
	// about the first lotScanBudget packs.
	ItemsTruncated bool
	// Events are the subject's events, in ledger order.
	Events []HistoryEntry
	// Truncated is true when more events than the limit exist, or, of a
	// lot, may exist: past lotScanBudget packs, the events are those
	// before the first pack not read.
	Truncated bool
	// Changes are the decommissions and undos of the pack or the lot's
	// packs (LifecycleRecord), in ledger order; for a viewer that does
	// not see everything, only those it made or that were made at its
	// premises. ChangesTruncated says there are more than the limit.
	Changes          []LifecycleChange
	ChangesTruncated bool
	// Recall is the recall of the lot, or of a pack's lot; nil if none.
	// Recalls are public: every organisation must stop supplying the lot.
	Recall *Recall
}

// ChainOfCustody returns the subject's records and events for q. It
// returns ErrNotFound when the subject is not on the ledger, or the viewer
// may see none of its events. A lot's events take many statements
// (lotHistory), which read the events committed when the first began.
// The items are read before the events, each statement at its moment:
// their records change in place, so no bound on ids would hold them.
func ChainOfCustody(db *gorm.DB, s Subject, q CustodyQuery) (Custody, error) {
	c := Custody{Items: []Item{}, Events: []HistoryEntry{}, Changes: []LifecycleChange{}}
	items := db.Model(&Item{}).Where(s.items, s.itemArgs...)
	restricted := q.Viewer != nil && !q.Viewer.SeesEverything()
	if restricted {
		if s.lot != "" {
			// Of a lot's packs, only the first lotScanBudget are asked
			// whether the viewer saw them (see lotHistory): those up to
			// the last of them, read in the order of the lot's index.
			var edge []int64
			if err := db.Raw(`SELECT id FROM items WHERE gtin = ? AND lot = ? ORDER BY id LIMIT 2 OFFSET ?`,
				s.gtin, s.lot, lotScanBudget-1).Scan(&edge).Error; err != nil {
				return c, fmt.Errorf("models: custody items: %w", err)
			}
			if len(edge) > 0 {
				items = items.Where("id <= ?", edge[0])
			}
			c.ItemsTruncated = len(edge) > 1
		}
		// A trading partner reads the record (holder, status, who
		// dispensed it) of an item it saw an event of, not of every pack
		// of a lot one of whose packs it handled.
		cond, args := q.Viewer.visibleEvents()
		items = items.Where(`EXISTS (SELECT 1 FROM event_epcs JOIN event_records ON event_records.id = event_epcs.event_id
			WHERE event_epcs."key" IN (items."key", `+contentsKeySQL(`items."key"`)+`) AND `+cond+`)`, args...)
	}
	// As for events, one more than the limit tells whether there are more.
	if err := items.Order("id").Limit(MaxCustodyItems + 1).Find(&c.Items).Error; err != nil {
		return c, fmt.Errorf("models: custody items: %w", err)
	}
	if len(c.Items) > MaxCustodyItems {
		c.Items, c.ItemsTruncated = c.Items[:MaxCustodyItems], true
	}
	if len(c.Items) == 0 && !restricted {
		return c, ErrNotFound
	}
	limit := q.Limit
	if limit <= 0 || limit > MaxHistory {
		limit = MaxHistory
	}
	var events []HistoryEntry
	var err error
	if s.lot != "" {
		events, c.Truncated, err = lotHistory(db, s, q.Viewer, limit)
	} else {
		// One more than the limit tells whether the answer is truncated.
		events, err = history(db, s.events, s.eventArgs, q.Viewer, limit+1)
		if len(events) > limit {
			events, c.Truncated = events[:limit], true
		}
	}
	if err != nil {
		return c, err
	}
	c.Events = events
	if len(events) == 0 && restricted && !c.Truncated {
		// A trading partner sees only its own trade: a pack it never
		// handled is, to it, not on the ledger. (Of a lot read only in
		// part, that cannot be said.)
		return Custody{Items: []Item{}, Events: []HistoryEntry{}, Changes: []LifecycleChange{}}, ErrNotFound
	}
	if c.Changes, err = lifecycleChanges(db, s, q.Viewer, limit+1); err != nil {
		return c, err
	}
	if len(c.Changes) > limit {
		c.Changes, c.ChangesTruncated = c.Changes[:limit], true
	}
	if c.Recall, err = subjectRecall(db, s, c.Items); err != nil {
		return c, err
	}
	return c, nil
}

// LotOnLedger reports whether any pack of the lot was commissioned. It
// asks for one pack, not a count: a lot may hold millions, and the GS1
// resolver asks on behalf of anyone.
func LotOnLedger(db *gorm.DB, gtin, lot string) (bool, error) {
	var ids []int64
	if err := db.Raw(`SELECT id FROM items WHERE gtin = ? AND lot = ? LIMIT 1`, gtin, lot).Scan(&ids).Error; err != nil {
		return false, fmt.Errorf("models: lot on the ledger: %w", err)
	}
	return len(ids) > 0, nil
}

// LookupPack returns the pack (or container) with the given canonical key
// or EPC/Digital Link URI.
func LookupPack(db *gorm.DB, keyOrURI string) (Item, error) {
	var it Item
	return it, take(db.Where(`"key" = ?`, keyOf(keyOrURI)), &it, "pack")
}

// LookupProduct returns the product with gtin (any GTIN length).
func LookupProduct(db *gorm.DB, gtin string) (Product, error) {
	var p Product
	g, err := gs1.NormalizeGTIN(gtin)
	if err != nil {
		return p, fmt.Errorf("models: %w", err)
	}
	return p, take(db.Where("gtin = ?", g), &p, "product")
}

// LookupKey returns the registered signing key with keyID.
func LookupKey(db *gorm.DB, keyID string) (SigningKey, error) {
	var k SigningKey
	return k, take(db.Where("key_id = ?", keyID), &k, "signing key")
}

// LookupOrganisation returns the organisation with id.
func LookupOrganisation(db *gorm.DB, id string) (Organisation, error) {
	var o Organisation
	return o, take(db.Where("id = ?", id), &o, "organisation")
}

// take runs a single-row query, mapping no row to ErrNotFound.
func take(q *gorm.DB, dst any, what string) error {
	err := q.Take(dst).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("models: look up %s: %w", what, err)
	}
	return nil
}

// AlertQuery selects alerts, newest first.
type AlertQuery struct {
	// BeforeID pages backwards: only alerts with a smaller id (0: newest).
	BeforeID int64
	// Verdict filters by verdict when set.
	Verdict string
	// Viewer, when set, keeps only the alerts it may see: those its own
	// organisation raised or that were raised at its premises. nil reads
	// every alert. The API always sets it.
	Viewer *Viewer
	// Limit is the page size (default 1000, at most MaxAlertPage).
	Limit int
}

// MaxAlertPage is the most alerts ListAlerts reads at once.
const MaxAlertPage = 10000

// ListAlerts returns alerts, newest first.
func ListAlerts(db *gorm.DB, q AlertQuery) ([]Alert, error) {
	if q.Limit <= 0 {
		q.Limit = 1000
	}
	q.Limit = min(q.Limit, MaxAlertPage)
	tx := db.Model(&Alert{})
	if q.BeforeID > 0 {
		tx = tx.Where("id < ?", q.BeforeID)
	}
	if q.Verdict != "" {
		tx = tx.Where("verdict = ?", q.Verdict)
	}
	if q.Viewer != nil && !q.Viewer.SeesEverything() {
		tx = tx.Where("actor = ? OR location = ?", q.Viewer.Org, q.Viewer.Org)
	}
	var out []Alert
	if err := tx.Order("id DESC").Limit(q.Limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: list alerts: %w", err)
	}
	return out, nil
}

// ListRecalls returns the recalls, newest first; gtin filters when set.
func ListRecalls(db *gorm.DB, gtin string) ([]Recall, error) {
	tx := db.Model(&Recall{})
	if gtin != "" {
		g, err := gs1.NormalizeGTIN(gtin)
		if err != nil {
			return nil, fmt.Errorf("models: %w", err)
		}
		tx = tx.Where("gtin = ?", g)
	}
	var out []Recall
	if err := tx.Order("id DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: list recalls: %w", err)
	}
	return out, nil
}
