package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// strictReference decodes a capture payload the way decodeThen's strict
// path does, without the one-pass decoder: the payload is one JSON value,
// nothing but space after it, decoded by decodeStrict.
func strictReference(data []byte) (CaptureEventsPayload, error) {
	var p CaptureEventsPayload
	var raw json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return p, err
	}
	if dec.More() {
		return p, fmt.Errorf("trailing data")
	}
	err := p.decodeStrict(raw)
	return p, err
}

// checkFastMatchesStrict fails when the one-pass decoder accepts data and
// the strict decoder does not, or decodes it differently.
func checkFastMatchesStrict(t *testing.T, data []byte) (fastOK bool) {
	t.Helper()
	events, ok := decodeCaptureFast(data)
	if !ok {
		return false
	}
	fast := CaptureEventsPayload{Events: events}
	want, err := strictReference(data)
	if err != nil {
		t.Fatalf("one pass accepted what the strict decoder rejects (%v):\n%s", err, data)
	}
	if !reflect.DeepEqual(fast, want) {
		t.Fatalf("one pass and strict decoder differ on\n%s\n got %#v\nwant %#v", data, fast, want)
	}
	return true
}

// scanSeedEvents are events of every shape the scanner reads and some it
// leaves to decodeEvent.
var scanSeedEvents = []string{
	demoCommissionJSON(1),
	`{"type":"AggregationEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"ADD","parentID":"urn:epc:id:sscc:4012345.0000000017","childEPCs":["https://id.gs1.org/01/04012345123456/21/A%2FB","urn:epc:id:sgtin:4012345.012345.SN0001"],"bizStep":"packing","disposition":"in_progress","readPoint":"urn:epc:id:sgln:4012345.00000.0"}`,
	`{"type":"AggregationEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"DELETE","parentID":"urn:epc:id:sscc:4012345.0000000024","childEPCs":[],"bizStep":"unpacking"}`,
	`{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00.123456789-05:00","eventTimeZoneOffset":"-05:00","action":"OBSERVE","epcList":["urn:epc:id:sscc:4012345.0000000017"],"bizStep":"urn:epcglobal:cbv:bizstep:shipping","disposition":"https://ref.gs1.org/cbv/Disp-in_transit","sourceList":[{"type":"owning_party","source":"urn:epc:id:sgln:4012345.00001.0"}],"destinationList":[{"destination":"urn:epc:id:sgln:4011111.00000.0","type":"urn:epcglobal:cbv:sdt:owning_party"}],"bizTransactionList":[{"type":"po","bizTransaction":"http://transaction.acme.com/po/1"},{"bizTransaction":"urn:epcglobal:cbv:bt:4012345000016:1"}]}`,
	`{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE","epcList":["urn:epc:id:sscc:4012345.0000000017"],"bizStep":"shipping","sensorElementList":[{"sensorReport":[{"type":"Temperature","value":4}]}]}`,
	`{"type":"TransformationEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+14:00","transformationID":"urn:example:t1","inputQuantityList":[{"epcClass":"urn:epc:class:lgtin:4012345.012345.L1","quantity":1.5e2,"uom":"KGM"}],"outputQuantityList":[{"epcClass":"urn:epc:idpat:sgtin:4012345.012345.*","quantity":0}],"outputEPCList":["urn:epc:id:sgtin:4012345.012345.X9"],"ilmd":{"lotNumber":"L7","urn:epcglobal:cbv:mda:itemExpirationDate":"2027-06-30"}}`,
	`{"type":"TransactionEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"-14:00","action":"ADD","parentID":"urn:epc:id:sscc:4012345.0000000017","epcList":["urn:epc:id:sgtin:4012345.012345.SN0001"],"quantityList":[{"epcClass":"urn:epc:class:lgtin:4012345.012345.L1"}],"bizTransactionList":[{"type":"urn:epcglobal:cbv:btt:inv","bizTransaction":"urn:example:inv:1"}]}`,
	`{"type":"AssociationEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE","childEPCs":["urn:epc:id:sgtin:4012345.012345.SN0001"],"recordTime":"2026-02-01T09:00:01Z","eventID":"urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427","bizLocation":{"id":"https://id.gs1.org/414/4012345000009"}}`,
	`{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"ADD","epcList":["urn:epc:id:sgtin:4012345.012345.SN0002"],"bizStep":"commissioning","ilmd":{"cbvmda:lotNumber":"L1","example:grade":"A"},"example:note":{"a":[1,2.5e-3,true,null,"\u00e9"]},"@context":{"example":"https://ns.example.com/"}}`,
	// The demo fixture's packing, unpacking, shipping and receiving events
	// as its json.Marshal writes them.
	`{"action":"ADD","bizLocation":{"id":"urn:epc:id:sgln:4012345.00001.0"},"bizStep":"packing","childEPCs":["https://id.gs1.org/01/04012345000016/21/S1","https://id.gs1.org/01/04012345000016/21/S2"],"disposition":"in_progress","eventTime":"2026-11-21T20:00:00Z","eventTimeZoneOffset":"+00:00","parentID":"urn:epc:id:sscc:4012345.0000000001","readPoint":{"id":"urn:epc:id:sgln:4012345.00001.0"},"type":"AggregationEvent"}`,
	`{"action":"DELETE","bizLocation":{"id":"urn:epc:id:sgln:4012345.00001.0"},"bizStep":"unpacking","childEPCs":["https://id.gs1.org/01/04012345000016/21/S1"],"eventTime":"2026-11-21T20:00:00Z","eventTimeZoneOffset":"+00:00","parentID":"urn:epc:id:sscc:4012345.0000000001","readPoint":{"id":"urn:epc:id:sgln:4012345.00001.0"},"type":"AggregationEvent"}`,
	`{"action":"OBSERVE","bizLocation":{"id":"urn:epc:id:sgln:4012345.00001.0"},"bizStep":"shipping","destinationList":[{"destination":"urn:epc:id:sgln:4012345.00010.0","type":"owning_party"}],"disposition":"in_transit","epcList":["urn:epc:id:sscc:4012345.0000000001"],"eventTime":"2026-11-21T20:00:00Z","eventTimeZoneOffset":"+00:00","readPoint":{"id":"urn:epc:id:sgln:4012345.00001.0"},"sourceList":[{"source":"urn:epc:id:sgln:4012345.00001.0","type":"owning_party"}],"type":"ObjectEvent"}`,
	`{"action":"OBSERVE","bizLocation":{"id":"urn:epc:id:sgln:4012345.00010.0"},"bizStep":"receiving","disposition":"active","epcList":["urn:epc:id:sscc:4012345.0000000001"],"eventTime":"2026-11-21T20:00:00Z","eventTimeZoneOffset":"+00:00","readPoint":{"id":"urn:epc:id:sgln:4012345.00010.0"},"type":"ObjectEvent"}`,
	// Events with fields the scanner leaves to decodeEvent.
	`{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"ADD","epcList":["urn:epc:id:sgtin:4012345.012345.SN0003"],"certificationInfo":"https://cert.example/1","errorDeclaration":{"declarationTime":"2026-02-02T09:00:00Z","reason":"incorrect_data"},"persistentDisposition":{"set":["active"]}}`,
	`{"@context":{"ex":"https://ns.example.com/"},"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE","epcList":["urn:epc:id:sgtin:4012345.012345.SN0004"],"readPoint":{"id":"urn:epc:id:sgln:4012345.00000.0","ex:room":"12"},"bizLocation":{"ex:dock":{"ex:door":3},"id":"geo:52.1,4.3"},"sensorElementList":[{"sensorMetadata":{"time":"2026-02-01T08:00:00Z","ex:calibrated":"2025-12-01"},"sensorReport":[{"type":"gs1:Temperature","value":4,"ex:probe":"P1"}]}]}`,
}

// scanSeedPayloads wraps the seed events, alone and together, in capture
// payloads, and adds the reference implementation's test document's
// events.
func scanSeedPayloads(t testing.TB) []string {
	var out []string
	for _, ev := range scanSeedEvents {
		out = append(out, `{"events":[`+ev+`]}`)
	}
	out = append(out, `{"events":[`+strings.Join(scanSeedEvents, ",")+`]}`)
	out = append(out, " {\n\t\"events\" : [ "+strings.Join(scanSeedEvents[:3], " ,\r\n ")+" ] } \n")
	doc, err := os.ReadFile("testdata/hash_single_event.jsonld")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		EPCISBody struct {
			EventList []json.RawMessage `json:"eventList"`
		} `json:"epcisBody"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	for _, ev := range d.EPCISBody.EventList {
		out = append(out, `{"events":[`+string(ev)+`]}`)
	}
	return out
}

func FuzzDecodeFastMatchesStrict(f *testing.F) {
	for _, p := range scanSeedPayloads(f) {
		f.Add([]byte(p))
	}
	for _, tc := range scanTrickyCases {
		f.Add([]byte(tc.payload))
	}
	f.Add(demoCapturePayload(3))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastMatchesStrict(t, data)
	})
}

// TestDecodeFastSeeds checks the seeds and that the hot events are read by
// the scanner itself, not handed to the strict per-event decoder.
func TestDecodeFastSeeds(t *testing.T) {
	for _, p := range scanSeedPayloads(t) {
		if !checkFastMatchesStrict(t, []byte(p)) {
			t.Errorf("one pass gave up on a valid payload:\n%s", p)
		}
	}
	for _, i := range []int{0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 12} {
		ev := scanSeedEvents[i]
		var e Event
		s := scanner{data: []byte(ev)}
		if !s.event(&e) {
			t.Errorf("the scanner does not read\n%s", ev)
		}
	}
}

// scanTrickyCases are payloads at the edges of JSON and of the scanner:
// fastOK says whether the one pass decides them itself (the strict decoder
// then agrees, whatever it answers).
var scanTrickyCases = []struct {
	name    string
	payload string
	fastOK  bool
}{
	{"plain", `{"events":[` + demoCommissionJSON(1) + `]}`, true},
	{"no events", `{"events":[]}`, true},
	{"no events, spaced", ` {"events" : [ ] } `, true},
	{"space everywhere", " \r\n\t{ \"events\" :\n[ " + spaced(demoCommissionJSON(1)) + " ,\n" + spaced(scanSeedEvents[5]) + " ]\t}\n", true},
	{"vertical tab", "\v{\"events\":[]}", false},
	{"form feed inside", "{\"events\":[\f]}", false},
	{"trailing data", `{"events":[]}{}`, false},
	{"trailing bracket", `{"events":[]}]`, false},
	{"trailing comma in list", `{"events":[` + demoCommissionJSON(1) + `,]}`, false},
	{"trailing comma in event", `{"events":[` + strings.TrimSuffix(demoCommissionJSON(1), "}") + `,}]}`, false},
	{"truncated", `{"events":[` + demoCommissionJSON(1), false},
	{"truncated string", `{"events":[{"type":"Obj`, false},
	{"null", `null`, false},
	{"empty", ``, false},
	{"events null", `{"events":null}`, false},
	{"events object", `{"events":{}}`, false},
	{"null event", `{"events":[null]}`, false},
	{"number event", `{"events":[1]}`, false},
	{"Events key (case-insensitive to encoding/json)", `{"Events":[]}`, false},
	{"escaped key", `{"ev\u0065nts":[]}`, false},
	{"second top key", `{"events":[],"x":1}`, false},
	{"events twice", `{"events":[],"events":[]}`, false},
	{"escape in a value", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"L1"`, `"L\u0031"`, 1) + `]}`, true},
	{"bad escape", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"L1"`, `"L\x"`, 1) + `]}`, false},
	{"slash escape", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"L1"`, `"L\/1"`, 1) + `]}`, true},
	{"unicode value", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"L1"`, `"Lé"`, 1) + `]}`, true},
	{"invalid UTF-8 value", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"L1"`, "\"L\xff\"", 1) + `]}`, true},
	{"control character", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"L1"`, "\"L\x01\"", 1) + `]}`, false},
	{"DEL", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"L1"`, "\"L\x7f\"", 1) + `]}`, true},
	{"duplicate key, last wins", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"type":"ObjectEvent"`, `"type":"Nope","type":"ObjectEvent"`, 1) + `]}`, true},
	{"duplicate lot", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"cbvmda:lotNumber":"L1"`, `"cbvmda:lotNumber":"L0","cbvmda:lotNumber":"L1"`, 1) + `]}`, true},
	{"lot in two spellings", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"cbvmda:lotNumber":"L1"`, `"lotNumber":"L0","cbvmda:lotNumber":"L1"`, 1) + `]}`, false},
	{"null lot", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"L1"`, `null`, 1) + `]}`, false},
	{"empty lot", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"L1"`, `""`, 1) + `]}`, false},
	{"null epcList", `{"events":[{"type":"AggregationEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE","childEPCs":null}]}`, true},
	{"epc twice", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"epcList":["https://id.gs1.org/01/04012345000016/21/S1"]`, `"epcList":["https://id.gs1.org/01/04012345000016/21/S1","https://id.gs1.org/01/04012345000016/21/S1"]`, 1) + `]}`, false},
	{"class in epcList", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"https://id.gs1.org/01/04012345000016/21/S1"`, `"urn:epc:class:lgtin:4012345.012345.L1"`, 1) + `]}`, false},
	{"unknown field", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"type":`, `"bogus":1,"type":`, 1) + `]}`, false},
	{"field of another type", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"type":`, `"parentID":"urn:epc:id:sscc:4012345.0000000017","type":`, 1) + `]}`, false},
	{"no type", `{"events":[{}]}`, false},
	{"bad type", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"ObjectEvent"`, `"objectEvent"`, 1) + `]}`, false},
	{"bad offset", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"+00:00"`, `"+15:00"`, 1) + `]}`, false},
	// Read as the strict decoder reads it; the rules refuse it from
	// version 2 (readEPCIS2).
	{"offset past 14:00", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"+00:00"`, `"+14:01"`, 1) + `]}`, true},
	{"offset with newline", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"+00:00"`, `"+00:00\n"`, 1) + `]}`, false},
	{"far year", `{"events":[` + strings.Replace(demoCommissionJSON(1), `2026-11-21T20:00:00Z`, `0999-11-21T20:00:00Z`, 1) + `]}`, false},
	{"lower-case t", `{"events":[` + strings.Replace(demoCommissionJSON(1), `2026-11-21T20:00:00Z`, `2026-11-21t20:00:00z`, 1) + `]}`, false},
	{"bad expiry", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"2028-11-21"`, `"2028-02-30"`, 1) + `]}`, false},
	{"location without colon", `{"events":[` + strings.Replace(demoCommissionJSON(1), `{"id":"urn:epc:id:sgln:4012345.00001.0"}`, `{"id":"here"}`, 1) + `]}`, false},
	{"location with extension", `{"events":[` + strings.Replace(demoCommissionJSON(1), `{"id":"urn:epc:id:sgln:4012345.00001.0"}`, `{"id":"geo:1,2","ex:x":1}`, 1) + `]}`, true},
	{"bad bizStep", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"commissioning"`, `"comissioning"`, 1) + `]}`, false},
	{"ILMD on OBSERVE", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"ADD"`, `"OBSERVE"`, 1) + `]}`, false},
	{"numbers", `{"events":[{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE","quantityList":[{"epcClass":"urn:epc:class:lgtin:4012345.012345.L1","quantity":-0},{"epcClass":"urn:epc:class:lgtin:4012345.012345.L2","quantity":1E+2},{"epcClass":"urn:epc:class:lgtin:4012345.012345.L3","quantity":0.000001,"uom":"KGM"},{"epcClass":"urn:epc:class:lgtin:4012345.012345.L4","quantity":1e400}]}]}`, false},
	{"leading zero", `{"events":[{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE","quantityList":[{"epcClass":"urn:epc:class:lgtin:4012345.012345.L1","quantity":01}]}]}`, false},
	{"null quantity", `{"events":[{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE","quantityList":[{"epcClass":"urn:epc:class:lgtin:4012345.012345.L1","quantity":null}]}]}`, true},
	{"uom without quantity", `{"events":[{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE","quantityList":[{"epcClass":"urn:epc:class:lgtin:4012345.012345.L1","uom":"KGM"}]}]}`, false},
	{"empty lists", `{"events":[{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE","epcList":["urn:epc:id:sgtin:4012345.012345.SN0001"],"quantityList":[],"bizTransactionList":[],"sourceList":[],"destinationList":[]}]}`, true},
	{"deep nesting", `{"events":[` + strings.Replace(demoCommissionJSON(1), `"type":`, `"ex:deep":`+strings.Repeat("[", 10001)+strings.Repeat("]", 10001)+`,"type":`, 1) + `]}`, false},
}

// spaced puts JSON white space around every structural character of a
// JSON text whose strings hold none of them.
func spaced(js string) string {
	var b strings.Builder
	inString := false
	for i := 0; i < len(js); i++ {
		c := js[i]
		if c == '"' && (i == 0 || js[i-1] != '\\') {
			inString = !inString
		}
		if !inString && strings.IndexByte("{}[]:,", c) >= 0 {
			b.WriteString(" \t")
			b.WriteByte(c)
			b.WriteString("\r\n ")
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func TestDecodeFastTricky(t *testing.T) {
	for _, tc := range scanTrickyCases {
		t.Run(tc.name, func(t *testing.T) {
			// Some cases are decided by the strict per-event decoder
			// inside the one pass; fastOK is whether the pass as a whole
			// decides, which it must when the strict decoder accepts.
			got := checkFastMatchesStrict(t, []byte(tc.payload))
			_, strictErr := strictReference([]byte(tc.payload))
			if got != tc.fastOK {
				t.Fatalf("one pass ok=%v (strict error %v), want ok=%v", got, strictErr, tc.fastOK)
			}
		})
	}
}

func TestIsTZOffsetMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[+-](0\d|1[0-4]):[0-5]\d$`)
	inRange := regexp.MustCompile(`^[+-]((0\d|1[0-3]):[0-5]\d|14:00)$`)
	alphabet := "+-0134569:\n" // every boundary of the pattern
	var buf [6]byte
	var walk func(i int)
	n := 0
	walk = func(i int) {
		if i == len(buf) {
			n++
			if s := string(buf[:]); isTZOffset(s) != re.MatchString(s) {
				t.Fatalf("isTZOffset(%q) = %v, regexp says %v", s, isTZOffset(s), re.MatchString(s))
			} else if tzOffsetInRange(s) != inRange.MatchString(s) {
				t.Fatalf("tzOffsetInRange(%q) = %v, regexp says %v", s, tzOffsetInRange(s), inRange.MatchString(s))
			}
			return
		}
		for j := 0; j < len(alphabet); j++ {
			buf[i] = alphabet[j]
			walk(i + 1)
		}
	}
	walk(0)
	for _, s := range []string{"", "+01:00\n", "+01:000", "+1:00", "\n+01:00", "+01:00 "} {
		if isTZOffset(s) != re.MatchString(s) {
			t.Errorf("isTZOffset(%q) = %v, regexp says %v", s, isTZOffset(s), re.MatchString(s))
		}
	}
}

func TestScanFieldOf(t *testing.T) {
	for f, name := range scanFieldNames {
		if got, ok := scanFieldOf([]byte(name)); !ok || got != scanField(f) {
			t.Errorf("scanFieldOf(%q) = %d, %v, want %d", name, got, ok, f)
		}
	}
	for _, name := range []string{"", "Type", "ilmd ", "@context", "sensorElementList", "example:x"} {
		if _, ok := scanFieldOf([]byte(name)); ok {
			t.Errorf("scanFieldOf(%q) found a field", name)
		}
	}
}

// TestDecodeEventRejectsEmptyKey: the empty key is not a field of any
// event. The strict decoder once took "" for "no bad key found", so an
// event whose only unknown key was "" was accepted, and one with "" and
// another unknown key was accepted or rejected depending on map order:
// nodes could disagree. FuzzDecodeFastMatchesStrict found it.
func TestDecodeEventRejectsEmptyKey(t *testing.T) {
	base := strings.TrimSuffix(demoCommissionJSON(1), "}")
	for _, tc := range []struct{ extra, path string }{
		{`,"":1`, "events[0]."},
		{`,"":"",".01":""`, "events[0]."},
		{`,".01":"","":""`, "events[0]."},
		{`,"zz":"",".01":""`, "events[0]..01"},
	} {
		payload := `{"events":[` + base + tc.extra + `}]}`
		for i := 0; i < 20; i++ { // map order varies between runs
			_, err := strictReference([]byte(payload))
			var de *DecodeError
			if !errors.As(err, &de) || de.Path != tc.path {
				t.Fatalf("%s: error %v, want a DecodeError at %q", payload, err, tc.path)
			}
		}
		checkFastMatchesStrict(t, []byte(payload))
	}
}
