package models

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// adoptRules3 moves a test ledger at rules 2 to rules version 3.
func (l *ledger) adoptRules3() {
	l.t.Helper()
	if res, err := l.applyBatch(3, l.adoptCmd(3)); err != nil || !res[0].Accepted {
		l.t.Fatalf("adopting 3: %+v, %v", res, err)
	}
}

// TestRules3CommissionOnlyWhatACodeCarries commissions packs whose lot or
// expiry no GS1 code can carry, or whose Digital Link names a lot or an
// expiry other than the ILMD's: rules version 2 took them and recorded the
// ILMD's lot and expiry, version 3 refuses the whole capture. An expiry
// AI (17) carries is taken at either version, already past or not.
func TestRules3CommissionOnlyWhatACodeCarries(t *testing.T) {
	l := newLedger(t)
	l.rules = 2
	l.network() // l.now is 2026-03-01
	withLot := func(lot string) func(string) string {
		return func(serial string) string { return "https://id.gs1.org/01/" + gtinA + "/10/" + lot + "/21/" + serial }
	}
	withQuery := func(query string) func(string) string {
		return func(serial string) string { return sgtinDL(gtinA, serial) + "?" + query }
	}
	type pack struct {
		name, lot, expiry string
		link              func(serial string) string // nil: sgtinDL
	}
	refused := []pack{
		{"a lot of 21 characters", strings.Repeat("L", 21), "2028-12-31", nil},
		{"a lot of 30 characters", "LOT-WITH-MORE-THAN-20-CHARS-30", "2028-12-31", nil},
		{"a lot with a space and an é", "A 1 é", "2028-12-31", nil},
		{"a lot with a GS", "A1\x1dB2", "2028-12-31", nil},
		{"an expiry 124 years ahead", "L1", "2150-01-31", nil},
		{"an expiry 51 years ahead", "L1", "2077-01-31", nil},
		{"an expiry 50 years back", "L1", "1976-12-31", nil},
		{"a Digital Link naming another lot", "L1", "2028-12-31", withLot("LOTX")},
		{"a Digital Link naming another expiry", "L1", "2028-12-31", withQuery("17=281130")},
	}
	taken := []pack{
		{"a lot of 20 characters of CSET 82", "A-Z_az09%&'()*+,./:;", "2028-12-31", nil},
		{"an expiry 50 years ahead", "L1", "2076-12-31", nil},
		{"an expiry 49 years back, long past", "L1", "1977-01-31", nil},
		{"a Digital Link naming its lot", "L1", "2028-12-31", withLot("L1")},
		{"a Digital Link naming its expiry, day 00", "L1", "2028-12-31", withQuery("17=281200")},
	}
	uri := func(p pack, serial string) string {
		if p.link == nil {
			return sgtinDL(gtinA, serial)
		}
		return p.link(serial)
	}
	for _, rules := range []int{2, 3} {
		if rules == 3 {
			l.adoptRules3()
		}
		for i, tc := range refused {
			serial := fmt.Sprintf("R%d-%d", i, rules)
			e := l.commissionEv(tc.lot, tc.expiry, uri(tc, serial))
			good := l.commissionEv("L1", "2028-12-31", sgtinDL(gtinA, "G"+serial))
			res := l.apply(glnMaker, KindCaptureEvents, CaptureEventsPayload{Events: []Event{good, e}})
			switch {
			case rules == 2 && !res.Accepted:
				t.Errorf("rules 2, %s: refused: %s %s", tc.name, res.Code, res.Message)
			case rules == 2:
				// Recorded, as before, by the ILMD whatever the link says.
				if it := l.mustItem(PackKey(gtinA, serial)); it.Lot != tc.lot || it.Expiry != tc.expiry {
					t.Errorf("rules 2, %s: recorded lot %q, expiry %s", tc.name, it.Lot, it.Expiry)
				}
			case res.Accepted || res.Code != CodeBadPayload:
				t.Errorf("rules 3, %s: accepted %v, %s %s; want %s", tc.name, res.Accepted, res.Code, res.Message, CodeBadPayload)
			case l.itemExists(PackKey(gtinA, "G"+serial)):
				t.Errorf("rules 3, %s: the refused capture's other pack was commissioned", tc.name)
			}
		}
		for i, tc := range taken {
			e := l.commissionEv(tc.lot, tc.expiry, uri(tc, fmt.Sprintf("T%d-%d", i, rules)))
			if res := l.apply(glnMaker, KindCaptureEvents, CaptureEventsPayload{Events: []Event{e}}); !res.Accepted {
				t.Errorf("rules %d, %s: refused: %s %s", rules, tc.name, res.Code, res.Message)
			}
		}
	}
}

// TestRules3ReadAnExpiryAtTheEntrysTime: the century of AI (17)'s year is
// the one the GS1 rule gives it at the entry's record time, not at the
// time the node applies it: in a ledger whose clock reads 2090, 2140 is
// an expiry a code carries and 2039 is not.
func TestRules3ReadAnExpiryAtTheEntrysTime(t *testing.T) {
	l := newLedger(t)
	l.network()
	l.now = time.Date(2090, 6, 1, 0, 0, 0, 0, time.UTC)
	l.capture(glnMaker, l.commissionEv("L1", "2140-12-31", sgtinDL(gtinA, "F1")))
	l.captureReject(CodeBadPayload, glnMaker, l.commissionEv("L1", "2039-12-31", sgtinDL(gtinA, "F2")))
}

// TestRules3DispositionsAreTheStatusesEventsLeave captures events whose
// disposition is a status the ledger keeps but not the one the event
// leaves its packs in: rules version 2 accepted them, and an event that
// changes no status left its pack as it was (an "inspecting → destroyed"
// pack still active, held and dispensable); version 3 refuses them,
// naming the business step that sets the status. Dispositions that are no
// status the ledger keeps, and those that say what the event did, are
// accepted by both.
func TestRules3DispositionsAreTheStatusesEventsLeave(t *testing.T) {
	l := newLedger(t)
	l.rules = 2
	l.network()
	with := withDisposition
	transaction := func(bizStep, disposition string, epcs ...string) Event {
		e := l.event(TransactionEvent, ActionAdd, bizStep)
		e.EPCList, e.Disposition = epcs, disposition
		e.BizTransactionList = []BizTransaction{{Type: "inv", BizTransaction: "urn:epcglobal:cbv:bt:" + glnPharmacy + ":INV1"}}
		return e
	}
	aggregation := func(disposition, parent string, children ...string) Event {
		e := l.event(AggregationEvent, ActionObserve, "inspecting")
		e.ParentID, e.ChildEPCs, e.Disposition = parent, children, disposition
		return e
	}
	refused := []struct {
		name string
		sets string // the bizStep the refusal names
		// event is the event about pack, held active by the pharmacy in
		// case box, or dispensed there when the case is dispensed.
		event     func(pack, box string) Event
		dispensed bool
		moves     bool // under rules 2 the event changes the pack's status
	}{
		{"inspecting, destroyed", "destroying", func(p, _ string) Event { return with(l.observeEv("inspecting", p), "destroyed") }, false, false},
		{"an AssociationEvent, dispensed", "dispensing", func(p, box string) Event {
			e := l.event(AssociationEvent, ActionAdd, "")
			e.ParentID, e.ChildEPCs, e.Disposition = box, []string{p}, "dispensed"
			return e
		}, false, false},
		{"no bizStep, stolen", "decommissioning", func(p, _ string) Event { return with(l.observeEv("", p), "stolen") }, false, false},
		{"a case unpacked, destroyed", "destroying", func(p, box string) Event { return with(l.unpackEv(box, p), "destroyed") }, false, false},
		{"a lot inspected, destroyed", "destroying", func(string, string) Event { return with(l.classEv("inspecting", lotDL(gtinA, "L1")), "destroyed") }, false, false},
		{"dispensing, active", "receiving", func(p, box string) Event {
			return with(l.observeEv("dispensing", p), "active")
		}, false, true},
		{"destroying, stolen", "decommissioning", func(p, _ string) Event { return with(l.observeEv("destroying", p), "stolen") }, false, true},
		{"shipping, active", "receiving", func(p, box string) Event { return with(l.shipEv(glnPharm2, box), "active") }, false, true},
	}
	for _, rules := range []int{2, 3} {
		if rules == 3 {
			l.adoptRules3()
		}
		for i, tc := range refused {
			serial, box := fmt.Sprintf("D%d-%d", i, rules), ssccDL(600+10*i+rules)
			pack := l.supplyChain(serial)[0]
			l.capture(glnPharmacy, l.packEv(box, pack))
			want := StatusActive
			if tc.dispensed {
				l.capture(glnPharmacy, l.unpackEv(box, pack), l.observeEv("dispensing", pack))
				want = StatusDispensed
			}
			res := l.apply(glnPharmacy, KindCaptureEvents, CaptureEventsPayload{Events: []Event{tc.event(pack, box)}})
			_, hint, _ := strings.Cut(res.Message, "an ObjectEvent ")
			switch {
			case rules == 2 && !res.Accepted:
				t.Errorf("rules 2, %s: refused: %s %s", tc.name, res.Code, res.Message)
			case rules == 3 && (res.Accepted || res.Code != CodeUnsupportedEvent || !strings.Contains(hint, tc.sets)):
				t.Errorf("rules 3, %s: accepted %v, %s %q; want %s naming bizStep %s", tc.name, res.Accepted, res.Code, res.Message, CodeUnsupportedEvent, tc.sets)
			}
			if rules == 2 && tc.moves {
				continue
			}
			if it := l.mustItem(PackKey(gtinA, serial)); it.Status != want || it.Holder != glnPharmacy {
				t.Errorf("rules %d, %s: the pack is %s, held by %s; want %s at the pharmacy", rules, tc.name, it.Status, it.Holder, want)
			}
		}

		// Accepted by both: dispositions that are no status, those that
		// say what the event did or left, and active or in_transit said
		// by an event that changed nothing: events may be recorded late
		// and listed in any order, so those may describe a state the
		// pack has since left (a TransactionEvent before its shipment, an
		// inspection recorded after it).
		n := func(s string) string { return fmt.Sprintf("%s-%d", s, rules) }
		packs := l.supplyChain(n("A"), n("B"), n("C"), n("D"), n("E"), n("F"))
		a, b, c, d, e, f := packs[0], packs[1], packs[2], packs[3], packs[4], packs[5]
		l.capture(glnPharmacy,
			transaction("shipping", "in_transit", f),
			with(l.shipEv(glnPharm2, f), "in_transit"),
			with(l.observeEv("inspecting", f), "active"),
		)
		// A transformation changes no pack, and its disposition is its
		// outputs': its input destroyed, its output active, it says
		// active.
		out := sgtinDL(gtinB, n("OUT"))
		tr := l.event(TransformationEvent, "", "repackaging")
		tr.InputEPCList, tr.OutputEPCList, tr.Disposition = []string{sgtinDL(gtinA, n("IN"))}, []string{out}, "active"
		l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", tr.InputEPCList...), l.shipEv(glnMaker2, tr.InputEPCList...))
		l.capture(glnMaker2, with(l.observeEv("receiving", tr.InputEPCList...), "active"))
		l.capture(glnMaker2, with(l.observeEv("destroying", tr.InputEPCList...), "destroyed"), l.commissionEv("LB1", "2028-12-31", out), tr)
		box := ssccDL(900 + rules)
		l.capture(glnPharmacy,
			l.packEv(box, c),
			with(l.observeEv("inspecting", a), "damaged"),
			with(l.observeEv("inspecting", a), "sellable_not_accessible"),
			with(l.observeEv("inspecting", a), "expired"),
			with(l.observeEv("inspecting", a), "returned"),
			with(l.observeEv("inspecting", a), "active"),
			aggregation("active", box, c),
			aggregation("in_transit", box, c),
			transaction("shipping", "in_transit", a),
			transaction("", "", a),
			transaction("", "active", a),
			with(l.classEv("inspecting", lotDL(gtinA, "L1")), "recalled"),
			with(l.unpackEv(box), "active"),
			with(l.observeEv("dispensing", d), "dispensed"),
			with(l.observeEv("inspecting", d), "dispensed"),
			with(l.observeEv("inspecting", d), "active"),
			with(l.observeEv("destroying", c), "destroyed"),
			with(l.observeEv("decommissioning", b), "stolen"),
			with(l.shipEv(glnPharm2, e), "in_transit"),
			with(l.observeEv("void_shipping", e), "active"),
			with(l.shipEv(glnPharm2, e), "in_transit"),
		)
		l.capture(glnPharm2, with(l.observeEv("receiving", e), "active"))
	}
}

// TestRules3TakeDeclarationsOfEventsTakenBefore: an event rules version 2
// took, whose disposition says what it did not do, is what an
// errorDeclaration retracts; once the ledger is at 3 its capturer may
// still declare it erroneous, as the declaration restates the event
// unchanged.
func TestRules3TakeDeclarationsOfEventsTakenBefore(t *testing.T) {
	l := newLedger(t)
	l.rules = 2
	l.network()
	pack := l.supplyChain("E1")[0]
	e := l.observeEv("inspecting", pack)
	e.Disposition = "destroyed"
	var ids CaptureResult
	if err := json.Unmarshal(l.capture(glnPharmacy, e).Data, &ids); err != nil {
		t.Fatal(err)
	}
	l.adoptRules3()
	again := e
	again.EventTime = again.EventTime.Add(time.Second)
	l.captureReject(CodeUnsupportedEvent, glnPharmacy, again)
	e.EventID = ids.EventIDs[0]
	e.ErrorDeclaration = &ErrorDeclaration{DeclarationTime: l.now, Reason: "incorrect_data"}
	l.capture(glnPharmacy, e)
}

// withDisposition is e saying disposition d.
func withDisposition(e Event, d string) Event {
	e.Disposition = d
	return e
}

// TestRules3GoneClaimsHoldOnceTheCaptureIsApplied: a disposition saying a
// pack left the supply chain (dispensed, destroyed, stolen, or CBV's
// inactive and retail_sold) of a pack the event left as it was is taken
// if some event of the capture leaves the pack so, before or after it,
// whatever comes later: a sale's TransactionEvent is taken before or
// after the dispensing it records, a destruction after both too. One no event of the capture makes true is refused, and so is one
// on an event naming a class, even beside a pack that is gone. CBV's
// disposed (returned for disposal) is no status of the ledger's.
// retail_sold is a dispense, and inactive no final status: neither holds
// of a stolen pack. What a persistentDisposition sets is said as the
// disposition is.
func TestRules3GoneClaimsHoldOnceTheCaptureIsApplied(t *testing.T) {
	l := newLedger(t)
	l.network()
	packs := l.supplyChain("G1", "G2", "G3", "G4", "G5", "G6", "G7", "G8", "G9", "G10")
	sale := func(p string) Event {
		e := l.event(TransactionEvent, ActionAdd, "retail_selling")
		e.EPCList, e.Disposition = []string{p}, "dispensed"
		e.BizTransactionList = []BizTransaction{{Type: "inv", BizTransaction: "urn:epcglobal:cbv:bt:" + glnPharmacy + ":R1"}}
		return e
	}
	dispense := func(p string) Event { return withDisposition(l.observeEv("dispensing", p), "dispensed") }
	destroying := func(p string) Event { return withDisposition(l.observeEv("destroying", p), "destroyed") }
	l.capture(glnPharmacy, dispense(packs[0]), sale(packs[0]))
	l.capture(glnPharmacy, sale(packs[1]), dispense(packs[1]))
	l.capture(glnPharmacy, sale(packs[5]), dispense(packs[5]), destroying(packs[5]))
	l.capture(glnPharmacy, sale(packs[4]), l.observeEv("dispensing", packs[4]))      // a dispensing that says no disposition
	l.capture(glnPharmacy, dispense(packs[7]), destroying(packs[7]), sale(packs[7])) // the sale recorded last
	l.capture(glnPharmacy, dispense(packs[9]))
	l.capture(glnPharmacy, destroying(packs[9]), sale(packs[9])) // dispensed before the capture
	// A disposition persistentDisposition sets is judged as the event's own.
	persistent := l.observeEv("inspecting", packs[8])
	persistent.PersistentDisposition = &PersistentDisposition{Set: []string{"stolen"}}
	l.captureReject(CodeUnsupportedEvent, glnPharmacy, persistent)
	l.captureReject(CodeUnsupportedEvent, glnPharmacy, sale(packs[2]))
	l.captureReject(CodeUnsupportedEvent, glnPharmacy, sale(packs[2]), destroying(packs[2]))
	for _, d := range []string{"inactive", "retail_sold"} {
		l.captureReject(CodeUnsupportedEvent, glnPharmacy, withDisposition(l.observeEv("inspecting", packs[2]), d))
		l.capture(glnPharmacy, withDisposition(l.observeEv("inspecting", packs[0]), d)) // dispensed
	}
	l.capture(glnPharmacy, withDisposition(l.observeEv("holding", packs[2]), "disposed"))
	l.mustApply(glnPharmacy, KindDecommission, DecommissionPayload{EPCs: packs[6:7], Status: StatusStolen})
	for _, d := range []string{"inactive", "retail_sold", "dispensed"} {
		l.captureReject(CodeUnsupportedEvent, glnPharmacy, withDisposition(l.observeEv("retail_selling", packs[6]), d))
	}
	l.capture(glnPharmacy, destroying(packs[3]))
	mixed := withDisposition(l.classEv("inspecting", lotDL(gtinA, "L1")), "destroyed")
	mixed.EPCList = []string{packs[3]}
	l.captureReject(CodeUnsupportedEvent, glnPharmacy, mixed)
	for _, p := range packs[2:3] {
		if it := l.mustItem(keyOf(p)); it.Status != StatusActive {
			t.Fatalf("%s is %s after refused captures", p, it.Status)
		}
	}
}

// TestRules3DecommissioningInactiveRecordsTheCommand: CBV's decommissioning
// event says inactive, which no one EU FMD status is; from rules version
// 3 it is taken as the record of a decommission the command made (here a
// lock), and still refused of an active pack, and before version 3.
func TestRules3DecommissioningInactiveRecordsTheCommand(t *testing.T) {
	for _, rules := range []int{2, RulesVersion} {
		l := newLedger(t)
		l.rules = rules
		l.network()
		packs := l.supplyChain("I1", "I2")
		l.mustApply(glnPharmacy, KindDecommission, DecommissionPayload{EPCs: packs[:1], Status: StatusLocked})
		inactive := func(p string) Event {
			e := l.event(ObjectEvent, ActionDelete, "decommissioning")
			e.EPCList, e.Disposition = []string{p}, "inactive"
			return e
		}
		res := l.apply(glnPharmacy, KindCaptureEvents, CaptureEventsPayload{Events: []Event{inactive(packs[0])}})
		if res.Accepted != (rules >= rulesCaptureConsistency) {
			t.Errorf("rules %d, a locked pack: accepted %v (%s)", rules, res.Accepted, res.Message)
		}
		l.captureReject(CodeUnsupportedEvent, glnPharmacy, inactive(packs[1]))
		if it := l.mustItem(keyOf(packs[0])); it.Status != StatusLocked {
			t.Errorf("rules %d: the locked pack is %s", rules, it.Status)
		}
	}
}
