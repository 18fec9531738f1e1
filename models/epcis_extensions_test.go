package models

import (
	"encoding/json"
	"strings"
	"testing"
)

// User extension fields must survive capture, the stored JSON and a query,
// and enter the event hash (CBV 2.0 §8.9): a stored event stands alone,
// so it hashes the same without the document it came in.

// extDocContext is a document context that names the example namespace.
const extDocContext = `["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",{"ex":"https://ns.example.com/epcis/"}]`

// extDoc wraps events in an EPCISDocument with extDocContext.
func extDoc(events ...string) string {
	return `{"@context":` + extDocContext + `,"type":"EPCISDocument","schemaVersion":"2.0",
		"creationDate":"2026-02-01T09:00:00Z","epcisBody":{"eventList":[` + strings.Join(events, ",") + `]}}`
}

// mustDocEvent decodes a one-event document.
func mustDocEvent(t *testing.T, doc string) Event {
	t.Helper()
	events, err := DecodeDocument([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("%d events", len(events))
	}
	return events[0]
}

// checkStoredStandsAlone checks that the event's stored JSON decodes, on
// the strict path and in a capture payload, to an event with the same
// stored JSON and hash id.
func checkStoredStandsAlone(t *testing.T, ev Event) []byte {
	t.Helper()
	stored, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	again := mustEvent(t, string(stored))
	if got, want := EventHashID(again), EventHashID(ev); got != want {
		t.Fatalf("the stored event hashes to %s, the captured one to %s:\n%s", got, want, stored)
	}
	if b, _ := json.Marshal(again); string(b) != string(stored) {
		t.Fatalf("stored JSON changed over a round trip:\n%s\n%s", stored, b)
	}
	var p CaptureEventsPayload
	if err := json.Unmarshal([]byte(`{"events":[`+string(stored)+`]}`), &p); err != nil {
		t.Fatal(err)
	}
	if EventHashID(p.Events[0]) != EventHashID(ev) {
		t.Fatalf("the stored event in a capture payload hashes differently:\n%s", stored)
	}
	return stored
}

func TestLocationExtensionsSurvive(t *testing.T) {
	const event = `{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00",
		"epcList":["urn:epc:id:sgtin:4012345.012345.SN1"],"action":"OBSERVE","bizStep":"inspecting",
		"readPoint":{"id":"urn:epc:id:sgln:4012345.00011.0","ex:room":" 12 "},
		"bizLocation":{"ex:dock":{"ex:door":3,"ex:side":"north"},"id":"urn:epc:id:sgln:4012345.00011.0"}}`
	ev := mustDocEvent(t, extDoc(event))
	if got := string(ev.ReadPointExtensions["ex:room"]); got != `" 12 "` {
		t.Fatalf("readPoint extension = %q", got)
	}
	if got := string(ev.BizLocationExtensions["ex:dock"]); got != `{"ex:door":3,"ex:side":"north"}` {
		t.Fatalf("bizLocation extension = %q", got)
	}
	if string(ev.Context) != extDocContext {
		t.Fatalf("the event did not keep the document's context: %s", ev.Context)
	}

	// Each location's user fields follow its id, expanded and sorted;
	// values are trimmed like any other.
	const ns = "{https://ns.example.com/epcis/}"
	want := "readPointid=https://id.gs1.org/414/4012345000115" + ns + "room=12" +
		"bizLocationid=https://id.gs1.org/414/4012345000115" + ns + "dock" + ns + "door=3" + ns + "side=north"
	if pre := PreHash(ev); !strings.HasSuffix(pre, want) {
		t.Fatalf("pre-hash\n %s\ndoes not end with\n %s", pre, want)
	}
	plain := mustEvent(t, event)
	plain.ReadPointExtensions, plain.BizLocationExtensions = nil, nil
	if EventHashID(plain) == EventHashID(ev) {
		t.Fatal("a location's user fields do not change the hash")
	}

	stored := checkStoredStandsAlone(t, ev)
	for _, frag := range []string{`"readPoint":{"id":"urn:epc:id:sgln:4012345.00011.0","ex:room":" 12 "}`,
		`"bizLocation":{"id":"urn:epc:id:sgln:4012345.00011.0","ex:dock":{"ex:door":3,"ex:side":"north"}}`} {
		if !strings.Contains(string(stored), frag) {
			t.Fatalf("stored JSON lacks %s:\n%s", frag, stored)
		}
	}
}

func TestLocationFieldErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ location, path string }{
		{`{"id":"urn:epc:id:sgln:4012345.00011.0","room":1}`, "readPoint.room"},
		{`{"ex:room":1}`, "readPoint.id"},
		{`{"id":"urn:epc:id:sgln:4012345.00011.0","":1}`, "readPoint."},
		{`[]`, "readPoint"},
	} {
		_, err := DecodeEvent([]byte(`{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00",
			"epcList":["urn:epc:id:sgtin:4012345.012345.SN1"],"action":"OBSERVE","readPoint":` + tc.location + `}`))
		de, ok := err.(*DecodeError)
		if !ok || de.Path != tc.path {
			t.Errorf("readPoint %s: error %v, want one at %q", tc.location, err, tc.path)
		}
	}
}

// TestSensorUserFieldsKeepTheContext: user fields inside sensorMetadata or
// a sensorReport are expanded through the document's context, so an event
// whose only user fields are there must keep it too; so must one whose only
// user field is in its error declaration.
func TestSensorUserFieldsKeepTheContext(t *testing.T) {
	for _, tc := range []struct{ name, element, want string }{
		{"in sensorMetadata", `{"sensorMetadata":{"time":"2026-02-01T08:00:00Z","ex:calibrated":"2025-12-01"},"sensorReport":[{"type":"Temperature","value":4}]}`,
			"sensorMetadatatime=2026-02-01T08:00:00.000Z{https://ns.example.com/epcis/}calibrated=2025-12-01"},
		{"in a sensorReport", `{"sensorReport":[{"type":"Temperature","value":4,"ex:probe":"P1"}]}`,
			"sensorReporttype=https://gs1.org/voc/Temperaturevalue=4{https://ns.example.com/epcis/}probe=P1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := mustDocEvent(t, extDoc(`{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00",
				"epcList":["urn:epc:id:sgtin:4012345.012345.SN1"],"action":"OBSERVE","sensorElementList":[`+tc.element+`]}`))
			if string(ev.Context) != extDocContext {
				t.Fatalf("the event did not keep the document's context: %q", ev.Context)
			}
			if pre := PreHash(ev); !strings.Contains(pre, tc.want) {
				t.Fatalf("pre-hash %s lacks %s", pre, tc.want)
			}
			checkStoredStandsAlone(t, ev)
		})
	}
	// An error declaration's user fields are not hashed, but the stored
	// event still needs the context to say what they are.
	declared := mustDocEvent(t, extDoc(`{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00",
		"epcList":["urn:epc:id:sgtin:4012345.012345.SN1"],"action":"OBSERVE",
		"errorDeclaration":{"declarationTime":"2026-02-02T09:00:00Z","reason":"incorrect_data","ex:ticket":"T-1"}}`))
	if string(declared.Context) != extDocContext {
		t.Fatalf("an event whose only user field is in its error declaration did not keep the context: %q", declared.Context)
	}
	// An event without user fields stores no context.
	ev := mustDocEvent(t, extDoc(`{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00",
		"epcList":["urn:epc:id:sgtin:4012345.012345.SN1"],"action":"OBSERVE","sensorElementList":[{"sensorReport":[{"type":"Temperature","value":4}]}]}`))
	if ev.Context != nil {
		t.Fatalf("an event without user fields kept the context %s", ev.Context)
	}
}
