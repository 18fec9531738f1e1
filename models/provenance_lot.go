package models

import (
	"fmt"
	"slices"

	"gorm.io/gorm"
)

// A lot's chain of custody, read in time bounded by the answer, not by the
// lot. A lot can hold a million packs, and one query over all of them (as
// ChainOfCustody ran before this walk) looks up every pack in the
// event-EPC index and groups every event before it can keep the first few
// thousand:
// 50 s and a gigabyte of a node's memory for one request on a lot of 1.3
// million packs. lotHistory instead walks the lot's packs in ledger order,
// a page at a time, and stops once no pack still unread can have an event
// before the answer's last.
//
// That rests on one property of the ledger. A pack's record is made by the
// event that first names it (the commissioning) and never again, and no
// accepted event names a pack before it exists (the lifecycle rules refuse
// one that names a pack never commissioned: held, commission). Records and
// events both take the next id as they are applied, so a later pack's
// events all come at or after its commissioning event, which comes at or
// after every earlier pack's: the first event of the packs, in pack order,
// never falls. A page's first pack's first event is thus a floor for every
// event of the packs not yet read. TestTheFirstEventsOfALotsPacksNeverFall
// holds the rules to it; a rule that lets an event name a pack before its
// commissioning must change this walk.

// lotPage is how many of a lot's packs one step of the walk reads; a
// variable so tests can make it small.
var lotPage = 256

// lotScanBudget and lotScanBudgetAll bound the packs one answer reads,
// for a trading partner and for a viewer who sees everything (a
// regulator). Reading every pack is needed whenever the walk cannot stop
// early: a lot commissioned whole before any of it moved (its first
// events are all commissionings, up to the last pack's), a lot with fewer
// events than the limit, and a trading partner who saw few of a lot's
// events. Past the budget the answer is the events before the first pack
// not read, marked truncated. Each pack costs two index lookups: about 4
// µs in memory and 20-30 µs on a node whose ledger is larger than its
// page cache, so seconds at a regulator's budget. A partner's is smaller:
// any organisation may ask. Variables so tests can make them small. An
// index of events by lot, written at apply, would remove the walk.
var (
	lotScanBudget    = 100000
	lotScanBudgetAll = 1000000
)

// scanBudget is the budget of lotHistory for viewer.
func scanBudget(viewer *Viewer) int {
	if viewer == nil || viewer.SeesEverything() {
		return lotScanBudgetAll
	}
	return lotScanBudget
}

// lotHistory returns the first limit events of the lot that viewer (nil:
// everything) may see, in ledger order, and whether there may be more:
// more than limit, or the budget ran out before the answer was whole. The
// walk reads event ids only; the events are read once it is done.
func lotHistory(db *gorm.DB, s Subject, viewer *Viewer, limit int) ([]HistoryEntry, bool, error) {
	// The walk reads the events committed when it began, as one statement
	// would: a capture committed between two pages would otherwise reach
	// the later ones only, and leave out an earlier pack's event unsaid.
	// Not in a transaction: that would hold one of the node's few
	// connections for the whole walk, and the writer waits for one. What
	// the bound cannot hold is a row rewritten in place: an event's JSON
	// and declaration are read as the walk ends, so a declaration
	// committed meanwhile shows, its capture's new events not.
	upto, err := lastEventID(db)
	if err != nil {
		return nil, false, err
	}
	// best keeps the first limit+1 event ids found so far, ascending, and
	// direct whether each names the lot or one of its packs itself (not
	// only a case they were in). An event may turn up in several pages.
	var best []int64
	direct := map[int64]bool{}
	add := func(id int64, d bool) {
		if old, ok := direct[id]; ok {
			direct[id] = old || d
			return
		}
		i, _ := slices.BinarySearch(best, id)
		if i > limit {
			return
		}
		direct[id] = d
		best = slices.Insert(best, i, id)
		if len(best) > limit+1 {
			delete(direct, best[limit+1])
			best = best[:limit+1]
		}
	}
	// The lot as a class first, then its packs a page at a time.
	if err := lotEventIDs(db, []any{s.Key}, upto, viewer, limit+1, add); err != nil {
		return nil, false, err
	}
	var after int64 // the last pack read
	read, budget := 0, scanBudget(viewer)
	floor := int64(-1) // every event of a pack not read is at or after it; -1: none left
	for {
		var page []struct {
			ID  int64
			Key string
		}
		if err := db.Raw(`SELECT id, "key" FROM items WHERE gtin = ? AND lot = ? AND id > ? ORDER BY id LIMIT ?`,
			s.gtin, s.lot, after, lotPage).Scan(&page).Error; err != nil {
			return nil, false, fmt.Errorf("models: lot's packs: %w", err)
		}
		if len(page) == 0 {
			floor = -1
			break
		}
		first, err := firstEventOf(db, page[0].Key)
		if err != nil {
			return nil, false, err
		}
		if first > upto {
			// Commissioned since the walk began, as is every pack after
			// it: none has an event the walk reads.
			floor = -1
			break
		}
		floor = max(floor, first) // a pack no event names (0) lowers nothing
		// Enough events come before every event still unread.
		if len(best) > limit && best[limit] < floor {
			break
		}
		if read >= budget {
			break
		}
		keys := make([]any, 0, 2*len(page))
		for _, it := range page {
			keys = append(keys, it.Key, contentsKey(it.Key))
		}
		if err := lotEventIDs(db, keys, upto, viewer, limit+1, add); err != nil {
			return nil, false, err
		}
		after, read = page[len(page)-1].ID, read+len(page)
	}
	// With packs left unread, only the events before the floor are
	// certain to be the lot's first.
	cut := len(best)
	if floor >= 0 {
		cut, _ = slices.BinarySearch(best, floor)
	}
	truncated := cut > limit || cut < len(best) || floor >= 0 && read >= budget
	ids := best[:min(cut, limit)]
	if len(ids) == 0 {
		return []HistoryEntry{}, truncated, nil
	}
	var rows []historyRow
	if err := db.Raw(`SELECT event_records.*, COALESCE(event_declarations.seq, 0) AS declared_seq, event_declarations.json_hash AS declared_hash
		FROM event_records LEFT JOIN event_declarations ON event_declarations.event_record_id = event_records.id
		WHERE event_records.id IN ? ORDER BY event_records.id`, ids).Scan(&rows).Error; err != nil {
		return nil, false, fmt.Errorf("models: lot's events: %w", err)
	}
	if len(rows) != len(ids) {
		return nil, false, fmt.Errorf("models: lot's events: %d of %d found", len(rows), len(ids))
	}
	for i := range rows {
		rows[i].Direct = direct[rows[i].ID]
	}
	return historyEntries(rows), truncated, nil
}

// lotEventIDs passes to add the first n events up to id upto indexed
// under keys that viewer (nil: everything) may see, in ledger order, with
// whether one names a key with a role (not as a container's contents).
func lotEventIDs(db *gorm.DB, keys []any, upto int64, viewer *Viewer, n int, add func(id int64, direct bool)) error {
	where, args := `event_epcs."key" IN ? AND event_epcs.event_id <= ?`, []any{keys, upto}
	from := `event_epcs`
	if viewer != nil {
		if cond, vargs := viewer.visibleEvents(); cond != "" {
			from += ` JOIN event_records ON event_records.id = event_epcs.event_id`
			where += ` AND ` + cond
			args = append(args, vargs...)
		}
	}
	var rows []struct {
		EventID int64
		Direct  bool
	}
	if err := db.Raw(`SELECT event_epcs.event_id, MAX(event_epcs.roles <> 0) AS direct FROM `+from+` WHERE `+where+`
		GROUP BY event_epcs.event_id ORDER BY event_epcs.event_id LIMIT ?`, append(args, n)...).Scan(&rows).Error; err != nil {
		return fmt.Errorf("models: lot's event ids: %w", err)
	}
	for _, r := range rows {
		add(r.EventID, r.Direct)
	}
	return nil
}

// lastEventID is the id of the last event committed; events only ever
// come after it (ids are given in apply order and never reused), so
// statements bounded by it read the events of one moment.
func lastEventID(db *gorm.DB) (int64, error) {
	var id int64
	if err := db.Raw(`SELECT COALESCE(MAX(id), 0) FROM event_records`).Scan(&id).Error; err != nil {
		return 0, fmt.Errorf("models: last event: %w", err)
	}
	return id, nil
}

// firstEventOf is the id of the first event naming the item with key, or
// of a container it was in; 0 when none does.
func firstEventOf(db *gorm.DB, key string) (int64, error) {
	var id int64
	if err := db.Raw(`SELECT COALESCE(MIN(event_id), 0) FROM event_epcs WHERE "key" IN (?, ?)`, key, contentsKey(key)).
		Scan(&id).Error; err != nil {
		return 0, fmt.Errorf("models: first event of %s: %w", key, err)
	}
	return id, nil
}
