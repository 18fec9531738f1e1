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
)

// The EPCIS 2.0 query interface (GET /events and named queries): the
// filters Pedigree supports, with keyset pagination. A page token holds
// the last event's row id and a fingerprint of the filters, so it is
// stable while events are appended and refused with other filters.

// EventQuery is an EPCIS SimpleEventQuery subset. Each list filter matches
// any of its values; empty filters match everything.
type EventQuery struct {
	EventType   []string   // eventType
	GEEventTime *time.Time // GE_eventTime
	LTEventTime *time.Time // LT_eventTime
	BizStep     []string   // EQ_bizStep, any CBV spelling
	Disposition []string   // EQ_disposition, any CBV spelling
	MatchEPC    []string   // MATCH_epc: EPC URIs or Digital Link URIs
	EventID     []string   // EQ_eventID
	BizLocation []string   // EQ_bizLocation
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

// ErrBadQuery is wrapped by QueryEvents errors a client caused: an unknown
// vocabulary value, a bad or foreign page token.
var ErrBadQuery = errors.New("models: bad query")

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
	tx := db.Model(&EventRecord{})
	if len(q.EventType) > 0 {
		tx = tx.Where("type IN ?", q.EventType)
	}
	if q.GEEventTime != nil {
		tx = tx.Where("event_time >= ?", q.GEEventTime.UTC())
	}
	if q.LTEventTime != nil {
		tx = tx.Where("event_time < ?", q.LTEventTime.UTC())
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
			n, err := f.vocab.normalize(v)
			if err != nil {
				return page, fmt.Errorf("%w: %s: %v", ErrBadQuery, f.column, err)
			}
			norm[i] = n
		}
		tx = tx.Where(f.col+" IN ?", norm)
	}
	if len(q.EventID) > 0 {
		tx = tx.Where("event_id IN ?", q.EventID)
	}
	if len(q.BizLocation) > 0 {
		keys := make([]string, len(q.BizLocation))
		for i, l := range q.BizLocation {
			keys[i] = keyOf(l)
		}
		tx = tx.Where("biz_location IN ?", keys)
	}
	if len(q.MatchEPC) > 0 {
		keys := make([]string, len(q.MatchEPC))
		for i, e := range q.MatchEPC {
			keys[i] = keyOf(e)
		}
		tx = tx.Where(`id IN (SELECT event_id FROM event_epcs WHERE "key" IN ?)`, keys)
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
	if err := tx.Order("id").Limit(per + 1).Find(&rows).Error; err != nil {
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
	list("epc", q.MatchEPC)
	list("id", q.EventID)
	list("loc", q.BizLocation)
	for _, t := range []*time.Time{q.GEEventTime, q.LTEventTime} {
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
