package models

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestRules1StoresEventsAsBefore: a ledger at rules version 1 stores a
// captured event as the binary before rule versions did, without its
// readPoint's user fields, so every node at 1 stores the same whichever
// binary it runs; from version 2 they are stored.
func TestRules1StoresEventsAsBefore(t *testing.T) {
	for _, rules := range []int{1, 2} {
		l := newLedger(t)
		l.rules = rules
		l.network()
		epc := sgtinDL(gtinA, "X1")
		l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", epc))
		e := mustEvent(t, `{"type":"ObjectEvent","eventTime":"2026-03-01T10:00:00Z","eventTimeZoneOffset":"+01:00","epcList":["`+epc+`"],
			"action":"OBSERVE","bizStep":"inspecting","readPoint":{"id":"urn:epc:id:sgln:4012345.00001.0","ex:room":"12"}}`)
		l.capture(glnMaker, e)
		var rec EventRecord
		if err := l.db.Where("biz_step = ?", "inspecting").Take(&rec).Error; err != nil {
			t.Fatal(err)
		}
		if kept := strings.Contains(rec.JSON, `"ex:room"`); kept != (rules >= 2) {
			t.Errorf("rules %d: stored %s", rules, rec.JSON)
		}
	}
}

// TestDeclarationsOfEventsCapturedByOlderRules declares erroneous, through
// a document read by the ledger's rules, events captured while the
// ledger was at version 1: with a compact CBV value, a sensor report's
// user field, a readPoint's user field and an offset beyond ±14:00. Each
// declaration is accepted at version 1 and after the ledger adopted 2.
func TestDeclarationsOfEventsCapturedByOlderRules(t *testing.T) {
	const context = `"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",{"ex":"https://example.com/ns/"}]`
	for name, fields := range map[string]string{
		"compact bizStep":        `"eventTimeZoneOffset":"+01:00","bizStep":"cbv:BizStep-inspecting"`,
		"sensor user field":      `"eventTimeZoneOffset":"+01:00","bizStep":"inspecting","sensorElementList":[{"sensorReport":[{"type":"Temperature","value":5,"uom":"CEL","ex:probe":"A"}]}]`,
		"readPoint user field":   `"eventTimeZoneOffset":"+01:00","bizStep":"inspecting","readPoint":{"id":"urn:epc:id:sgln:4012345.00001.0","ex:room":"12"}`,
		"offset beyond 14 hours": `"eventTimeZoneOffset":"+14:30","bizStep":"inspecting"`,
	} {
		for _, rules := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s, declared at rules %d", name, rules), func(t *testing.T) {
				l := newLedger(t)
				l.rules = 1
				l.network()
				epc := sgtinDL(gtinA, "D1")
				l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", epc))
				event := `{"type":"ObjectEvent","eventTime":"2026-03-01T10:00:00Z",` + fields + `,"epcList":["` + epc + `"],"action":"OBSERVE"`
				doc := func(extra string) []byte {
					return []byte(`{` + context + `,"type":"EPCISDocument","epcisBody":{"eventList":[` + event + extra + `}]}}`)
				}
				events, err := DecodeDocumentAt(doc(""), 1)
				if err != nil {
					t.Fatal(err)
				}
				var ids CaptureResult
				if err := json.Unmarshal(l.capture(glnMaker, events...).Data, &ids); err != nil {
					t.Fatal(err)
				}
				if rules == 2 {
					l.mustApply("", KindAdoptRules, AdoptRulesPayload{Version: 2})
				}
				declared, err := DecodeDocumentAt(doc(`,"eventID":"`+ids.EventIDs[0]+`","errorDeclaration":{"declarationTime":"2026-03-02T10:00:00Z","reason":"incorrect_data"}`), rules)
				if err != nil {
					t.Fatalf("rules %d: the declaration's document: %v", rules, err)
				}
				if res := l.apply(glnMaker, KindCaptureEvents, CaptureEventsPayload{Events: declared}); !res.Accepted {
					t.Errorf("rules %d: declaration refused: %s: %s", rules, res.Code, res.Message)
				}
			})
		}
	}
}

// TestADeclarationIsJudgedAlikeWhicheverBinaryStoredTheEvent: during a
// rolling upgrade a capture is applied by old binaries on some nodes and
// by this one on others, at rules 1. The projections must hold the same
// event (f414Stored is what the binary before rule versions stored for
// it), or a declaration restating it after the adoption of 2 would be
// judged differently, and the nodes' trees would part.
func TestADeclarationIsJudgedAlikeWhicheverBinaryStoredTheEvent(t *testing.T) {
	const id = "urn:uuid:00000000-0000-4000-8000-0000000000a1"
	const f414Stored = `{"type":"ObjectEvent","eventTime":"2026-03-01T11:00:00+01:00","eventTimeZoneOffset":"+01:00","recordTime":"2026-03-01T09:01:00Z","eventID":"` + id +
		`","epcList":["https://id.gs1.org/01/04012345123456/21/X1"],"action":"OBSERVE","bizStep":"inspecting","readPoint":{"id":"urn:epc:id:sgln:4012345.00001.0"}}`
	event := `{"type":"ObjectEvent","eventID":"` + id + `","eventTime":"2026-03-01T10:00:00Z","eventTimeZoneOffset":"+01:00","epcList":["` + sgtinDL(gtinA, "X1") +
		`"],"action":"OBSERVE","bizStep":"inspecting","readPoint":{"id":"urn:epc:id:sgln:4012345.00001.0","ex:room":"12"}`
	var stored []string
	var results []Result
	for _, oldNode := range []bool{false, true} {
		l := newLedger(t)
		l.rules = 1
		l.network()
		l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", sgtinDL(gtinA, "X1")))
		if r := l.apply(glnMaker, KindCaptureEvents, json.RawMessage(`{"events":[`+event+`}]}`)); !r.Accepted {
			t.Fatalf("capture: %+v", r)
		}
		if oldNode {
			if err := l.db.Model(&EventRecord{}).Where("event_id = ?", id).Update("json", f414Stored).Error; err != nil {
				t.Fatal(err)
			}
		}
		var rec EventRecord
		if err := l.db.Where("event_id = ?", id).Take(&rec).Error; err != nil {
			t.Fatal(err)
		}
		stored = append(stored, rec.JSON)
		l.mustApply("", KindAdoptRules, AdoptRulesPayload{Version: 2})
		decl := json.RawMessage(`{"events":[` + event + `,"errorDeclaration":{"declarationTime":"2026-03-02T10:00:00Z","reason":"incorrect_data"}}]}`)
		results = append(results, l.apply(glnMaker, KindCaptureEvents, decl))
	}
	if stored[0] != stored[1] {
		t.Errorf("rules 1 stored\n%s\nwhere the binary before versions stored\n%s", stored[0], stored[1])
	}
	if results[0].Accepted != results[1].Accepted || results[0].Code != results[1].Code || !results[0].Accepted {
		t.Errorf("the same declaration: %+v on a node of this binary, %+v on one of the binary before versions", results[0], results[1])
	}
}
