package models

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestRules1HashesAsTheRulesAlwaysDid hashes events that exercise every
// change version 2 made to the event hash (a sensor's GIAI and compact
// URIs, a GDTI and a GRAI in bizTransactions, a location's user fields, a
// transformationID, compact values in user fields) under rules version 1:
// each id is the one the binary before rule versions gave it
// (testdata/hash_rules1.json, computed by that binary), so a node
// replaying entries judged by version 1 names their events as it did.
// Under version 2 every one but the last, which names only EPCs Pedigree
// always converted, gets another id.
func TestRules1HashesAsTheRulesAlwaysDid(t *testing.T) {
	data, err := os.ReadFile("testdata/hash_rules1.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Event  json.RawMessage `json:"event"`
		Rules1 string          `json:"rules1"`
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	for i, tc := range cases {
		e, err := DecodeEvent(tc.Event)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if got := eventHashID(&e, 1); got != tc.Rules1 {
			t.Errorf("event %d, rules 1: %s, want %s", i, got, tc.Rules1)
		}
		v2 := eventHashID(&e, 2)
		if changed := v2 != tc.Rules1; changed != (i < len(cases)-1) {
			t.Errorf("event %d: rules 2 id %s, rules 1 id %s", i, v2, tc.Rules1)
		}
		if v2 != EventHashID(e) {
			t.Errorf("event %d: EventHashID is not the newest rules' id", i)
		}
	}
}

// TestRules2JudgeCapturesFromTheirAdoption captures the same kinds of
// events before and after the ledger adopts rules version 2: before, an
// offset of +14:30 is taken, a compact CBV value is stored as given and a
// sensor event is named by its version 1 hash; after, the offset is
// refused, the compact value is the standard one and the hash is version
// 2's.
func TestRules2JudgeCapturesFromTheirAdoption(t *testing.T) {
	l := newLedger(t)
	l.rules = 1
	l.network()
	sensor := func(serial string) Event {
		e := l.commissionEv("L1", "2028-12-31", sgtinDL(gtinA, serial))
		e.SensorElementList = []SensorElement{{SensorReport: []map[string]json.RawMessage{{"type": json.RawMessage(`"gs1:Temperature"`), "value": json.RawMessage(`4.5`)}}}}
		return e
	}
	inspect := func(epc string) Event {
		e := l.observeEv("", epc)
		e.BizStep = "cbv:BizStep-inspecting"
		return e
	}
	far := func(serial string) Event {
		e := l.commissionEv("L1", "2028-12-31", sgtinDL(gtinA, serial))
		e.EventTimeZoneOffset = "+14:30"
		return e
	}
	inspecting := func() int {
		page, err := QueryEvents(l.db, EventQuery{BizStep: []string{"inspecting"}})
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Events)
	}

	for _, rules := range []int{1, 2} {
		if rules == 2 {
			if res, err := l.applyBatch(2, l.adoptCmd(2)); err != nil || !res[0].Accepted {
				t.Fatalf("adopting 2: %+v, %v", res, err)
			}
		}
		serial := func(s string) string { return s + string(rune('0'+rules)) }
		e := sensor(serial("S"))
		res := l.capture(glnMaker, e)
		var ids CaptureResult
		if err := json.Unmarshal(res.Data, &ids); err != nil {
			t.Fatal(err)
		}
		if want := eventHashID(&e, rules); ids.EventIDs[0] != want {
			t.Errorf("rules %d: the sensor event is %s, want %s", rules, ids.EventIDs[0], want)
		}
		if eventHashID(&e, 1) == eventHashID(&e, 2) {
			t.Fatal("the sensor event hashes alike under both rules")
		}

		l.capture(glnMaker, inspect(sgtinDL(gtinA, serial("S"))))
		if got, want := inspecting(), rules-1; got != want {
			t.Errorf("rules %d: %d events found as inspecting, want %d", rules, got, want)
		}

		if rules == 1 {
			l.capture(glnMaker, far(serial("F")))
		} else {
			l.captureReject(CodeBadPayload, glnMaker, far(serial("F")))
		}
	}
}

// TestARefusalNamesNoOtherParty: a capture or decommission refused
// because the caller does not hold, or was not sent, a pack or container
// says so without naming who does hold it or where it went. The refusal
// goes to whoever asked, and any organisation may ask about any item:
// SSCCs run in sequence, so naming the holder would let anyone list who
// holds a competitor's cases and pallets, and where they are going.
func TestARefusalNamesNoOtherParty(t *testing.T) {
	l := newLedger(t)
	l.network()
	pack, inShipped := sgtinDL(gtinA, "NP1"), sgtinDL(gtinA, "NP2")
	held, shipped := ssccDL(71), ssccDL(72)
	l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", pack, inShipped), l.packEv(held, pack), l.packEv(shipped, inShipped))
	l.capture(glnMaker, l.shipEv(glnWholesal, shipped))
	for name, res := range map[string]Result{
		"ship another's case":           l.captureReject(CodeNotCustodian, glnPharmacy, l.shipEv(glnPharm2, held)),
		"pack into another's case":      l.captureReject(CodeNotCustodian, glnPharmacy, l.packEv(held, pack)),
		"receive a case sent elsewhere": l.captureReject(CodeNotDestination, glnPharmacy, l.observeEv("receiving", shipped)),
		"dispense another's pack": l.mustReject(CodeNotCustodian, glnPharmacy, KindDecommission,
			DecommissionPayload{EPCs: []string{pack}, Status: StatusDispensed}),
	} {
		for _, other := range []string{glnMaker, glnWholesal} {
			if strings.Contains(res.Message, other) {
				t.Errorf("%s: %q names %s", name, res.Message, other)
			}
		}
		if !strings.Contains(res.Message, glnPharmacy) {
			t.Errorf("%s: %q does not say who asked", name, res.Message)
		}
	}
}
