package models

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// visibleStory captures, in random order, events by the maker and the
// wholesaler about packs they hold, each at no location, at one of the
// organisations' sites, or at a part of the pharmacy's site ((254)
// extensions): what a trading partner's query has to tell apart.
func visibleStory(l *ledger, seed uint64, rounds int) {
	l.t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	sites := []string{"", glnURN(glnMaker), glnURN(glnWholesal), glnURN(glnPharmacy), glnURN(glnPharm2),
		sglnExt(glnPharmacy, "unit7"), sglnExt(glnPharmacy, "9"), sglnExt(glnWholesal, "dock")}
	var atMaker, atWholesaler []string
	for i := range rounds {
		pack := sgtinDL(gtinA, "Q"+strconv.Itoa(i))
		ev := l.commissionEv("LQ", "2028-12-31", pack)
		ev.BizLocation = sites[rng.IntN(len(sites))]
		l.capture(glnMaker, ev)
		atMaker = append(atMaker, pack)
		switch rng.IntN(3) {
		case 0:
			p := atMaker[rng.IntN(len(atMaker))]
			ev := l.observeEv("inspecting", p)
			ev.BizLocation = sites[rng.IntN(len(sites))]
			l.capture(glnMaker, ev)
		case 1:
			if len(atMaker) > 1 {
				p := atMaker[0]
				atMaker = atMaker[1:]
				l.capture(glnMaker, l.shipEv(glnWholesal, p))
				l.capture(glnWholesal, l.observeEv("receiving", p))
				atWholesaler = append(atWholesaler, p)
			}
		case 2:
			if len(atWholesaler) > 0 {
				ev := l.observeEv("storing", atWholesaler[rng.IntN(len(atWholesaler))])
				ev.BizLocation = sites[rng.IntN(len(sites))]
				l.capture(glnWholesal, ev)
			}
		}
	}
}

// TestATradingPartnersQueryReadsItsEventsApart holds the query of a
// trading partner, read as two halves merged (its own captures, and the
// events at its locations), to the one condition it replaces: on random
// stories, for each organisation, page sizes from 1 to all and with and
// without a filter, the pages together are the same events in the same
// order.
func TestATradingPartnersQueryReadsItsEventsApart(t *testing.T) {
	for seed := range uint64(3) {
		l := newLedger(t)
		l.network()
		visibleStory(l, seed, 60)
		for _, org := range []string{glnMaker, glnWholesal, glnPharmacy, glnPharm2} {
			v := &Viewer{Org: org, Role: RolePharmacy}
			if _, _, _, _, ok := v.visibleEventsApart(); !ok {
				t.Fatalf("%s is not read apart", org)
			}
			for _, steps := range [][]string{nil, {"inspecting", "storing"}} {
				cond, args := v.visibleEvents()
				ref := l.db.Where(cond, args...)
				if steps != nil {
					ref = ref.Where("biz_step IN ?", steps)
				}
				var want []uint64
				if err := ref.Model(&EventRecord{}).Order("id").Pluck("seq", &want).Error; err != nil {
					t.Fatal(err)
				}
				for _, per := range []int{1, 2, 3, 7, 1000} {
					var got []uint64
					q := EventQuery{Viewer: v, PerPage: per, BizStep: steps}
					for {
						page, err := QueryEvents(l.db, q)
						if err != nil {
							t.Fatal(err)
						}
						if len(page.Seqs) > per || page.NextPageToken != "" && len(page.Seqs) != per {
							t.Fatalf("page of %d events for %d, next %q", len(page.Seqs), per, page.NextPageToken)
						}
						got = append(got, page.Seqs...)
						if page.NextPageToken == "" {
							break
						}
						q.NextPageToken = page.NextPageToken
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("seed %d, %s, steps %v, pages of %d: %v, want %v", seed, org, steps, per, got, want)
					}
				}
			}
		}
	}
}

// TestATradingPartnersQueryReadsOnlyItsOwnEvents checks the plan SQLite
// makes of each half of a trading partner's query: each reads one index
// in ledger order (the actor's, or locationOrgIndex), so a page costs the
// partner's events up to it, not the ledger's. Neither scans the events
// nor sorts them.
func TestATradingPartnersQueryReadsOnlyItsOwnEvents(t *testing.T) {
	l := newLedger(t)
	l.network()
	visibleStory(l, 1, 10)
	db, sqls := recordSQL(t, l.db, "event_records")
	for _, steps := range [][]string{nil, {"inspecting"}} {
		*sqls = (*sqls)[:0]
		if _, err := QueryEvents(db, EventQuery{Viewer: &Viewer{Org: glnPharmacy, Role: RolePharmacy}, PerPage: 2, BizStep: steps}); err != nil {
			t.Fatal(err)
		}
		if len(*sqls) != 2 {
			t.Fatalf("%d queries of events, want 2: %q", len(*sqls), *sqls)
		}
		for i, want := range []string{"idx_event_records_actor", "idx_event_records_location_org"} {
			plan := queryPlan(t, l.db, (*sqls)[i])
			if !strings.Contains(plan, "USING INDEX "+want) || strings.Contains(plan, "SCAN") || strings.Contains(plan, "TEMP B-TREE") {
				t.Errorf("steps %v, query %s\nplan: %s\nwant a search of %s alone, in order", steps, (*sqls)[i], plan, want)
			}
		}
	}
}

// recordSQL returns a session of db that records into *sqls the SQL of
// each query of table it runs, with the values in place, until the test
// ends.
func recordSQL(t *testing.T, db *gorm.DB, table string) (*gorm.DB, *[]string) {
	t.Helper()
	var sqls []string
	session := db.Session(&gorm.Session{})
	name := "test:record " + table
	if err := session.Callback().Query().After("gorm:query").Register(name, func(d *gorm.DB) {
		if d.Statement.Table == table {
			sqls = append(sqls, d.Dialector.Explain(d.Statement.SQL.String(), d.Statement.Vars...))
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { session.Callback().Query().Remove(name) })
	return session, &sqls
}

// queryPlan is SQLite's plan of query, its steps joined by "; ".
func queryPlan(t *testing.T, db *gorm.DB, query string) string {
	t.Helper()
	var plan []struct {
		ID, Parent, Notused int
		Detail              string
	}
	if err := db.Raw("EXPLAIN QUERY PLAN " + query).Scan(&plan).Error; err != nil {
		t.Fatal(err)
	}
	steps := make([]string, len(plan))
	for i, p := range plan {
		steps[i] = p.Detail
	}
	return strings.Join(steps, "; ")
}

// TestATradingPartnersPagesSkipNoEventCommittedMeanwhile commits events
// right after the first half of a trading partner's page is read: one
// the partner captured, which the first half would have found, and two
// at its site. The pages then hold the events of one moment, before or
// after the commit, and never the later two without the first: the page
// token would have passed it for good.
func TestATradingPartnersPagesSkipNoEventCommittedMeanwhile(t *testing.T) {
	l := newLedger(t)
	l.network()
	for i := range 5 {
		l.capture(glnMaker, l.commissionEv("LS", "2028-12-31", sgtinDL(gtinA, "S"+strconv.Itoa(i))))
	}
	pharmacy := &Viewer{Org: glnPharmacy, Role: RolePharmacy}
	visible := func() []uint64 {
		t.Helper()
		cond, args := pharmacy.visibleEvents()
		var seqs []uint64
		if err := l.db.Model(&EventRecord{}).Where(cond, args...).Order("id").Pluck("seq", &seqs).Error; err != nil {
			t.Fatal(err)
		}
		return seqs
	}
	before := visible()
	db := l.db.Session(&gorm.Session{})
	committed := false
	if err := db.Callback().Query().After("gorm:query").Register("test:commit", func(d *gorm.DB) {
		if committed || d.Statement.Table != "event_records" || !strings.Contains(d.Statement.SQL.String(), "actor =") {
			return
		}
		committed = true
		at := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
		site := LocationKey(gs1.SGLN{GLN: gs1.GLN(glnPharmacy)})
		for i, r := range []EventRecord{{Actor: glnPharmacy, BizLocation: LocationKey(gs1.SGLN{GLN: gs1.GLN(glnWholesal)})},
			{Actor: glnMaker, BizLocation: site}, {Actor: glnMaker, BizLocation: site}} {
			r.Seq, r.EventID, r.Type, r.EventTime, r.RecordTime, r.JSON = 1000+uint64(i), "urn:uuid:late-"+strconv.Itoa(i), ObjectEvent, at, at, "{}"
			if err := l.db.Session(&gorm.Session{NewDB: true}).Create(&r).Error; err != nil {
				t.Error(err)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	defer db.Callback().Query().Remove("test:commit")
	var paged []uint64
	q := EventQuery{Viewer: pharmacy, PerPage: 1}
	for {
		page, err := QueryEvents(db, q)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, page.Seqs...)
		if page.NextPageToken == "" {
			break
		}
		q.NextPageToken = page.NextPageToken
	}
	after := visible()
	if !committed || len(after) != len(before)+3 {
		t.Fatalf("committed %v: %d events visible before, %d after", committed, len(before), len(after))
	}
	if !slices.Equal(paged, before) && !slices.Equal(paged, after) {
		t.Fatalf("pages %v: neither the events before the commit, %v, nor after it, %v", paged, before, after)
	}
}

// TestATradingPartnersQueryUsesAFiltersOwnIndex: a partner's query with a
// filter that has an index of its own (event ids, an event time window,
// EPCs, a business location) is the one statement it was before this
// split, not a walk of the partner's events from each half's index; the
// event id query reads the id index.
func TestATradingPartnersQueryUsesAFiltersOwnIndex(t *testing.T) {
	l := newLedger(t)
	l.network()
	visibleStory(l, 1, 10)
	db, sqls := recordSQL(t, l.db, "event_records")
	from := l.now.Add(-time.Hour)
	for _, tc := range []struct {
		q     EventQuery
		index string
	}{
		{EventQuery{EventID: []string{"urn:uuid:0b7e4e0a-8b8e-4a8e-9c1e-000000000001"}}, "idx_event_records_event_hash"},
		{EventQuery{GEEventTime: &from}, ""},
		{EventQuery{LTEventTime: &from}, ""},
		{EventQuery{Match: []EPCMatch{{Param: "MATCH_anyEPC", Values: []string{sgtinDL(gtinA, "Q1")}}}}, ""},
		{EventQuery{BizLocation: []string{glnURN(glnMaker)}}, ""},
	} {
		*sqls = (*sqls)[:0]
		tc.q.Viewer = &Viewer{Org: glnMaker, Role: RoleManufacturer}
		if _, err := QueryEvents(db, tc.q); err != nil {
			t.Fatal(err)
		}
		if len(*sqls) != 1 {
			t.Fatalf("%+v: %d queries of events, want 1: %q", tc.q, len(*sqls), *sqls)
		}
		if plan := queryPlan(t, l.db, (*sqls)[0]); tc.index != "" && !strings.Contains(plan, "USING INDEX "+tc.index) {
			t.Errorf("query %s\nplan: %s\nwant %s", (*sqls)[0], plan, tc.index)
		}
	}
}

// TestATradingPartnersFilterIsReadByItsIndexOnlyWhenSelective: a
// partner's query with a filter that has an index of its own (a time
// range, a location, an EPC match) reads by that index only when the
// filter selects fewer than selectiveEvents events; one that selects
// more would have a partner with few events walk every event the filter
// selects, so the query reads the partner's two halves instead. Either
// way the pages hold what the partner may see of what the filter selects,
// in ledger order.
func TestATradingPartnersFilterIsReadByItsIndexOnlyWhenSelective(t *testing.T) {
	saved := selectiveEvents
	t.Cleanup(func() { selectiveEvents = saved })
	selectiveEvents = 5
	l := newLedger(t)
	l.network()
	visibleStory(l, 7, 40)
	past, future := l.now.AddDate(-20, 0, 0), l.now.AddDate(20, 0, 0)
	productA := "urn:epc:idpat:sgtin:4012345." + gtinA[:1] + gtinA[8:13] + ".*"
	filters := map[string]EventQuery{
		"GE_eventTime years back":      {GEEventTime: &past},
		"LT_eventTime years back":      {LTEventTime: &past},
		"GE_eventTime years ahead":     {GEEventTime: &future},
		"MATCH_anyEPC of one pack":     {Match: []EPCMatch{{Param: "MATCH_anyEPC", Values: []string{sgtinDL(gtinA, "Q3")}}}},
		"MATCH_anyEPC of a product":    {Match: []EPCMatch{{Param: "MATCH_anyEPC", Values: []string{productA}}}},
		"EQ_bizLocation of the maker":  {BizLocation: []string{glnURN(glnMaker)}},
		"EQ_bizLocation of no event":   {BizLocation: []string{sglnExt(glnPharm2, "nowhere")}},
		"EQ_bizLocation of a pharmacy": {BizLocation: []string{glnURN(glnPharmacy), sglnExt(glnPharmacy, "unit7")}},
	}
	eventIDs := func(page EventPage) []string {
		ids := make([]string, len(page.Events))
		for i, raw := range page.Events {
			var e struct{ EventID string }
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			ids[i] = e.EventID
		}
		return ids
	}
	db, sqls := recordSQL(t, l.db, "event_records")
	for name, filter := range filters {
		all, err := QueryEvents(l.db, EventQuery{PerPage: 1000, GEEventTime: filter.GEEventTime, LTEventTime: filter.LTEventTime,
			Match: filter.Match, BizLocation: filter.BizLocation})
		if err != nil {
			t.Fatal(err)
		}
		selected := eventIDs(all)
		for _, org := range []string{glnMaker, glnWholesal, glnPharmacy, glnPharm2} {
			v := &Viewer{Org: org, Role: RolePharmacy}
			cond, args := v.visibleEvents()
			visible := map[string]bool{}
			var ids []string
			if err := l.db.Model(&EventRecord{}).Where(cond, args...).Pluck("event_id", &ids).Error; err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				visible[id] = true
			}
			var want []string
			for _, id := range selected {
				if visible[id] {
					want = append(want, id)
				}
			}
			q := filter
			q.Viewer, q.PerPage = v, 3
			var got []string
			*sqls = (*sqls)[:0]
			for {
				page, err := QueryEvents(db, q)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, eventIDs(page)...)
				if page.NextPageToken == "" {
					break
				}
				q.NextPageToken = page.NextPageToken
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s, seen by %s: %q, want %q", name, org, got, want)
			}
			apart := slices.ContainsFunc(*sqls, func(s string) bool { return !strings.Contains(s, " OR ") })
			switch {
			case len(selected) >= selectiveEvents && !apart:
				t.Errorf("%s selects %d events; seen by %s it was read by its index: %q", name, len(selected), org, *sqls)
			case len(selected) == 0 && apart:
				t.Errorf("%s selects no event; seen by %s it was read apart: %q", name, org, *sqls)
			}
		}
	}
}

// TestAPartnersEPCMatchIsCheckedPerEvent: read apart, a trading
// partner's events are each checked against a MATCH_ parameter through
// the event's own rows of the event-EPC index (eventEPCsByEventIndex),
// not by first listing every event the parameter selects, which for a
// pattern of a whole company is much of the ledger.
func TestAPartnersEPCMatchIsCheckedPerEvent(t *testing.T) {
	saved := selectiveEvents
	t.Cleanup(func() { selectiveEvents = saved })
	selectiveEvents = 2 // the product's pattern selects more
	l := newLedger(t)
	l.network()
	visibleStory(l, 7, 10)
	type statement struct {
		sql  string
		vars []any
	}
	var ran []statement
	db := l.db.Session(&gorm.Session{})
	if err := db.Callback().Query().After("gorm:query").Register("test:statements", func(d *gorm.DB) {
		if d.Statement.Table == "event_records" {
			ran = append(ran, statement{d.Statement.SQL.String(), slices.Clone(d.Statement.Vars)})
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Callback().Query().Remove("test:statements") })
	productA := "urn:epc:idpat:sgtin:4012345." + gtinA[:1] + gtinA[8:13] + ".*"
	var manyPacks []string // more keys than are worth a lookup each per event
	for i := range maxMatchLookupsPerEvent + 1 {
		manyPacks = append(manyPacks, sgtinDL(gtinA, "Q"+strconv.Itoa(i)))
	}
	for _, tc := range []struct {
		param    string
		values   []string
		perEvent bool
	}{{"MATCH_anyEPC", []string{productA}, true}, {"MATCH_epc", []string{productA}, true}, {"MATCH_anyEPC", manyPacks, false}} {
		param := tc.param
		ran = ran[:0]
		q := EventQuery{Viewer: &Viewer{Org: glnPharmacy, Role: RolePharmacy}, Match: []EPCMatch{{Param: param, Values: tc.values}}}
		if _, err := QueryEvents(db, q); err != nil {
			t.Fatal(err)
		}
		if len(ran) != 2 {
			t.Fatalf("%s: %d statements, want the partner's two halves", param, len(ran))
		}
		for _, s := range ran {
			var steps []struct {
				ID, Parent, Notused int
				Detail              string
			}
			if err := l.db.Raw("EXPLAIN QUERY PLAN "+s.sql, s.vars...).Scan(&steps).Error; err != nil {
				t.Fatal(err)
			}
			var plan []string
			for _, step := range steps {
				plan = append(plan, step.Detail)
			}
			joined := strings.Join(plan, "; ")
			perEvent := strings.Contains(joined, "USING INDEX idx_event_epcs_event (event_id=?") && !strings.Contains(joined, "LIST SUBQUERY")
			if perEvent != tc.perEvent {
				t.Errorf("%s of %d values: %s\nplan: %s\nchecked per event %v, want %v", param, len(tc.values), s.sql, joined, perEvent, tc.perEvent)
			}
		}
	}
}
