package models

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// The EPCIS 2.0 query interface (GET /events and named queries): the
// filters Pedigree supports, with keyset pagination. A page token holds
// the last event's row id and a fingerprint of the filters, so it is
// stable while events are appended and refused with other filters.
// QueryEvents is the one implementation: the HTTP API parses the query
// parameters into an EventQuery and answers what QueryEvents returns.

// EventQuery is an EPCIS SimpleEventQuery subset. Each list filter matches
// any of its values; empty filters match everything. Values a client got
// wrong (an unknown event type, action or CBV value, an identifier that is
// not an EPC or a location) are ErrBadQuery.
type EventQuery struct {
	EventType    []string   // eventType: ObjectEvent, AggregationEvent...
	GEEventTime  *time.Time // GE_eventTime
	LTEventTime  *time.Time // LT_eventTime
	GERecordTime *time.Time // GE_recordTime
	LTRecordTime *time.Time // LT_recordTime
	Action       []string   // EQ_action: ADD, OBSERVE or DELETE
	BizStep      []string   // EQ_bizStep, any CBV spelling
	Disposition  []string   // EQ_disposition, any CBV spelling
	// Match holds the MATCH_* filters (see EPCMatch), each of which an
	// event must pass.
	Match       []EPCMatch
	EventID     []string // EQ_eventID
	BizLocation []string // EQ_bizLocation: SGLN URIs or Digital Links
	ReadPoint   []string // EQ_readPoint: SGLN URIs or Digital Links
	// Viewer, when set, keeps only the events it may see (see Viewer);
	// nil reads every organisation's events. The API always sets it.
	Viewer *Viewer
	// PerPage is the page size (DefaultPerPage if 0, at most MaxPerPage).
	PerPage int
	// NextPageToken continues a previous page.
	NextPageToken string
}

// Page sizes of QueryEvents.
const (
	DefaultPerPage = 30
	MaxPerPage     = 1000
)

// MaxQueryValues is how many values one list filter of an EventQuery (its
// eventIDs, its EPCs, ...) may hold. Each value binds a parameter or two of
// one SQLite statement, whose limit is 32,766 in all.
const MaxQueryValues = 1000

// ErrBadQuery is wrapped by QueryEvents errors a client caused: an unknown
// vocabulary value, a bad or foreign page token.
var ErrBadQuery = errors.New("models: bad query")

// ErrQueryTooComplex is wrapped by QueryEvents errors for a query with more
// than MaxQueryValues values in one filter (EPCIS QueryTooComplexException).
var ErrQueryTooComplex = errors.New("models: query too complex")

// EventPage is one page of query results.
type EventPage struct {
	// Events are the stored EPCIS events, in ledger order.
	Events []json.RawMessage `json:"events"`
	// Seqs are the ledger positions of Events, index for index.
	Seqs []uint64 `json:"seqs"`
	// NextPageToken is set when more events may follow.
	NextPageToken string `json:"nextPageToken,omitempty"`
}

// QueryEvents answers an EPCIS event query from the projection.
func QueryEvents(db *gorm.DB, q EventQuery) (EventPage, error) {
	var page EventPage
	per := q.PerPage
	if per <= 0 {
		per = DefaultPerPage
	}
	if per > MaxPerPage {
		per = MaxPerPage
	}
	for _, f := range []struct {
		param string
		vals  []string
	}{
		{"eventType", q.EventType}, {"EQ_action", q.Action}, {"EQ_bizStep", q.BizStep}, {"EQ_disposition", q.Disposition},
		{"EQ_eventID", q.EventID}, {"EQ_bizLocation", q.BizLocation}, {"EQ_readPoint", q.ReadPoint},
	} {
		if len(f.vals) > MaxQueryValues {
			return page, fmt.Errorf("%w: %s lists %d values; at most %d may be asked at once", ErrQueryTooComplex, f.param, len(f.vals), MaxQueryValues)
		}
	}
	ranges := 0
	for _, m := range q.Match {
		if len(m.Values) > MaxQueryValues {
			return page, fmt.Errorf("%w: %s lists %d values; at most %d may be asked at once", ErrQueryTooComplex, m.Param, len(m.Values), MaxQueryValues)
		}
	}
	matches := make([]keyMatch, len(q.Match))
	for i, m := range q.Match {
		km, err := parseMatch(m)
		if err != nil {
			return page, err
		}
		if ranges += len(km.ranges); ranges > MaxMatchRanges {
			return page, fmt.Errorf("%w: the query's EPC patterns ask for more than %d ranges of keys", ErrQueryTooComplex, MaxMatchRanges)
		}
		matches[i] = km
	}
	tx := db.Model(&EventRecord{})
	for _, t := range q.EventType {
		if _, ok := fieldsByType[t]; !ok { // the decoder's list of event types
			return page, fmt.Errorf("%w: eventType %q is not an EPCIS event type", ErrBadQuery, t)
		}
	}
	if len(q.EventType) > 0 {
		tx = tx.Where("type IN ?", q.EventType)
	}
	for _, a := range q.Action {
		if a != ActionAdd && a != ActionObserve && a != ActionDelete {
			return page, fmt.Errorf("%w: EQ_action %q is not ADD, OBSERVE or DELETE", ErrBadQuery, a)
		}
	}
	if len(q.Action) > 0 {
		tx = tx.Where("action IN ?", q.Action)
	}
	for _, f := range []struct {
		col string
		op  string
		t   *time.Time
	}{{"event_time", ">=", q.GEEventTime}, {"event_time", "<", q.LTEventTime}, {"record_time", ">=", q.GERecordTime}, {"record_time", "<", q.LTRecordTime}} {
		if f.t != nil {
			tx = tx.Where(f.col+" "+f.op+" ?", f.t.UTC())
		}
	}
	for _, f := range []struct {
		col    string
		vals   []string
		vocab  *cbvVocab
		column string
	}{{"biz_step", q.BizStep, vocabBizStep, "EQ_bizStep"}, {"disposition", q.Disposition, vocabDisposition, "EQ_disposition"}} {
		if len(f.vals) == 0 {
			continue
		}
		norm := make([]string, len(f.vals))
		for i, v := range f.vals {
			n, err := f.vocab.normalizeCompact(v)
			if err != nil {
				return page, fmt.Errorf("%w: %s: %v", ErrBadQuery, f.column, err)
			}
			norm[i] = n
		}
		tx = tx.Where(f.col+" IN ?", norm)
	}
	if len(q.EventID) > 0 {
		tx = tx.Where("event_hash IN ? AND event_id IN ?", eventIDHashes(q.EventID), q.EventID)
	}
	var bizLocations []string
	for _, f := range []struct {
		col   string
		vals  []string
		param string
	}{{"biz_location", q.BizLocation, "EQ_bizLocation"}, {"read_point", q.ReadPoint, "EQ_readPoint"}} {
		if len(f.vals) == 0 {
			continue
		}
		keys := make([]string, len(f.vals))
		for i, l := range f.vals {
			e, err := parseEPC(l)
			if err != nil || e.Kind != gs1.EPCSGLN {
				return page, fmt.Errorf("%w: %s %q is not an SGLN", ErrBadQuery, f.param, l)
			}
			keys[i] = LocationKey(e.SGLN)
		}
		if f.col == "biz_location" {
			bizLocations = keys
		}
		tx = tx.Where(f.col+" IN ?", keys)
	}
	// A trading partner's two halves are read apart (readVisible), each
	// in the order of its own index, unless the filters that have an
	// index of their own all select few events: then one statement reads
	// those few by whichever of the indexes SQLite takes. A filter that
	// selects many (GE_eventTime years back, a MATCH_ pattern of a whole
	// company) would otherwise have a partner with two events walk the
	// whole ledger; read apart, a query walks at most the partner's own.
	apart := false
	if q.Viewer != nil {
		_, _, _, _, halves := q.Viewer.visibleEventsApart()
		if halves {
			selective, err := q.filtersSelective(db, bizLocations, matches)
			if err != nil {
				return page, fmt.Errorf("models: query events: %w", err)
			}
			apart = !selective
		}
		if cond, args := q.Viewer.visibleEvents(); !apart && cond != "" {
			tx = tx.Where(cond, args...)
		}
	}
	// Read apart, each of the partner's events is checked against a
	// match of a few keys and ranges; otherwise, and for a long match
	// (each of its keys and ranges is a lookup per event), the match
	// lists its events first.
	for _, km := range matches {
		cond, args := km.sql()
		if apart && len(km.keys)+len(km.ranges) <= maxMatchLookupsPerEvent {
			cond, args = km.exists()
		}
		tx = tx.Where(cond, args...)
	}
	fp := q.fingerprint()
	if q.NextPageToken != "" {
		after, err := decodePageToken(q.NextPageToken, fp)
		if err != nil {
			return page, err
		}
		tx = tx.Where("id > ?", after)
	}
	var rows []EventRecord
	var err error
	if apart {
		rows, err = readVisible(tx, *q.Viewer, per+1)
	} else {
		err = tx.Order("id").Limit(per + 1).Find(&rows).Error
	}
	if err != nil {
		return page, fmt.Errorf("models: query events: %w", err)
	}
	more := len(rows) > per
	if more {
		rows = rows[:per]
	}
	page.Events = make([]json.RawMessage, len(rows))
	page.Seqs = make([]uint64, len(rows))
	for i, r := range rows {
		page.Events[i] = json.RawMessage(r.JSON)
		page.Seqs[i] = r.Seq
	}
	if more {
		page.NextPageToken = encodePageToken(rows[len(rows)-1].ID, fp)
	}
	return page, nil
}

// maxMatchLookupsPerEvent is how many keys and ranges an EPC match may
// have and still be checked per event of a partner's (keyMatch.exists):
// each is one lookup in the event-EPC index per event read.
const maxMatchLookupsPerEvent = 16

// selectiveEvents is how many events a filter with an index of its own
// may select and still be read by that index in a trading partner's
// query (a variable for tests).
var selectiveEvents = 10_000

// filtersSelective reports whether q has filters with an index of their
// own and they select few events. Event ids always do (a query names at
// most MaxQueryValues, and SQLite reads their index before a range's).
// Otherwise each of a time range, locations and EPC matches must select
// fewer than selectiveEvents, counted through its index no further than
// that, so that any of them is safe for SQLite to read by.
func (q EventQuery) filtersSelective(db *gorm.DB, bizLocations []string, matches []keyMatch) (bool, error) {
	if len(q.EventID) > 0 {
		return true, nil
	}
	type count struct {
		from string
		args []any
	}
	var counts []count
	if q.GEEventTime != nil || q.LTEventTime != nil {
		c := count{from: `SELECT 1 FROM event_records WHERE 1`}
		if q.GEEventTime != nil {
			c.from, c.args = c.from+` AND event_time >= ?`, append(c.args, q.GEEventTime.UTC())
		}
		if q.LTEventTime != nil {
			c.from, c.args = c.from+` AND event_time < ?`, append(c.args, q.LTEventTime.UTC())
		}
		counts = append(counts, c)
	}
	if len(bizLocations) > 0 {
		counts = append(counts, count{`SELECT 1 FROM event_records WHERE biz_location IN ?`, []any{bizLocations}})
	}
	for _, km := range matches {
		// Under a range, every row whatever its roles: a count that
		// skipped the rows of other roles could read all of a company's.
		// Exact keys hold few rows each, so there it counts by role.
		rows, args := km.indexRows(len(km.ranges) == 0)
		counts = append(counts, count{rows, args})
	}
	if len(counts) == 0 {
		return false, nil
	}
	for _, c := range counts {
		var n int
		if err := db.Raw(`SELECT count(*) FROM (`+c.from+` LIMIT ?)`, append(c.args, selectiveEvents)...).Scan(&n).Error; err != nil {
			return false, err
		}
		if n >= selectiveEvents {
			return false, nil
		}
	}
	return true, nil
}

// readVisible reads the first n events of the query tx that v may see, in
// ledger order: the first n of those v captured and the first n of those
// at v's locations, each in the order of its index, merged. Both read the
// events committed when the first began, as one statement would: an event
// committed between the two could otherwise be in the second half's answer
// and miss from the first's, and the page token would pass it for good.
func readVisible(tx *gorm.DB, v Viewer, n int) ([]EventRecord, error) {
	byActor, atLocation, actorArgs, locationArgs, _ := v.visibleEventsApart()
	upto, err := lastEventID(tx.Session(&gorm.Session{NewDB: true}))
	if err != nil {
		return nil, err
	}
	// A session: each half's Where then copies the conditions, not adds
	// to one statement both share.
	tx = tx.Where("event_records.id <= ?", upto).Session(&gorm.Session{})
	var mine, here []EventRecord
	if err := tx.Where(byActor, actorArgs...).Order("id").Limit(n).Find(&mine).Error; err != nil {
		return nil, err
	}
	if err := tx.Where(atLocation, locationArgs...).Order("id").Limit(n).Find(&here).Error; err != nil {
		return nil, err
	}
	out := make([]EventRecord, 0, min(n, len(mine)+len(here)))
	for len(out) < n && (len(mine) > 0 || len(here) > 0) {
		switch {
		case len(here) == 0 || len(mine) > 0 && mine[0].ID < here[0].ID:
			out, mine = append(out, mine[0]), mine[1:]
		case len(mine) == 0 || here[0].ID < mine[0].ID:
			out, here = append(out, here[0]), here[1:]
		default: // an event the viewer captured at its own location
			out, mine, here = append(out, mine[0]), mine[1:], here[1:]
		}
	}
	return out, nil
}

// fingerprint summarises the filters (not the page size) for page tokens.
func (q EventQuery) fingerprint() [8]byte {
	var b strings.Builder
	list := func(name string, v []string) {
		s := slices.Clone(v)
		slices.Sort(s)
		b.WriteString(name + "=" + strings.Join(s, "\x00") + "\x01")
	}
	list("type", q.EventType)
	list("bizStep", q.BizStep)
	list("disp", q.Disposition)
	if len(q.Match) == 0 {
		// As before the MATCH_ parameters were told apart, so a token
		// issued then still continues a query that has none.
		list("epc", nil)
	}
	match := slices.Clone(q.Match)
	slices.SortStableFunc(match, func(x, y EPCMatch) int { return strings.Compare(x.Param, y.Param) })
	for _, m := range match {
		list(m.Param, m.Values)
	}
	list("id", q.EventID)
	list("loc", q.BizLocation)
	list("action", q.Action)
	list("readPoint", q.ReadPoint)
	for _, t := range []*time.Time{q.GEEventTime, q.LTEventTime, q.GERecordTime, q.LTRecordTime} {
		if t != nil {
			b.WriteString(t.UTC().Format(time.RFC3339Nano))
		}
		b.WriteString("\x01")
	}
	sum := sha256.Sum256([]byte(b.String()))
	var fp [8]byte
	copy(fp[:], sum[:8])
	return fp
}

func encodePageToken(lastID int64, fp [8]byte) string {
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(lastID))
	copy(buf[8:], fp[:])
	return base64.RawURLEncoding.EncodeToString(buf[:])
}

func decodePageToken(tok string, fp [8]byte) (int64, error) {
	buf, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(buf) != 16 {
		return 0, fmt.Errorf("%w: nextPageToken is malformed", ErrBadQuery)
	}
	if [8]byte(buf[8:]) != fp {
		return 0, fmt.Errorf("%w: nextPageToken belongs to a query with other filters", ErrBadQuery)
	}
	return int64(binary.BigEndian.Uint64(buf[:8])), nil
}
