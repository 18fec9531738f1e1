package models

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The hash id and the stored JSON are part of the ledger: every node must
// compute the same bytes as every other node, of any version. These tests
// hold EventHashID, PreHash and Event.MarshalJSON to the frozen reference
// copies in reference_impl_test.go.

// checkEncodingMatchesReference fails when the event's pre-hash, hash id or
// JSON differ from the reference implementation's.
func checkEncodingMatchesReference(t *testing.T, e Event) {
	t.Helper()
	if got, want := PreHash(e), refPreHash(e); got != want {
		t.Fatalf("pre-hash of %#v\n got %s\nwant %s", e, got, want)
	}
	if got, want := EventHashID(e), refEventHashID(e); got != want {
		t.Fatalf("hash id of %#v = %s, want %s", e, got, want)
	}
	got, gotErr := e.MarshalJSON()
	want, wantErr := refMarshalJSON(e)
	if !reflect.DeepEqual(gotErr, wantErr) {
		t.Fatalf("MarshalJSON of %#v: error %v, want %v", e, gotErr, wantErr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("MarshalJSON of %#v\n got %s\nwant %s", e, got, want)
	}
}

// corpusEvents are the decodable events of the test seeds, the testdata
// document and the fuzz corpora, with and without a record time.
func corpusEvents(t *testing.T) []Event {
	var raws [][]byte
	for _, ev := range scanSeedEvents {
		raws = append(raws, []byte(ev))
	}
	raws = append(raws, []byte(commissionJSON))
	for _, dir := range []string{"testdata/fuzz/FuzzDecodeEvent", "testdata/fuzz/FuzzDecodeFastMatchesStrict", "testdata/fuzz/FuzzEventEncodingMatchesReference"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range files {
			raws = append(raws, fuzzCorpusBytes(t, f))
		}
	}
	var events []Event
	for _, r := range raws {
		if ev, err := DecodeEvent(r); err == nil {
			events = append(events, ev)
		}
		var p CaptureEventsPayload
		if p.decodeStrict(r) == nil {
			events = append(events, p.Events...)
		}
	}
	doc, err := os.ReadFile("testdata/hash_single_event.jsonld")
	if err != nil {
		t.Fatal(err)
	}
	docEvents, err := DecodeDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	events = append(events, docEvents...)
	n := len(events)
	for i := 0; i < n; i++ {
		e := events[i]
		e.RecordTime = time.Date(2026, 11, 21, 21, 0, 0, 123456000, time.UTC)
		events = append(events, e)
	}
	return events
}

// fuzzCorpusBytes reads the one []byte of a "go test fuzz v1" file.
func fuzzCorpusBytes(t *testing.T, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "[]byte("); ok {
			s, err := strconv.Unquote(strings.TrimSuffix(rest, ")"))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return []byte(s)
		}
	}
	t.Fatalf("%s: no []byte value", path)
	return nil
}

// oddEvents are events no decoder makes but a program may: unusual strings
// and numbers, empty and nil lists, every optional part.
func oddEvents() []Event {
	at := time.Date(2026, 3, 1, 9, 30, 15, 987654321, time.FixedZone("CET", 3600))
	q := func(f float64) *float64 { return &f }
	full := Event{
		Type: ObjectEvent, EventTime: at, EventTimeZoneOffset: "+01:00", RecordTime: at.Add(time.Second),
		EventID: "urn:uuid:1", CertificationInfo: []string{"https://c/1", ""},
		ErrorDeclaration: &ErrorDeclaration{DeclarationTime: at, Reason: "incorrect_data", CorrectiveEventIDs: []string{"urn:uuid:2"},
			Extensions: map[string]json.RawMessage{"ex:b": json.RawMessage(`{"x":"<&>"}`), "ex:a": json.RawMessage(`1`)}},
		EPCList:  []string{"urn:epc:id:sgtin:4012345.012345.B", "urn:epc:id:sgtin:4012345.012345.A", "https://id.gs1.org/01/04012345123456/21/A%2FB"},
		ParentID: "urn:epc:id:sscc:4012345.0000000017", ChildEPCs: []string{"z", "a"}, InputEPCList: []string{"i"}, OutputEPCList: []string{"o2", "o1"},
		QuantityList: []QuantityElement{{EPCClass: "urn:epc:class:lgtin:4012345.012345.L2", Quantity: q(1e21), UOM: "KGM"},
			{EPCClass: "urn:epc:class:lgtin:4012345.012345.L1", Quantity: q(1e-7)}, {EPCClass: "urn:epc:class:lgtin:4012345.012345.L1"}},
		ChildQuantityList:  []QuantityElement{{EPCClass: "x", Quantity: q(0.1)}, {EPCClass: "x", Quantity: q(-0.0)}},
		InputQuantityList:  []QuantityElement{{EPCClass: "", Quantity: q(123456789012345678)}},
		OutputQuantityList: []QuantityElement{{EPCClass: "y", Quantity: q(2.5e-300)}, {EPCClass: "y", Quantity: q(1e15)}, {EPCClass: "y", Quantity: q(12.1)}},
		Action:             ActionAdd, TransformationID: "urn:t:1", BizStep: "commissioning", Disposition: "urn:example:disp:x",
		PersistentDisposition: &PersistentDisposition{Set: []string{"active", "urn:x:y"}, Unset: []string{"stolen"}},
		ReadPoint:             "urn:epc:id:sgln:4012345.00000.0", BizLocation: "geo:52.1,4.3",
		ReadPointExtensions:   map[string]json.RawMessage{"ex:room": json.RawMessage(`"12<b>"`), "ex:at": json.RawMessage(`{"x":[1,"2026-03-01T09:00:00Z"]}`)},
		BizLocationExtensions: map[string]json.RawMessage{"ex:dock": json.RawMessage(`3`)},
		BizTransactionList:    []BizTransaction{{Type: "po", BizTransaction: "urn:b:2"}, {BizTransaction: "urn:b:1"}, {Type: "urn:x:t", BizTransaction: "urn:b:1"}},
		SourceList:            []Source{{Type: "owning_party", Source: "urn:epc:id:sgln:4012345.00001.0"}, {Type: "location", Source: "urn:x:1"}},
		DestinationList:       []Destination{{Type: "possessing_party", Destination: "urn:epc:id:pgln:4012345.00001"}},
		SensorElementList: []SensorElement{{SensorMetadata: map[string]json.RawMessage{"time": json.RawMessage(`"2026-03-01T09:00:00Z"`), "ex:m": json.RawMessage(`{ "a" : "<b>" }`)},
			SensorReport: []map[string]json.RawMessage{{"type": json.RawMessage(`"Temperature"`), "value": json.RawMessage(`4.50`)}, {"type": json.RawMessage(`"gs1:Humidity"`)}},
			Extensions:   map[string]json.RawMessage{"ex:s": json.RawMessage(`[1, 2]`)}}},
		ILMD:       &ILMD{LotNumber: "L<1>", ItemExpirationDate: "2027-01-31", Extensions: map[string]json.RawMessage{"ex:grade": json.RawMessage(`"A"`)}},
		Extensions: map[string]json.RawMessage{"ex:z": json.RawMessage(`"\u00e9"`), "ex:a": json.RawMessage(`{"k":[true,null]}`)},
		Context:    json.RawMessage(`{"ex":"https://ex.example/"}`),
	}
	events := []Event{{}, full}
	for _, s := range []string{"é", "a\"b", `back\slash`, "<&>", "tab\there", "\u2028\u2029", "\xff\xfe", "~\x7f", "\x00", "\b\f"} {
		e := full
		e.EPCList = []string{s, "x" + s}
		e.ParentID, e.BizStep, e.ReadPoint, e.EventID = s, s, s, s
		e.ILMD = &ILMD{LotNumber: s, ItemExpirationDate: s}
		e.BizTransactionList = []BizTransaction{{Type: s, BizTransaction: s}}
		e.SourceList = []Source{{Type: s, Source: s}}
		e.CertificationInfo = []string{s}
		e.Extensions, e.SensorElementList, e.Context = nil, nil, nil
		events = append(events, e)
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		e := full
		e.QuantityList = []QuantityElement{{EPCClass: "x", Quantity: q(f)}}
		events = append(events, e)
	}
	empty := full
	empty.EPCList, empty.ChildEPCs, empty.CertificationInfo = []string{}, nil, []string{}
	empty.PersistentDisposition = &PersistentDisposition{}
	empty.ILMD = &ILMD{}
	empty.ErrorDeclaration = &ErrorDeclaration{}
	empty.Extensions = map[string]json.RawMessage{}
	empty.SensorElementList = []SensorElement{{}}
	events = append(events, empty)
	for _, off := range []string{"", "+00:00", "-00:00", "+14:00", "-09:30", "bogus"} {
		e := full
		e.EventTimeZoneOffset = off
		events = append(events, e)
	}
	return events
}

func TestEncodingMatchesReference(t *testing.T) {
	events := append(corpusEvents(t), oddEvents()...)
	if len(events) < 20 {
		t.Fatalf("only %d events to compare", len(events))
	}
	for _, e := range events {
		checkEncodingMatchesReference(t, e)
	}
}

func TestAppendJSONFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, -0.0, 1, -1, 0.1, 1e-6, 9.999e-7, 1e-7, 1e-10, 1e-100, 5e-324, 1e20, 1e21, 1.5e21, -1e21,
		math.MaxFloat64, math.SmallestNonzeroFloat64, 123456789.125, 1.0 / 3, 2.5e-300} {
		want, _ := json.Marshal(f)
		if got := appendJSONFloat(nil, f); string(got) != string(want) {
			t.Errorf("appendJSONFloat(%v) = %s, encoding/json says %s", f, got, want)
		}
	}
}

// FuzzEventEncodingMatchesReference decodes an event and compares its
// encodings, and those of a copy with an odd string and number, with the
// reference implementation's.
func FuzzEventEncodingMatchesReference(f *testing.F) {
	for _, ev := range scanSeedEvents {
		f.Add([]byte(ev), "x", 1.5)
	}
	f.Add([]byte(commissionJSON), "<é>", 1e-7)
	f.Fuzz(func(t *testing.T, data []byte, s string, q float64) {
		e, err := DecodeEvent(data)
		if err != nil {
			return
		}
		checkEncodingMatchesReference(t, e)
		e.RecordTime = e.EventTime
		e.EPCList = append(e.EPCList, s)
		e.BizLocation = s
		e.QuantityList = append(e.QuantityList, QuantityElement{EPCClass: s, Quantity: &q, UOM: s})
		e.BizTransactionList = append(e.BizTransactionList, BizTransaction{Type: s, BizTransaction: s})
		checkEncodingMatchesReference(t, e)
		if !math.IsNaN(q) && !math.IsInf(q, 0) {
			want, _ := json.Marshal(q)
			if got := appendJSONFloat(nil, q); string(got) != string(want) {
				t.Fatalf("appendJSONFloat(%v) = %s, encoding/json says %s", q, got, want)
			}
		}
	})
}

// hashEPCSamples are identifiers of every kind and spelling, with values
// that need percent-encoding in a Digital Link and values that do not.
func hashEPCSamples() []string {
	out := []string{"", "x", "urn:x:y", "https://example.com/01/04012345123456/21/1",
		"urn:epc:id:sscc:4012345.0000000017", "https://id.gs1.org/00/040123450000000017",
		"urn:epc:id:sgln:4012345.00000.0", "urn:epc:id:sgln:4012345.00000.ext-1", "https://id.gs1.org/414/4012345000009",
		"https://id.gs1.org/414/4012345000009/254/A.b_c~d", "urn:epc:id:pgln:4012345.00001",
		"urn:epc:class:lgtin:4012345.012345.L1", "urn:epc:idpat:sgtin:4012345.012345.*", "urn:epc:id:sgtin:4012345.012345.%22",
		"https://id.gs1.org/01/04012345123456/21/A%2FB", "https://id.gs1.org/01/04012345123456/10/L1/21/S1",
		"https://id.gs1.org/01/04012345123456/21/S1?17=281231", "https://id.gs1.org/01/04012345123456",
		"urn:epc:id:giai:4000001.111", "urn:epc:id:grai:4012345.66666.87", "urn:epc:id:pgln:999999999999.",
		"https://id.example.org/8004/401234599999", "https://id.gs1.org/01/04012345123456/235/TPX1"}
	for c := 0x21; c < 0x7f; c++ {
		out = append(out, "urn:epc:id:sgtin:4012345.012345.A"+url.PathEscape(string(rune(c))),
			"https://id.gs1.org/01/04012345123456/21/"+url.PathEscape(string(rune(c)))+"x",
			"urn:epc:id:sgln:4012345.00000."+url.PathEscape(string(rune(c))))
	}
	return out
}

func TestAppendHashEPCMatchesDigitalLink(t *testing.T) {
	gs1IDs := 0
	for _, s := range hashEPCSamples() {
		if got, want := string(appendHashEPC(nil, s, false)), hashEPC(s); got != want {
			t.Errorf("appendHashEPC(%q) = %q, want %q", s, got, want)
		}
		if got, want := string(appendHashEPC(nil, s, true)), hashEPCv1(s); got != want {
			t.Errorf("appendHashEPC(%q) as rules 1 = %q, want %q", s, got, want)
		}
		if _, err := parseEPC(s); err == nil {
			gs1IDs++
		}
	}
	if gs1IDs < 100 {
		t.Fatalf("only %d samples are GS1 identifiers", gs1IDs)
	}
}

func FuzzAppendHashEPC(f *testing.F) {
	for _, s := range hashEPCSamples() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendHashEPC([]byte("prefix"), s, false)), "prefix"+hashEPC(s); got != want {
			t.Fatalf("appendHashEPC(%q) = %q, want %q", s, got, want)
		}
		if got, want := string(appendHashEPC([]byte("prefix"), s, true)), "prefix"+hashEPCv1(s); got != want {
			t.Fatalf("appendHashEPC(%q) as rules 1 = %q, want %q", s, got, want)
		}
	})
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	samples := []string{"", "urn:epc:id:sgtin:4012345.012345.SN1", "é", "\u2028", "\xff", "a\xe2\x80"}
	for c := 0; c < 256; c++ {
		samples = append(samples, string([]byte{byte(c)}), "ab"+string([]byte{byte(c)})+"cd")
	}
	for _, s := range samples {
		want, _ := json.Marshal(s)
		if got := AppendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("AppendJSONString(%q) = %s, want %s", s, got[1:], want)
		}
	}
}
