package models

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// matchFixture captures eight events naming packs, a case and lots in
// every role, and returns the ledger and the stored events' ids in capture
// order (event n of the comments is ids[n-1]).
func matchFixture(t *testing.T) (*ledger, []string) {
	t.Helper()
	l := newLedger(t)
	l.network()
	p1, p2, c1, s := sgtinDL(gtinA, "P1"), sgtinDL(gtinA, "P2"), sgtinDL(gtinC, "C1"), ssccDL(1)
	transform := l.event(TransformationEvent, "", "")
	transform.InputEPCList = []string{c1}
	transform.OutputQuantityList = []QuantityElement{{EPCClass: lotDL(gtinA, "L9")}}
	l.capture(glnMaker,
		l.commissionEv("L1", "2028-12-31", p1, p2),  // 1
		l.commissionEv("L2", "2028-12-31", c1),      // 2
		l.commissionEv("", "", s),                   // 3
		l.packEv(s, p1, p2),                         // 4
		l.shipEv(glnWholesal, s),                    // 5: moves P1 and P2, naming only the case
		l.classEv("inspecting", lotDL(gtinA, "L1")), // 6
		transform, // 7
	)
	l.capture(glnMaker2, l.commissionEv("B", "2028-12-31", sgtinDL(gtinB, "B1"))) // 8
	all, err := QueryEvents(l.db, EventQuery{PerPage: 100})
	if err != nil || len(all.Events) != 8 {
		t.Fatalf("fixture: %d events, %v", len(all.Events), err)
	}
	return l, storedIDs(t, all)
}

// storedIDs returns the eventIDs of a page's events.
func storedIDs(t *testing.T, page EventPage) []string {
	t.Helper()
	var ids []string
	for _, raw := range page.Events {
		e, err := DecodeEvent(raw)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.EventID)
	}
	return ids
}

// TestMatchLooksInTheFieldsTheStandardNames asks each MATCH_ parameter for
// identifiers that events name in different fields: each finds the events
// naming them in its own fields only (EPCIS 2.0 §8.2.7.1), different
// parameters must all match, and a container's contents are not matched
// by the events that moved the container.
func TestMatchLooksInTheFieldsTheStandardNames(t *testing.T) {
	l, ids := matchFixture(t)
	p1, c1, s := sgtinURN(gtinA, "P1"), sgtinDL(gtinC, "C1"), ssccDL(1)
	lotL1, lotL9 := "urn:epc:class:lgtin:4012345."+gtinA[:1]+gtinA[8:13]+".L1", lotDL(gtinA, "L9")
	type m = EPCMatch
	for _, tc := range []struct {
		name  string
		match []EPCMatch
		want  []int
	}{
		{"epc: a pack in epcList and childEPCs", []m{{"MATCH_epc", []string{p1}}}, []int{1, 4}},
		{"anyEPC: a pack", []m{{"MATCH_anyEPC", []string{p1}}}, []int{1, 4}},
		{"parentID: a pack is no parent", []m{{"MATCH_parentID", []string{p1}}}, nil},
		{"epc: the case", []m{{"MATCH_epc", []string{s}}}, []int{3, 5}},
		{"parentID: the case", []m{{"MATCH_parentID", []string{s}}}, []int{4}},
		{"anyEPC: the case", []m{{"MATCH_anyEPC", []string{s}}}, []int{3, 4, 5}},
		{"inputEPC", []m{{"MATCH_inputEPC", []string{c1}}}, []int{7}},
		{"outputEPC", []m{{"MATCH_outputEPC", []string{c1}}}, nil},
		{"epc: an input is not in epcList", []m{{"MATCH_epc", []string{c1}}}, []int{2}},
		{"anyEPC: an input", []m{{"MATCH_anyEPC", []string{c1}}}, []int{2, 7}},
		{"epcClass", []m{{"MATCH_epcClass", []string{lotL1}}}, []int{6}},
		{"epcClass: an output class is not in quantityList", []m{{"MATCH_epcClass", []string{lotL9}}}, nil},
		{"outputEPCClass", []m{{"MATCH_outputEPCClass", []string{lotL9}}}, []int{7}},
		{"inputEPCClass", []m{{"MATCH_inputEPCClass", []string{lotL9}}}, nil},
		{"anyEPCClass", []m{{"MATCH_anyEPCClass", []string{lotL9, lotL1}}}, []int{6, 7}},
		{"one parameter's values are alternatives", []m{{"MATCH_epc", []string{p1, c1}}}, []int{1, 2, 4}},
		{"parameters must all match", []m{{"MATCH_parentID", []string{s}}, {"MATCH_epc", []string{p1}}}, []int{4}},
		{"parameters must all match, none does", []m{{"MATCH_parentID", []string{s}}, {"MATCH_epc", []string{c1}}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkMatch(t, l, ids, tc.match, tc.want)
		})
	}
}

// TestMatchTakesPatterns asks for products, companies and everything by
// EPC pattern and by a product's Digital Link: each is every identifier of
// the kind under it, in the fields of the parameter.
func TestMatchTakesPatterns(t *testing.T) {
	l, ids := matchFixture(t)
	productA := "urn:epc:idpat:sgtin:4012345." + gtinA[:1] + gtinA[8:13] + ".*"
	type m = EPCMatch
	for _, tc := range []struct {
		name  string
		match []EPCMatch
		want  []int
	}{
		{"a product's packs", []m{{"MATCH_epc", []string{productA}}}, []int{1, 4}},
		{"a product's Digital Link", []m{{"MATCH_epc", []string{"https://id.gs1.org/01/" + gtinC}}}, []int{2}},
		{"a company's packs", []m{{"MATCH_epc", []string{"urn:epc:idpat:sgtin:4012345.*.*"}}}, []int{1, 2, 4}},
		{"another company's packs", []m{{"MATCH_epc", []string{"urn:epc:idpat:sgtin:5012345.*.*"}}}, []int{8}},
		{"every pack", []m{{"MATCH_anyEPC", []string{"urn:epc:idpat:sgtin:*.*.*"}}}, []int{1, 2, 4, 7, 8}},
		{"a company's cases as parents", []m{{"MATCH_parentID", []string{"urn:epc:idpat:sscc:4012345.*"}}}, []int{4}},
		{"every case", []m{{"MATCH_anyEPC", []string{"urn:epc:idpat:sscc:*.*"}}}, []int{3, 4, 5}},
		{"no case of another company", []m{{"MATCH_anyEPC", []string{"urn:epc:idpat:sscc:5012345.*"}}}, nil},
		{"a product's classes", []m{{"MATCH_anyEPCClass", []string{productA}}}, []int{6, 7}},
		{"a product's classes in quantityList", []m{{"MATCH_epcClass", []string{productA}}}, []int{6}},
		{"a company's classes", []m{{"MATCH_anyEPCClass", []string{"urn:epc:idpat:sgtin:4012345.*.*"}}}, []int{6, 7}},
		{"a pattern and a parameter", []m{{"MATCH_epc", []string{productA}}, {"MATCH_parentID", []string{ssccDL(1)}}}, []int{4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkMatch(t, l, ids, tc.match, tc.want)
		})
	}
}

// TestMatchRefusesWhatItCannotMean answers a value of the wrong kind for
// its parameter, or a malformed pattern, with ErrBadQuery naming the
// parameter, and too many pattern ranges with ErrQueryTooComplex.
func TestMatchRefusesWhatItCannotMean(t *testing.T) {
	l := newLedger(t)
	l.network()
	for _, bad := range []EPCMatch{
		{"MATCH_epc", []string{"urn:epc:class:lgtin:4012345.012345.L1"}},
		{"MATCH_anyEPC", []string{glnURN(glnPharmacy)}},
		{"MATCH_epcClass", []string{sgtinURN(gtinA, "P1")}},
		{"MATCH_epcClass", []string{"urn:epc:idpat:sscc:4012345.*"}},
		{"MATCH_epc", []string{"urn:epc:idpat:grai:4012345.12345.*"}},
		{"MATCH_epc", []string{"urn:epc:idpat:sgtin:4012345.*.5"}},
		{"MATCH_epc", []string{"urn:epc:idpat:sgtin:40123.*.*"}},
		{"MATCH_epc", []string{"urn:epc:idpat:sgtin:4012345.*"}},
		{"MATCH_parentID", []string{"urn:epc:idpat:sscc:4012345.0000000017"}},
		{"MATCH_epc", []string{"urn:x"}},
		{"MATCH_everything", []string{sgtinURN(gtinA, "P1")}},
	} {
		_, err := QueryEvents(l.db, EventQuery{Match: []EPCMatch{bad}})
		if !errors.Is(err, ErrBadQuery) || !strings.Contains(err.Error(), bad.Param) {
			t.Errorf("%s=%s: %v, want ErrBadQuery naming the parameter", bad.Param, bad.Values[0], err)
		}
	}
	var companies []string
	for i := range MaxMatchRanges/10 + 1 {
		companies = append(companies, fmt.Sprintf("urn:epc:idpat:sgtin:%07d.*.*", 4000000+i))
	}
	if _, err := QueryEvents(l.db, EventQuery{Match: []EPCMatch{{"MATCH_epc", companies[1:]}}}); err != nil {
		t.Fatalf("%d company patterns: %v", len(companies)-1, err)
	}
	if _, err := QueryEvents(l.db, EventQuery{Match: []EPCMatch{{"MATCH_epc", companies}}}); !errors.Is(err, ErrQueryTooComplex) {
		t.Fatalf("%d company patterns: %v, want ErrQueryTooComplex", len(companies), err)
	}
}

// checkMatch runs the query and compares the events found with the
// fixture events numbered in want.
func checkMatch(t *testing.T, l *ledger, ids []string, match []EPCMatch, want []int) {
	t.Helper()
	page, err := QueryEvents(l.db, EventQuery{Match: match, PerPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, id := range storedIDs(t, page) {
		got = append(got, slices.Index(ids, id)+1)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("found events %v, want %v", got, want)
	}
}

// TestPageTokensFromBeforeMatchRolesStillWork: a page token the binary
// before the MATCH_ parameters were told apart issued for a query without
// any (eventType=ObjectEvent, after the event with row id 5) continues the
// same query: the filters' fingerprint is the same as then.
func TestPageTokensFromBeforeMatchRolesStillWork(t *testing.T) {
	l := newLedger(t)
	l.network()
	const issuedBefore = "AAAAAAAAAAXIMMP4jpIiKw"
	if _, err := QueryEvents(l.db, EventQuery{EventType: []string{ObjectEvent}, NextPageToken: issuedBefore}); err != nil {
		t.Fatalf("a token issued before, for the same query: %v", err)
	}
	if _, err := QueryEvents(l.db, EventQuery{EventType: []string{AggregationEvent}, NextPageToken: issuedBefore}); !errors.Is(err, ErrBadQuery) {
		t.Fatalf("the token with other filters: %v", err)
	}
}
