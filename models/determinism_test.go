package models

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestApplyIsDeterministic replays one command log, rejections included,
// into two projections and requires identical tables and results: what
// every Raft node relies on.
func TestApplyIsDeterministic(t *testing.T) {
	build := func() (*ledger, []Result) {
		l := newLedger(t)
		l.network()
		packs := []string{sgtinDL(gtinA, "X1"), sgtinDL(gtinA, "X2"), sgtinDL(gtinA, "X3")}
		dispense := l.observeEv("dispensing", packs[0])
		declared := dispense
		declared.ErrorDeclaration = &ErrorDeclaration{DeclarationTime: l.now, Reason: "incorrect_data"}
		var results []Result
		results = append(results,
			l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", packs...), l.packEv(ssccDL(5), packs[:2]...), l.shipEv(glnWholesal, ssccDL(5), packs[2])),
			l.apply(glnPharmacy, KindCaptureEvents, CaptureEventsPayload{Events: []Event{l.observeEv("receiving", ssccDL(5))}}),
			l.capture(glnWholesal, l.observeEv("receiving", ssccDL(5), packs[2]), l.unpackEv(ssccDL(5)), l.shipEv(glnPharmacy, packs...)),
			l.capture(glnPharmacy, l.observeEv("receiving", packs...), dispense),
			l.apply(glnPharmacy, KindDecommission, DecommissionPayload{EPCs: packs[:1], Status: StatusDispensed}),
			l.apply(glnPharmacy, KindUndoDecommission, UndoDecommissionPayload{EPCs: packs[:1]}),
			l.apply(glnMaker, KindRecall, RecallPayload{GTIN: gtinA, Lot: "L1"}),
			l.capture(glnPharmacy, declared),
		)
		return l, results
	}
	l1, r1 := build()
	l2, r2 := build()
	if a, b := mustJSON(t, r1), mustJSON(t, r2); string(a) != string(b) {
		t.Fatalf("results differ:\n%s\n%s", a, b)
	}
	for _, table := range []string{"organisations", "company_prefixes", "products", "items", "event_records", "event_epcs", "event_declarations", "recalls", "alerts"} {
		d1, d2 := dumpTable(t, l1, table), dumpTable(t, l2, table)
		if d1 != d2 {
			t.Fatalf("table %s differs:\n%s\n%s", table, d1, d2)
		}
		if table == "items" && len(d1) < 10 {
			t.Fatal("items table is empty: the replay did nothing")
		}
	}
}

func dumpTable(t *testing.T, l *ledger, table string) string {
	t.Helper()
	var rows []map[string]any
	if err := l.db.Raw(fmt.Sprintf("SELECT * FROM %s ORDER BY 1, 2", table)).Scan(&rows).Error; err != nil {
		t.Fatalf("dump %s: %v", table, err)
	}
	b, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOtherEventTypesAreStoredAndQueryable(t *testing.T) {
	l := newLedger(t)
	l.network()
	l.supplyChain("O1")
	// The pharmacy holds every pack and container the events name, and a
	// pack of the lot the transformation makes.
	docs := []string{
		`{"type":"ObjectEvent","eventTime":"2026-03-02T08:59:00Z","eventTimeZoneOffset":"+00:00","action":"ADD","bizStep":"commissioning",
		  "epcList":["urn:epc:id:sscc:4012345.0000000017"]}`,
		`{"type":"TransactionEvent","eventTime":"2026-03-02T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"ADD",
		  "epcList":["https://id.gs1.org/01/` + gtinA + `/21/O1"],"bizTransactionList":[{"type":"inv","bizTransaction":"urn:epcglobal:cbv:bt:4011111000007:INV1"}]}`,
		`{"type":"TransformationEvent","eventTime":"2026-03-02T09:01:00Z","eventTimeZoneOffset":"+00:00",
		  "inputEPCList":["https://id.gs1.org/01/` + gtinA + `/21/O1"],"outputQuantityList":[{"epcClass":"urn:epc:class:lgtin:4012345.012345.L1","quantity":1}]}`,
		`{"type":"AssociationEvent","eventTime":"2026-03-02T09:02:00Z","eventTimeZoneOffset":"+00:00","action":"ADD",
		  "parentID":"urn:epc:id:sscc:4012345.0000000017","childEPCs":["https://id.gs1.org/01/` + gtinA + `/21/O1"]}`,
	}
	var events []Event
	for _, d := range docs {
		events = append(events, mustEvent(t, d))
	}
	l.capture(glnPharmacy, events...)
	for _, typ := range []string{TransactionEvent, TransformationEvent, AssociationEvent} {
		page, err := QueryEvents(l.db, EventQuery{EventType: []string{typ}, Match: []EPCMatch{{"MATCH_anyEPC", []string{sgtinURN(gtinA, "O1")}}}})
		if err != nil || len(page.Events) != 1 {
			t.Fatalf("%s: %d events, %v", typ, len(page.Events), err)
		}
		var back map[string]any
		if err := json.Unmarshal(page.Events[0], &back); err != nil || back["type"] != typ || back["recordTime"] == nil {
			t.Fatalf("%s stored as %s", typ, page.Events[0])
		}
	}
	page, err := QueryEvents(l.db, EventQuery{Match: []EPCMatch{{"MATCH_anyEPCClass", []string{"urn:epc:class:lgtin:4012345.012345.L1"}}}})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("MATCH_anyEPCClass: %d events, %v", len(page.Events), err)
	}
}

// TestEPCsInACaptureAreReadAsTheLedgerAlwaysReadThem: a Digital Link EPC's
// query is read as it was before the scan reading changed (see
// gs1.ParseEPC), so a capture committed under an older binary gets the
// same result from this one: accepted with a parameter that is not an AI
// (malformed escape and all) or a percent-encoded key, refused with AI
// (717), which that binary did not know.
func TestEPCsInACaptureAreReadAsTheLedgerAlwaysReadThem(t *testing.T) {
	for epc, accepted := range map[string]bool{
		sgtinDL(gtinA, "D1") + "?x=%zz":     true,
		sgtinDL(gtinA, "D2") + "?%31%30=L9": true,
		sgtinDL(gtinA, "D3") + "?717=CR123": false,
	} {
		l := newLedger(t)
		l.network()
		res := l.apply(glnMaker, KindCaptureEvents, CaptureEventsPayload{Events: []Event{l.commissionEv("L1", "2030-12-31", epc)}})
		if res.Accepted != accepted {
			t.Errorf("%s: accepted %v (%s %s), want %v", epc, res.Accepted, res.Code, res.Message, accepted)
		}
	}
}
