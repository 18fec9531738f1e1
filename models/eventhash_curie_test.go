package models

import (
	"errors"
	"strings"
	"testing"
)

// CBV 2.0 §8.9 expands compact URIs before hashing: those with the gs1:,
// cbv: and epcis: prefixes always, and those whose prefix the event's
// context declares. Every spelling of a value then hashes the same.

// sensorEvent is an event with one sensor report of the given type.
func sensorEvent(t *testing.T, typ string) Event {
	t.Helper()
	return mustEvent(t, `{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00",
		"epcList":["urn:epc:id:sgtin:4012345.012345.SN1"],"action":"OBSERVE",
		"sensorElementList":[{"sensorReport":[{"type":"`+typ+`","value":4.5,"uom":"CEL","component":"cbv:Comp-easting"}]}]}`)
}

func TestEventHashExpandsGS1CURIEs(t *testing.T) {
	curie := sensorEvent(t, "gs1:Temperature")
	const want = "sensorReporttype=https://gs1.org/voc/Temperaturevalue=4.5component=https://ref.gs1.org/cbv/Comp-eastinguom=CEL"
	if pre := PreHash(curie); !strings.Contains(pre, want) {
		t.Fatalf("pre-hash %s\nlacks %s", pre, want)
	}
	for _, typ := range []string{"Temperature", "https://gs1.org/voc/Temperature"} {
		if EventHashID(sensorEvent(t, typ)) != EventHashID(curie) {
			t.Errorf("type %q hashes differently from gs1:Temperature", typ)
		}
	}
	if EventHashID(sensorEvent(t, "gs1:RelativeHumidity")) == EventHashID(curie) {
		t.Fatal("another measurement type hashes the same")
	}
}

// TestDecodeCBVCURIEs: a standard value written as a cbv: compact URI is
// the standard value for the ledger's rules from version 2 (readEPCIS2)
// and for a document the server reads, as for the hash; the decoder that
// applies entries keeps it as given, as rules version 1 did. A typo in one
// is caught like a typo in any other spelling.
func TestDecodeCBVCURIEs(t *testing.T) {
	const tmpl = `{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00",
		"epcList":["urn:epc:id:sscc:4012345.0000000017"],"action":"OBSERVE","bizStep":"STEP","disposition":"DISP",
		"persistentDisposition":{"set":["PDISP"]},"bizTransactionList":[{"type":"BTT","bizTransaction":"urn:example:po:1"}],
		"sourceList":[{"type":"SDT","source":"urn:epc:id:pgln:4012345.00001"}]}`
	spell := func(step, disp, btt, sdt string) string {
		return strings.NewReplacer("STEP", step, `"DISP"`, `"`+disp+`"`, "PDISP", disp, "BTT", btt, "SDT", sdt).Replace(tmpl)
	}
	compact := spell("cbv:BizStep-shipping", "cbv:Disp-in_transit", "cbv:BTT-po", "cbv:SDT-owning_party")
	asGiven := mustEvent(t, compact)
	if asGiven.BizStep != "cbv:BizStep-shipping" || asGiven.SourceList[0].Type != "cbv:SDT-owning_party" {
		t.Fatalf("the apply decoder read compact URIs as %+v", asGiven)
	}
	bare := mustEvent(t, spell("shipping", "in_transit", "po", "owning_party"))
	if EventHashID(asGiven) != EventHashID(bare) {
		t.Fatalf("compact URIs hash differently:\n%s\n%s", PreHash(asGiven), PreHash(bare))
	}
	read := []Event{asGiven}
	if err := readEPCIS2(read); err != nil {
		t.Fatal(err)
	}
	fromDoc, err := DecodeDocument([]byte(`{"type":"EPCISDocument","epcisBody":{"eventList":[` + compact + `]}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Event{read[0], fromDoc[0]} {
		if e.BizStep != "shipping" || e.Disposition != "in_transit" || e.PersistentDisposition.Set[0] != "in_transit" ||
			e.BizTransactionList[0].Type != "po" || e.SourceList[0].Type != "owning_party" {
			t.Fatalf("compact URIs read as %+v", e)
		}
	}
	// The one-pass capture decoder agrees with the strict one.
	checkFastMatchesStrict(t, []byte(`{"events":[`+compact+`]}`))

	typo := spell("cbv:BizStep-shiping", "in_transit", "po", "owning_party")
	if err := readEPCIS2([]Event{mustEvent(t, typo)}); err == nil || !strings.Contains(err.Error(), "bizStep") {
		t.Fatalf("typo in a compact URI, rules 2: %v", err)
	}
	_, err = DecodeDocument([]byte(`{"type":"EPCISDocument","epcisBody":{"eventList":[` + typo + `]}}`))
	var de *DecodeError
	if !errors.As(err, &de) || de.Path != "epcisBody.eventList[0].bizStep" {
		t.Fatalf("typo in a compact URI: error %v, want one at bizStep", err)
	}
}

// TestDocumentsRefuseOffsetsBeyond14Hours: the server refuses a document
// with an offset beyond ±14:00 before proposing it, whatever rules the
// ledger is at; the decoder that applies entries takes it, as rules
// version 1 did (version 2 refuses it: readEPCIS2).
func TestDocumentsRefuseOffsetsBeyond14Hours(t *testing.T) {
	for _, offset := range []string{"+14:30", "-14:01"} {
		ev := `{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"` + offset + `",
			"epcList":["urn:epc:id:sscc:4012345.0000000017"],"action":"OBSERVE"}`
		_, err := DecodeDocument([]byte(`{"type":"EPCISDocument","epcisBody":{"eventList":[` + ev + `]}}`))
		var de *DecodeError
		if !errors.As(err, &de) || de.Path != "epcisBody.eventList[0].eventTimeZoneOffset" {
			t.Errorf("document with offset %s: %v", offset, err)
		}
		e := mustEvent(t, ev)
		if err := readEPCIS2([]Event{e}); err == nil || !strings.Contains(err.Error(), offset) {
			t.Errorf("rules 2, offset %s: %v", offset, err)
		}
	}
}

// TestEventHashExpandsContextCURIEs: a prefix the document's context
// declares is expanded in vocabulary values, identifiers and user field
// values, and the event keeps that context, so its stored form hashes the
// same.
func TestEventHashExpandsContextCURIEs(t *testing.T) {
	const event = `{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00",
		"epcList":["urn:epc:id:sgtin:4012345.012345.SN1"],"action":"OBSERVE","bizStep":"ex:relabelling",
		"readPoint":{"id":"ex:line-4"},"sourceList":[{"type":"location","source":"ex:plant-2"}]}`
	ev := mustDocEvent(t, extDoc(event))
	if string(ev.Context) != extDocContext {
		t.Fatalf("an event whose values use the context's prefix did not keep it: %q", ev.Context)
	}
	const ns = "https://ns.example.com/epcis/"
	pre := PreHash(ev)
	for _, want := range []string{"bizStep=" + ns + "relabelling", "readPointid=" + ns + "line-4",
		"sourceListsource=" + ns + "plant-2type=https://ref.gs1.org/cbv/SDT-location"} {
		if !strings.Contains(pre, want) {
			t.Errorf("pre-hash %s\nlacks %s", pre, want)
		}
	}
	checkStoredStandsAlone(t, ev)
	// The same values written out in full hash the same.
	full := mustEvent(t, strings.ReplaceAll(event, `"ex:`, `"`+ns))
	if EventHashID(full) != EventHashID(ev) {
		t.Fatalf("expanded values hash differently:\n%s\n%s", PreHash(full), pre)
	}

	// In a user field's value too.
	ext := mustDocEvent(t, extDoc(`{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00",
		"epcList":["urn:epc:id:sgtin:4012345.012345.SN1"],"action":"OBSERVE","ex:grade":"ex:A","ex:note":"gs1:Temperature"}`))
	for _, want := range []string{"{" + ns + "}grade=" + ns + "A", "{" + ns + "}note=https://gs1.org/voc/Temperature"} {
		if pre := PreHash(ext); !strings.Contains(pre, want) {
			t.Errorf("pre-hash %s\nlacks %s", pre, want)
		}
	}

	// Prefixes no context declares, and IRIs, stay as given.
	plain := mustDocEvent(t, extDoc(strings.ReplaceAll(event, `"ex:`, `"other:`)))
	if plain.Context != nil {
		t.Fatalf("an event that uses no prefix of the context kept it: %s", plain.Context)
	}
	for _, want := range []string{"bizStep=other:relabelling", "readPointid=other:line-4", "source=other:plant-2"} {
		if pre := PreHash(plain); !strings.Contains(pre, want) {
			t.Errorf("pre-hash %s\nlacks %s", pre, want)
		}
	}
}

func TestExpandCURIE(t *testing.T) {
	ns := map[string]string{"ex": "https://ns.example.com/", "gs1": "https://elsewhere.example/"}
	for _, tc := range []struct{ in, want string }{
		{"gs1:Temperature", "https://gs1.org/voc/Temperature"}, // §8.9 fixes gs1:, whatever a context says
		{"cbv:BizStep-shipping", "https://ref.gs1.org/cbv/BizStep-shipping"},
		{"epcis:ObjectEvent", "https://ref.gs1.org/epcis/ObjectEvent"},
		{"ex:a:b", "https://ns.example.com/a:b"},
		{"ex:", "https://ns.example.com/"},
		{"ex://host/path", ""}, {"https://gs1.org/voc/x", ""}, {"urn:epc:id:x", ""}, {":x", ""}, {"x", ""}, {"", ""},
	} {
		iri, local, ok := expandCURIE(tc.in, ns)
		if got := iri + local; ok != (tc.want != "") || ok && got != tc.want {
			t.Errorf("expandCURIE(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}
