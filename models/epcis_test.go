package models

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestEventHashReference checks the CBV 2.0 event hash against the
// reference implementation's test data (RalphTro/epcis-event-hash-generator,
// tests/examples/epcisDocWithSingleEvent.*): the document, its pre-hash
// string and its hash id.
func TestEventHashReference(t *testing.T) {
	data, err := os.ReadFile("testdata/hash_single_event.jsonld")
	if err != nil {
		t.Fatal(err)
	}
	events, err := DecodeDocument(data)
	if err != nil {
		t.Fatal(err)
	}
	const wantPre = "eventType=ObjectEventeventTime=2022-02-17T02:33:31.116ZeventTimeZoneOffset=-06:00" +
		"epcListepc=https://id.gs1.org/01/10614141073464/21/2017epc=https://id.gs1.org/01/10614141073464/21/2018" +
		"action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-shippingdisposition=https://ref.gs1.org/cbv/Disp-in_transit" +
		"readPointid=https://id.gs1.org/414/0614141073467/254/1234" +
		"bizTransactionListbizTransaction=http://transaction.acme.com/po/12345678type=https://ref.gs1.org/cbv/BTT-po"
	const wantID = "ni:///sha-256;3e0f2437f4cb5e8a1b832b769c0eed1bf3e1421f14061132e9800ded03f10182?ver=CBV2.0"
	if got := PreHash(events[0]); got != wantPre {
		t.Fatalf("pre-hash\n got %s\nwant %s", got, wantPre)
	}
	if got := EventHashID(events[0]); got != wantID {
		t.Fatalf("hash id = %s, want %s", got, wantID)
	}
	// The same event in other spellings hashes the same.
	same := `{"type":"ObjectEvent","eventTime":"2022-02-17T02:33:31.116Z","eventTimeZoneOffset":"-06:00",
		"epcList":["https://id.gs1.org/01/10614141073464/21/2018","urn:epc:id:sgtin:0614141.107346.2017"],
		"action":"OBSERVE","bizStep":"urn:epcglobal:cbv:bizstep:shipping","disposition":"https://ref.gs1.org/cbv/Disp-in_transit",
		"readPoint":{"id":"urn:epc:id:sgln:0614141.07346.1234"},"recordTime":"2030-01-01T00:00:00Z",
		"bizTransactionList":[{"type":"urn:epcglobal:cbv:btt:po","bizTransaction":"http://transaction.acme.com/po/12345678"}]}`
	ev := mustEvent(t, same)
	if got := EventHashID(ev); got != wantID {
		t.Fatalf("respelled event hash id = %s, want %s", got, wantID)
	}
	ev.Disposition = "active"
	if EventHashID(ev) == wantID {
		t.Fatal("changing the disposition did not change the hash")
	}
}

// TestEventHashAggregation checks an AggregationEvent with persistent
// dispositions against the pre-hash and hash published with the OpenEPCIS
// event hash generator's API (openepcis-event-hash-generator), the event
// rebuilt from its pre-hash.
func TestEventHashAggregation(t *testing.T) {
	ev := mustEvent(t, `{"type":"AggregationEvent","eventTime":"2020-06-08T20:11:16+02:00","eventTimeZoneOffset":"+02:00",
		"parentID":"urn:epc:id:sgtin:9520010.112345.22222223333",
		"childEPCs":["https://id.gs1.org/01/09520001123467/21/10000001001"],
		"action":"DELETE","bizStep":"unpacking","disposition":"in_progress",
		"persistentDisposition":{"unset":["completeness_inferred"],"set":["urn:epcglobal:cbv:disp:completeness_verified"]},
		"readPoint":{"id":"urn:epc:id:sgln:9529999.99999.0"},"bizLocation":{"id":"https://id.gs1.org/414/9529999999993"}}`)
	const wantPre = "eventType=AggregationEventeventTime=2020-06-08T18:11:16.000ZeventTimeZoneOffset=+02:00" +
		"parentID=https://id.gs1.org/01/19520010123455/21/22222223333childEPCsepc=https://id.gs1.org/01/09520001123467/21/10000001001" +
		"action=DELETEbizStep=https://ref.gs1.org/cbv/BizStep-unpackingdisposition=https://ref.gs1.org/cbv/Disp-in_progress" +
		"persistentDispositionset=https://ref.gs1.org/cbv/Disp-completeness_verifiedunset=https://ref.gs1.org/cbv/Disp-completeness_inferred" +
		"readPointid=https://id.gs1.org/414/9529999999993bizLocationid=https://id.gs1.org/414/9529999999993"
	if got := PreHash(ev); got != wantPre {
		t.Fatalf("pre-hash\n got %s\nwant %s", got, wantPre)
	}
	if got, want := EventHashID(ev), "ni:///sha-256;2615bc5627c3b3611e3df868aca2312882370ee78af44bcc20433ec028ebfc99?ver=CBV2.0"; got != want {
		t.Fatalf("hash id = %s, want %s", got, want)
	}
}

func mustEvent(t testing.TB, s string) Event {
	t.Helper()
	ev, err := DecodeEvent([]byte(s))
	if err != nil {
		t.Fatalf("DecodeEvent: %v", err)
	}
	return ev
}

const commissionJSON = `{
	"type": "ObjectEvent",
	"eventTime": "2026-02-01T08:00:00.000+01:00",
	"eventTimeZoneOffset": "+01:00",
	"epcList": ["urn:epc:id:sgtin:4012345.012345.SN0001"],
	"action": "ADD",
	"bizStep": "commissioning",
	"disposition": "active",
	"readPoint": {"id": "urn:epc:id:sgln:4012345.00000.0"},
	"bizLocation": {"id": "urn:epc:id:sgln:4012345.00000.0"},
	"ilmd": {"cbvmda:lotNumber": "LOT42", "cbvmda:itemExpirationDate": "2028-06-30"},
	"example:note": {"a": [1, 2]}
}`

func TestDecodeEventStandardFields(t *testing.T) {
	ev := mustEvent(t, commissionJSON)
	if ev.Type != ObjectEvent || ev.Action != ActionAdd || ev.BizStep != "commissioning" || ev.Disposition != "active" {
		t.Fatalf("decoded %+v", ev)
	}
	if ev.ILMD == nil || ev.ILMD.LotNumber != "LOT42" || ev.ILMD.ItemExpirationDate != "2028-06-30" {
		t.Fatalf("ilmd = %+v", ev.ILMD)
	}
	if string(ev.Extensions["example:note"]) != `{"a":[1,2]}` {
		t.Fatalf("extension = %s", ev.Extensions["example:note"])
	}
	// Encoding and decoding again gives the same bytes: the stored form is
	// canonical.
	b1, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	ev2 := mustEvent(t, string(b1))
	b2, _ := json.Marshal(ev2)
	if string(b1) != string(b2) {
		t.Fatalf("not canonical:\n%s\n%s", b1, b2)
	}
	if !strings.Contains(string(b1), `"eventTime":"2026-02-01T08:00:00+01:00"`) {
		t.Fatalf("event time not in its own offset: %s", b1)
	}
	// All three CBV spellings decode to the bare value.
	for _, s := range []string{"shipping", "urn:epcglobal:cbv:bizstep:shipping", "https://ref.gs1.org/cbv/BizStep-shipping"} {
		ev := mustEvent(t, strings.Replace(commissionJSON, `"commissioning"`, `"`+s+`"`, 1))
		if ev.BizStep != "shipping" {
			t.Errorf("bizStep %q decoded to %q", s, ev.BizStep)
		}
	}
	// A company's own vocabulary URI is kept.
	ev = mustEvent(t, strings.Replace(commissionJSON, `"commissioning"`, `"https://example.com/voc/relabelling"`, 1))
	if ev.BizStep != "https://example.com/voc/relabelling" {
		t.Errorf("extension bizStep = %q", ev.BizStep)
	}
}

func TestDecodeEventAllTypes(t *testing.T) {
	for _, s := range []string{
		`{"type":"AggregationEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"ADD",
		  "parentID":"urn:epc:id:sscc:4012345.0000000017","childEPCs":["urn:epc:id:sgtin:4012345.012345.SN0001"],
		  "childQuantityList":[{"epcClass":"urn:epc:class:lgtin:4012345.012345.LOT42","quantity":10}],"bizStep":"packing"}`,
		`{"type":"TransactionEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"ADD",
		  "epcList":["urn:epc:id:sscc:4012345.0000000017"],"bizTransactionList":[{"type":"desadv","bizTransaction":"urn:epcglobal:cbv:bt:4012345000009:ASN1"}]}`,
		`{"type":"TransformationEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00",
		  "inputQuantityList":[{"epcClass":"urn:epc:idpat:sgtin:4012345.012345.*","quantity":2.5,"uom":"KGM"}],
		  "outputEPCList":["urn:epc:id:sgtin:4012345.012345.SN0009"],"transformationID":"urn:example:t1",
		  "ilmd":{"cbvmda:lotNumber":"L9"}}`,
		`{"type":"AssociationEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"ADD",
		  "parentID":"urn:epc:id:sscc:4012345.0000000017","childEPCs":["urn:epc:id:sgtin:4012345.012345.SN0001"]}`,
		`{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE",
		  "epcList":["https://id.gs1.org/01/04012345123456/21/SN0001"],"bizStep":"inspecting",
		  "certificationInfo":"https://cert.example.com/c1",
		  "errorDeclaration":{"declarationTime":"2026-02-02T09:00:00Z","reason":"incorrect_data","correctiveEventIDs":["urn:uuid:1"]},
		  "persistentDisposition":{"set":["urn:epcglobal:cbv:disp:recalled"]},
		  "sourceList":[{"type":"owning_party","source":"urn:epc:id:sgln:4012345.00000.0"}],
		  "destinationList":[{"type":"location","destination":"urn:epc:id:sgln:4011111.00000.0"}],
		  "sensorElementList":[{"sensorMetadata":{"time":"2026-02-01T09:00:00Z"},"sensorReport":[{"type":"Temperature","value":4.5,"uom":"CEL"}]}]}`,
	} {
		ev := mustEvent(t, s)
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		again := mustEvent(t, string(b))
		if EventHashID(again) != EventHashID(ev) {
			t.Errorf("%s: hash changed over a round trip", ev.Type)
		}
	}
}

func TestDecodeEventErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name, from, to, path string
	}{
		{"unknown field", `"action": "ADD",`, `"action": "ADD", "colour": "red",`, "colour"},
		{"two unknown fields: the first in order, on every node", `"action": "ADD",`, `"action": "ADD", "zeta": 1, "alpha": 2,`, "alpha"},
		{"field of another type", `"action": "ADD",`, `"action": "ADD", "parentID": "urn:epc:id:sscc:4012345.0000000017",`, "parentID"},
		{"bad type", `"type": "ObjectEvent"`, `"type": "ThingEvent"`, "type"},
		{"bad time", `"2026-02-01T08:00:00.000+01:00"`, `"2026-02-01 08:00"`, "eventTime"},
		{"time without offset", `"2026-02-01T08:00:00.000+01:00"`, `"2026-02-01T08:00:00"`, "eventTime"},
		{"bad offset", `"eventTimeZoneOffset": "+01:00"`, `"eventTimeZoneOffset": "CET"`, "eventTimeZoneOffset"},
		{"offset of 15 hours", `"eventTimeZoneOffset": "+01:00"`, `"eventTimeZoneOffset": "+15:00"`, "eventTimeZoneOffset"},
		{"missing offset", `"eventTimeZoneOffset": "+01:00",`, ``, "eventTimeZoneOffset"},
		{"bad action", `"action": "ADD"`, `"action": "add"`, "action"},
		{"bad EPC", `"urn:epc:id:sgtin:4012345.012345.SN0001"`, `"urn:epc:id:sgtin:4012345.01234.SN0001"`, "epcList[0]"},
		{"class in epcList", `"urn:epc:id:sgtin:4012345.012345.SN0001"`, `"urn:epc:class:lgtin:4012345.012345.L1"`, "epcList[0]"},
		{"duplicate EPC", `["urn:epc:id:sgtin:4012345.012345.SN0001"]`, `["urn:epc:id:sgtin:4012345.012345.SN0001","urn:epc:id:sgtin:4012345.012345.SN0001"]`, "epcList[1]"},
		{"unknown bizStep", `"commissioning"`, `"comissioning"`, "bizStep"},
		{"unknown disposition", `"disposition": "active"`, `"disposition": "urn:epcglobal:cbv:disp:shiny"`, "disposition"},
		{"bad location", `"bizLocation": {"id": "urn:epc:id:sgln:4012345.00000.0"}`, `"bizLocation": {"id": "urn:epc:id:sgln:4012345.0000.0"}`, "bizLocation.id"},
		{"location unknown field", `"bizLocation": {"id"`, `"bizLocation": {"x": 1, "id"`, "bizLocation.x"},
		{"bad expiry", `"2028-06-30"`, `"280630"`, "ilmd.cbvmda:itemExpirationDate"},
		{"unknown ilmd field", `"cbvmda:lotNumber"`, `"lot"`, "ilmd.lot"},
		{"epcList not array", `["urn:epc:id:sgtin:4012345.012345.SN0001"]`, `"urn:epc:id:sgtin:4012345.012345.SN0001"`, "epcList"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(commissionJSON, tc.from) {
				t.Fatalf("fixture lacks %q", tc.from)
			}
			_, err := DecodeEvent([]byte(strings.Replace(commissionJSON, tc.from, tc.to, 1)))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want *DecodeError", err)
			}
			if de.Path != tc.path {
				t.Fatalf("error %q names %q, want %q", err, de.Path, tc.path)
			}
			if !errors.Is(err, ErrEPCIS) {
				t.Fatal("error does not wrap ErrEPCIS")
			}
		})
	}
}

func TestDecodeDocumentErrors(t *testing.T) {
	doc := `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"EPCISDocument","schemaVersion":"2.0",
		"creationDate":"2026-02-01T09:00:00Z","epcisBody":{"eventList":[` + commissionJSON + `,{"type":"ObjectEvent"}]}}`
	_, err := DecodeDocument([]byte(doc))
	var de *DecodeError
	if !errors.As(err, &de) || de.Path != "epcisBody.eventList[1].eventTime" {
		t.Fatalf("err = %v", err)
	}
	for _, bad := range []string{`[]`, `{"type":"EPCISQueryDocument","epcisBody":{"eventList":[]}}`, `{"type":"EPCISDocument"}`, `{"type":"EPCISDocument","epcisBody":{"eventList":{}}}`} {
		if _, err := DecodeDocument([]byte(bad)); err == nil {
			t.Errorf("DecodeDocument(%s) succeeded", bad)
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(commissionJSON))
	f.Add([]byte(`{"type":"AggregationEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"ADD","parentID":"urn:epc:id:sscc:4012345.0000000017","childEPCs":["https://id.gs1.org/01/04012345123456/21/A%2FB"]}`))
	f.Add([]byte(`{"type":"ObjectEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"-05:00","action":"OBSERVE","epcList":["urn:epc:id:sscc:4012345.0000000017"],"bizStep":"shipping","destinationList":[{"type":"owning_party","destination":"urn:epc:id:sgln:4011111.00000.0"}],"sensorElementList":[{"sensorReport":[{"type":"Temperature","value":4}]}]}`))
	f.Add([]byte(`{"type":"TransformationEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00","inputQuantityList":[{"epcClass":"urn:epc:class:lgtin:4012345.012345.L1","quantity":1}]}`))
	f.Add([]byte(scanSeedEvents[len(scanSeedEvents)-1])) // user fields in locations and sensors
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := DecodeEvent(data)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
			return
		}
		// A decoded event encodes, decodes again and keeps its hash.
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := DecodeEvent(b)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", b, err)
		}
		if EventHashID(again) != EventHashID(ev) {
			t.Fatalf("hash changed over a round trip: %s", b)
		}
	})
}

func TestPlainStringMatchesEncodingJSON(t *testing.T) {
	for _, raw := range []string{`""`, `"urn:epc:id:sscc:4012345.0000000017"`, `"a\"b"`, `"\u00e9"`, `"é"`, `"tab\t"`, `"<&>"`, `5`, `"x`} {
		got, ok := plainString(json.RawMessage(raw))
		var want string
		err := json.Unmarshal([]byte(raw), &want)
		if ok && (err != nil || got != want) {
			t.Errorf("plainString(%s) = %q, encoding/json says %q, %v", raw, got, want, err)
		}
	}
}

// TestEventHashUserFields checks how user extension fields enter the
// pre-hash: a prefix defined by the document's @context is expanded to
// {namespace}local, as in the reference implementation's
// epcisDocWithCustomSchemaInContext example, and cbvmda ILMD fields are
// written in the CBV master data namespace.
func TestEventHashUserFields(t *testing.T) {
	doc := `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",{"example":"https://ns.example.com/epcis/"}],
		"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2022-02-17T11:30:47.0Z","epcisBody":{"eventList":[
		{"type":"ObjectEvent","action":"ADD","bizStep":"commissioning","epcList":["urn:epc:id:sgtin:0614141.107346.2017"],
		 "eventTime":"2022-02-15T01:33:31.116-06:00","eventTimeZoneOffset":"-06:00","example:myField":"myValue",
		 "ilmd":{"cbvmda:lotNumber":"L1","cbvmda:bestBeforeDate":"2019-10-21"}}]}}`
	events, err := DecodeDocument([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	pre := PreHash(events[0])
	for _, want := range []string{"{https://ns.example.com/epcis/}myField=myValue", "ilmd{urn:epcglobal:cbv:mda}bestBeforeDate=2019-10-21{urn:epcglobal:cbv:mda}lotNumber=L1"} {
		if !strings.Contains(pre, want) {
			t.Errorf("pre-hash %s lacks %s", pre, want)
		}
	}
	// The event keeps the document's context, so its stored form hashes
	// the same on its own.
	b, _ := json.Marshal(events[0])
	if again := mustEvent(t, string(b)); EventHashID(again) != EventHashID(events[0]) {
		t.Fatalf("stored event hashes differently: %s", b)
	}
}

func TestCapturePayloadErrors(t *testing.T) {
	for _, tc := range []struct{ payload, path string }{
		{`{"events":[],"extra":1}`, "extra"},
		{`{"events":{}}`, "events"},
		{`{}`, "events"},
		{`[]`, ""},
		{`{"events":[{"type":"ObjectEvent"}]}`, "events[0].eventTime"},
	} {
		var p CaptureEventsPayload
		err := json.Unmarshal([]byte(tc.payload), &p)
		var de *DecodeError
		if !errors.As(err, &de) || de.Path != tc.path {
			t.Errorf("%s: err = %v, want a DecodeError at %q", tc.payload, err, tc.path)
		}
	}
}
