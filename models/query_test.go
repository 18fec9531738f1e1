package models

import (
	"errors"
	"testing"
	"time"
)

func TestQueryEvents(t *testing.T) {
	l := newLedger(t)
	l.network()
	start := l.now
	epcs := l.supplyChain("Q1", "Q2", "Q3") // 5 events
	l.capture(glnPharmacy, l.observeEv("dispensing", epcs[0]))
	all, err := QueryEvents(l.db, EventQuery{PerPage: 100})
	if err != nil || len(all.Events) != 6 || all.NextPageToken != "" {
		t.Fatalf("all events: %d, token %q, %v", len(all.Events), all.NextPageToken, err)
	}
	mid := start.Add(3 * time.Minute)
	for _, tc := range []struct {
		name string
		q    EventQuery
		want int
	}{
		{"bizStep bare", EventQuery{BizStep: []string{"shipping"}}, 2},
		{"bizStep URN", EventQuery{BizStep: []string{"urn:epcglobal:cbv:bizstep:receiving"}}, 2},
		{"bizStep Web URI", EventQuery{BizStep: []string{"https://ref.gs1.org/cbv/BizStep-commissioning"}}, 1},
		{"disposition", EventQuery{Disposition: []string{"in_transit"}}, 2},
		{"eventType", EventQuery{EventType: []string{ObjectEvent}}, 6},
		{"eventType none", EventQuery{EventType: []string{AggregationEvent}}, 0},
		{"MATCH_epc DL", EventQuery{MatchEPC: []string{epcs[0]}}, 6},
		{"MATCH_epc URN", EventQuery{MatchEPC: []string{sgtinURN(gtinA, "Q2")}}, 5},
		{"GE_eventTime", EventQuery{GEEventTime: &mid}, 4},
		{"LT_eventTime", EventQuery{LTEventTime: &mid}, 2},
		{"eventID", EventQuery{EventID: []string{firstEventID(t, l)}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := QueryEvents(l.db, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Events) != tc.want {
				t.Fatalf("%d events, want %d", len(page.Events), tc.want)
			}
		})
	}
	// Pagination walks every event once, in order, while more are added.
	var seqs []uint64
	q := EventQuery{PerPage: 4}
	for i := 0; ; i++ {
		page, err := QueryEvents(l.db, q)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, page.Seqs...)
		if i == 0 {
			l.capture(glnPharmacy, l.observeEv("dispensing", epcs[1]))
		}
		if page.NextPageToken == "" {
			break
		}
		q.NextPageToken = page.NextPageToken
	}
	if len(seqs) != 7 {
		t.Fatalf("paged through %d events, want 7", len(seqs))
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] < seqs[i-1] {
			t.Fatal("pages out of order")
		}
	}
	// Bad queries.
	for _, bad := range []EventQuery{
		{BizStep: []string{"shiping"}},
		{NextPageToken: "!!"},
		{BizStep: []string{"shipping"}, NextPageToken: q.NextPageToken + "A"},
	} {
		if _, err := QueryEvents(l.db, bad); !errors.Is(err, ErrBadQuery) {
			t.Errorf("query %+v: err = %v, want ErrBadQuery", bad, err)
		}
	}
	first, _ := QueryEvents(l.db, EventQuery{PerPage: 1})
	if _, err := QueryEvents(l.db, EventQuery{PerPage: 1, BizStep: []string{"shipping"}, NextPageToken: first.NextPageToken}); !errors.Is(err, ErrBadQuery) {
		t.Fatalf("token reused with other filters: %v", err)
	}
}

func firstEventID(t *testing.T, l *ledger) string {
	t.Helper()
	var rec EventRecord
	if err := l.db.Order("id").First(&rec).Error; err != nil {
		t.Fatal(err)
	}
	return rec.EventID
}

func TestQueryEventsByBizLocation(t *testing.T) {
	l := newLedger(t)
	l.network()
	epcs := l.supplyChain("B1")
	ev := l.observeEv("inspecting", epcs[0])
	ev.BizLocation = glnURN(glnPharmacy)
	l.capture(glnPharmacy, ev)
	for _, loc := range []string{glnURN(glnPharmacy), "https://id.gs1.org/414/" + glnPharmacy} {
		page, err := QueryEvents(l.db, EventQuery{BizLocation: []string{loc}})
		if err != nil || len(page.Events) != 1 {
			t.Fatalf("EQ_bizLocation %s: %d events, %v", loc, len(page.Events), err)
		}
	}
	page, err := QueryEvents(l.db, EventQuery{BizLocation: []string{glnURN(glnPharm2)}})
	if err != nil || len(page.Events) != 0 {
		t.Fatalf("other location: %d events, %v", len(page.Events), err)
	}
}
