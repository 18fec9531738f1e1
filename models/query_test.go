package models

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
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
	checkQueryCounts(t, l.db, []queryCount{
		{"bizStep bare", EventQuery{BizStep: []string{"shipping"}}, 2},
		{"bizStep URN", EventQuery{BizStep: []string{"urn:epcglobal:cbv:bizstep:receiving"}}, 2},
		{"bizStep Web URI", EventQuery{BizStep: []string{"https://ref.gs1.org/cbv/BizStep-commissioning"}}, 1},
		{"disposition", EventQuery{Disposition: []string{"in_transit"}}, 2},
		{"eventType", EventQuery{EventType: []string{ObjectEvent}}, 6},
		{"eventType none", EventQuery{EventType: []string{AggregationEvent}}, 0},
		{"MATCH_epc DL", EventQuery{Match: []EPCMatch{{"MATCH_epc", []string{epcs[0]}}}}, 6},
		{"MATCH_epc URN", EventQuery{Match: []EPCMatch{{"MATCH_epc", []string{sgtinURN(gtinA, "Q2")}}}}, 5},
		{"GE_eventTime", EventQuery{GEEventTime: &mid}, 4},
		{"LT_eventTime", EventQuery{LTEventTime: &mid}, 2},
		{"eventID", EventQuery{EventID: []string{firstEventID(t, l)}}, 1},
	})
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

// sglnExt is an organisation's location with an extension, as an SGLN URN.
func sglnExt(gln, ext string) string {
	return "urn:epc:id:sgln:" + gln[:7] + "." + gln[7:12] + "." + ext
}

// TestQueryEventsVisibility checks the visibility rule per viewer: an
// organisation sees the events it captured and those at its own locations
// (its GLN or an SGLN under it), regulators and admins everything.
func TestQueryEventsVisibility(t *testing.T) {
	l := newLedger(t)
	l.network()
	l.supplyChain("V1") // maker 2, wholesaler 2, pharmacy 1
	// The maker records a pack made at a site under the pharmacy's GLN (a
	// hospital pharmacy's compounding unit, say): the pharmacy sees it by
	// its location alone.
	at := l.commissionEv("L2", "2028-12-31", sgtinDL(gtinA, "V2"))
	at.BizLocation = sglnExt(glnPharmacy, "unit7")
	l.capture(glnMaker, at)
	for _, tc := range []struct {
		name   string
		viewer *Viewer
		want   int
	}{
		{"nobody in particular", nil, 6},
		{"regulator", &Viewer{Org: glnReg, Role: RoleRegulator}, 6},
		{"admin", &Viewer{Org: adminID, Role: RoleAdmin}, 6},
		{"maker", &Viewer{Org: glnMaker, Role: RoleManufacturer}, 3},
		{"wholesaler", &Viewer{Org: glnWholesal, Role: RoleWholesaler}, 2},
		{"pharmacy: its receipt and the event at its site", &Viewer{Org: glnPharmacy, Role: RolePharmacy}, 2},
		{"a pharmacy that never handled the pack", &Viewer{Org: glnPharm2, Role: RolePharmacy}, 0},
		{"the zero viewer", &Viewer{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := QueryEvents(l.db, EventQuery{Viewer: tc.viewer, PerPage: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Events) != tc.want {
				t.Fatalf("%d events, want %d", len(page.Events), tc.want)
			}
			// The rule holds for each event, not just the count.
			for _, seq := range page.Seqs {
				var rec EventRecord
				if err := l.db.Where("seq = ?", seq).First(&rec).Error; err != nil {
					t.Fatal(err)
				}
				if v := tc.viewer; v != nil && !v.SeesEverything() && rec.Actor != v.Org && !strings.HasPrefix(rec.BizLocation, "(414)"+v.Org) {
					t.Fatalf("%s sees an event of %s at %q", v.Org, rec.Actor, rec.BizLocation)
				}
			}
		})
	}
	// Filters narrow the visible events further, never widen them.
	pharm := &Viewer{Org: glnPharmacy, Role: RolePharmacy}
	page, err := QueryEvents(l.db, EventQuery{Viewer: pharm, BizStep: []string{"shipping"}})
	if err != nil || len(page.Events) != 0 {
		t.Fatalf("the pharmacy sees %d shipping events (%v), want none of others' shipments", len(page.Events), err)
	}
}

// TestQueryEventsRecordTimeActionReadPoint checks the filters the HTTP
// query offers beyond the first ones: record time bounds, EQ_action,
// EQ_readPoint, and that they take part in the page token's fingerprint.
func TestQueryEventsRecordTimeActionReadPoint(t *testing.T) {
	l := newLedger(t)
	l.network()
	epcs := l.supplyChain("T1", "T2") // three captures, record times 2, 4 and 5 minutes in
	l.tick(time.Hour)
	ev := l.observeEv("inspecting", epcs[1])
	ev.ReadPoint = glnURN(glnPharmacy)
	l.capture(glnPharmacy, ev)
	var recs []EventRecord
	if err := l.db.Order("id").Find(&recs).Error; err != nil || len(recs) != 6 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	// The record time of the wholesaler's capture splits the ledger: two
	// events before it, four at or after it.
	split := recs[2].RecordTime
	beforeSplit, fromSplit := 0, 0
	for _, r := range recs {
		if r.RecordTime.Before(split) {
			beforeSplit++
		} else {
			fromSplit++
		}
	}
	if beforeSplit != 2 || fromSplit != 4 {
		t.Fatalf("fixture: %d events before the split, %d from it", beforeSplit, fromSplit)
	}
	later := split.Add(time.Minute)
	checkQueryCounts(t, l.db, []queryCount{
		{"GE_recordTime", EventQuery{GERecordTime: &split}, 4},
		{"LT_recordTime", EventQuery{LTRecordTime: &split}, 2},
		{"recordTime window", EventQuery{GERecordTime: &split, LTRecordTime: &later}, 2},
		{"recordTime empty window", EventQuery{GERecordTime: &later, LTRecordTime: &split}, 0},
		{"EQ_action ADD", EventQuery{Action: []string{ActionAdd}}, 1},
		{"EQ_action OBSERVE", EventQuery{Action: []string{ActionObserve}}, 5},
		{"EQ_action either", EventQuery{Action: []string{ActionAdd, ActionObserve}}, 6},
		{"EQ_action DELETE", EventQuery{Action: []string{ActionDelete}}, 0},
		{"EQ_readPoint URN", EventQuery{ReadPoint: []string{glnURN(glnPharmacy)}}, 1},
		{"EQ_readPoint Digital Link", EventQuery{ReadPoint: []string{"https://id.gs1.org/414/" + glnPharmacy}}, 1},
		{"EQ_readPoint elsewhere", EventQuery{ReadPoint: []string{glnURN(glnPharm2)}}, 0},
		{"combined", EventQuery{Action: []string{ActionObserve}, GERecordTime: &later, ReadPoint: []string{glnURN(glnPharmacy)}}, 1},
	})

	for _, bad := range []EventQuery{
		{EventType: []string{"FooEvent"}},
		{Action: []string{"UPDATE"}},
		{Match: []EPCMatch{{"MATCH_epc", []string{"urn:x"}}}},
		{BizLocation: []string{sgtinURN(gtinA, "T1")}},
		{ReadPoint: []string{"shelf 7"}},
		{Disposition: []string{"urn:epcglobal:cbv:disp:mislaid"}},
	} {
		if _, err := QueryEvents(l.db, bad); !errors.Is(err, ErrBadQuery) {
			t.Errorf("query %+v: err = %v, want ErrBadQuery", bad, err)
		}
	}
	first, err := QueryEvents(l.db, EventQuery{PerPage: 1, Action: []string{ActionObserve}})
	if err != nil || first.NextPageToken == "" {
		t.Fatalf("first page: %v", err)
	}
	for _, other := range []EventQuery{
		{PerPage: 1, Action: []string{ActionAdd}},
		{PerPage: 1, Action: []string{ActionObserve}, GERecordTime: &split},
		{PerPage: 1, Action: []string{ActionObserve}, ReadPoint: []string{glnURN(glnPharmacy)}},
	} {
		other.NextPageToken = first.NextPageToken
		if _, err := QueryEvents(l.db, other); !errors.Is(err, ErrBadQuery) {
			t.Errorf("token reused with %+v: err = %v, want ErrBadQuery", other, err)
		}
	}
	same := EventQuery{PerPage: 1, Action: []string{ActionObserve}, NextPageToken: first.NextPageToken}
	if next, err := QueryEvents(l.db, same); err != nil || len(next.Seqs) != 1 || next.Seqs[0] <= first.Seqs[0] {
		t.Fatalf("second page: %+v, %v", next.Seqs, err)
	}
}

// queryCount is a query and the number of events it must find.
type queryCount struct {
	name string
	q    EventQuery
	want int
}

// checkQueryCounts runs each query in a subtest of its name.
func checkQueryCounts(t *testing.T, db *gorm.DB, cases []queryCount) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			page, err := QueryEvents(db, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Events) != tc.want {
				t.Fatalf("%d events, want %d", len(page.Events), tc.want)
			}
		})
	}
}

// TestQueryListsAreBounded asks for as many event ids as a query may list,
// then one more: the first is answered, the second refused as too complex
// (not failed by SQLite's limit on a statement's parameters).
func TestQueryListsAreBounded(t *testing.T) {
	l := newLedger(t)
	l.network()
	l.supplyChain("B1")
	ids := []string{firstEventID(t, l)}
	for i := 1; i < MaxQueryValues; i++ {
		ids = append(ids, fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", i))
	}
	page, err := QueryEvents(l.db, EventQuery{EventID: ids})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("%d event ids: %d events, %v", len(ids), len(page.Events), err)
	}
	tooMany := append(ids, "urn:uuid:one-more")
	for _, q := range []EventQuery{{EventID: tooMany}, {Match: []EPCMatch{{"MATCH_epc", tooMany}}}, {BizStep: tooMany}} {
		if _, err := QueryEvents(l.db, q); !errors.Is(err, ErrQueryTooComplex) {
			t.Errorf("%d values: %v, want ErrQueryTooComplex", len(tooMany), err)
		}
	}
}
