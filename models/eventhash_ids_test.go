package models

import (
	"strings"
	"testing"
	"time"
)

// The CBV 2.0 event hash writes every GS1 identifier, of any EPC scheme and
// wherever in the event, as its canonical Digital Link URI (CBV 2.0 §8.9).

// TestEventHashAllGS1Keys checks the reference implementation's published
// vector with an EPC of every scheme (RalphTro/epcis-event-hash-generator,
// tests/examples/epcisDocWithAllGS1Keys and expected/CBV2.0). Pedigree's
// decoder lets only packs and logistic units into an epcList, so the event
// is built as a program would.
func TestEventHashAllGS1Keys(t *testing.T) {
	ev := Event{
		Type:                ObjectEvent,
		EventTime:           time.Date(2023, 3, 27, 11, 30, 0, 0, time.UTC),
		EventTimeZoneOffset: "+01:00",
		EPCList: []string{"urn:epc:id:sgtin:4012345.012345.12", "urn:epc:id:sscc:4012345.0000000333",
			"https://id.gs1.org/00/040123450000003338", "urn:epc:id:grai:4012345.66666.87", "urn:epc:id:giai:4012345.AAbb",
			"urn:epc:id:gsrn:4012345.9876540000", "urn:epc:id:gsrnp:4012345.0000098765", "urn:epc:id:gdti:4012345.55555.98",
			"urn:epc:id:cpi:4012345.ABC.123", "urn:epc:id:sgcn:4012345.99999.44", "urn:epc:id:ginc:4012345.333",
			"urn:epc:id:gsin:4012345.999987654", "urn:epc:id:itip:4012345.012345.01.02.999", "urn:epc:id:upui:4012345.012345.AB12"},
		QuantityList: []QuantityElement{{EPCClass: "urn:epc:class:lgtin:4054739.099914.20160711"},
			{EPCClass: "urn:epc:idpat:sgtin:4054739.099914.*"}, {EPCClass: "urn:epc:idpat:grai:4012345.66666.*"},
			{EPCClass: "urn:epc:idpat:gdti:4012345.55555.*"}, {EPCClass: "urn:epc:idpat:sgcn:4012345.99999.*"},
			{EPCClass: "urn:epc:idpat:cpi:4012345.ABC.*"}, {EPCClass: "urn:epc:idpat:itip:4012345.012345.01.02.*"}},
		Action:    ActionObserve,
		BizStep:   "other",
		ReadPoint: "urn:epc:id:sgln:4012345.00011.987",
	}
	const wantPre = "eventType=ObjectEventeventTime=2023-03-27T11:30:00.000ZeventTimeZoneOffset=+01:00epcList" +
		"epc=https://id.gs1.org/00/040123450000003338epc=https://id.gs1.org/00/040123450000003338" +
		"epc=https://id.gs1.org/01/04012345123456/21/12epc=https://id.gs1.org/01/04012345123456/235/AB12" +
		"epc=https://id.gs1.org/253/401234555555498epc=https://id.gs1.org/255/401234599999044" +
		"epc=https://id.gs1.org/401/4012345333epc=https://id.gs1.org/402/40123459999876541" +
		"epc=https://id.gs1.org/8003/0401234566666387epc=https://id.gs1.org/8004/4012345AAbb" +
		"epc=https://id.gs1.org/8006/040123451234560102/21/999epc=https://id.gs1.org/8010/4012345ABC/8011/123" +
		"epc=https://id.gs1.org/8017/401234500000987658epc=https://id.gs1.org/8018/401234598765400000" +
		"quantityListquantityElementepcClass=https://id.gs1.org/01/04054739999148" +
		"quantityElementepcClass=https://id.gs1.org/01/04054739999148/10/20160711" +
		"quantityElementepcClass=https://id.gs1.org/253/4012345555554quantityElementepcClass=https://id.gs1.org/255/4012345999990" +
		"quantityElementepcClass=https://id.gs1.org/8003/04012345666663quantityElementepcClass=https://id.gs1.org/8006/040123451234560102" +
		"quantityElementepcClass=https://id.gs1.org/8010/4012345ABCaction=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-other" +
		"readPointid=https://id.gs1.org/414/4012345000115/254/987"
	if got := PreHash(ev); got != wantPre {
		t.Fatalf("pre-hash\n got %s\nwant %s", got, wantPre)
	}
	if got, want := EventHashID(ev), "ni:///sha-256;40744f32beff53a4bf5bb5956d465cb52de5bbcc9f131409d8efb903b04d9351?ver=CBV2.0"; got != want {
		t.Fatalf("hash id = %s, want %s", got, want)
	}
}

// TestEventHashConvertsEveryIdentifier: business transactions, the
// transformation id and a sensor's device, data and rules may be EPC URIs
// or Digital Links on any domain; each hashes as its canonical Digital
// Link, so each spelling gives the same hash id.
func TestEventHashConvertsEveryIdentifier(t *testing.T) {
	const tmpl = `{"type":"TransformationEvent","eventTime":"2026-02-01T09:00:00Z","eventTimeZoneOffset":"+00:00",
		"inputEPCList":["urn:epc:id:sgtin:4012345.012345.SN1"],"transformationID":"TID",
		"bizTransactionList":[{"type":"po","bizTransaction":"PO"},{"type":"pedigree","bizTransaction":"PED"}],
		"sensorElementList":[{"sensorMetadata":{"deviceID":"DEV","rawData":"RAW"},"sensorReport":[{"type":"Temperature","value":4}]}]}`
	spell := func(tid, po, ped, dev, raw string) Event {
		r := strings.NewReplacer(`"TID"`, `"`+tid+`"`, `"PO"`, `"`+po+`"`, `"PED"`, `"`+ped+`"`, `"DEV"`, `"`+dev+`"`, `"RAW"`, `"`+raw+`"`)
		return mustEvent(t, r.Replace(tmpl))
	}
	urns := spell("urn:epc:id:gdti:4012345.55555.98", "urn:epc:id:gdti:0614141.00001.1618034", "urn:epc:id:gsrn:0614141.0000010253",
		"urn:epc:id:giai:4000001.111", "https://id.example.org/8004/401234599999")
	links := spell("https://id.gs1.org/253/401234555555498", "https://example.com/253/06141410000121618034?linkType=all",
		"https://id.gs1.org/8018/061414100000102534", "https://id.gs1.org/8004/4000001111", "https://id.gs1.org/8004/401234599999")
	pre := PreHash(urns)
	for _, want := range []string{
		"transformationID=https://id.gs1.org/253/401234555555498",
		"bizTransactionListbizTransaction=https://id.gs1.org/253/06141410000121618034type=https://ref.gs1.org/cbv/BTT-po" +
			"bizTransaction=https://id.gs1.org/8018/061414100000102534type=https://ref.gs1.org/cbv/BTT-pedigree",
		// As in the reference implementation's sensor example.
		"sensorMetadatadeviceID=https://id.gs1.org/8004/4000001111rawData=https://id.gs1.org/8004/401234599999",
	} {
		if !strings.Contains(pre, want) {
			t.Errorf("pre-hash %s\nlacks %s", pre, want)
		}
	}
	if EventHashID(urns) != EventHashID(links) {
		t.Fatalf("EPC URIs and Digital Links hash differently:\n%s\n%s", pre, PreHash(links))
	}
	// Values that are no GS1 identifier stay as given.
	other := spell("urn:example:t1", "http://transaction.acme.com/po/12345678", "urn:epcglobal:cbv:bt:4012345000009:ASN1099", "geo:1,2", "urn:epc:id:giai:40123.X")
	for _, want := range []string{"transformationID=urn:example:t1", "bizTransaction=http://transaction.acme.com/po/12345678type=",
		"bizTransaction=urn:epcglobal:cbv:bt:4012345000009:ASN1099type=", "deviceID=geo:1,2rawData=urn:epc:id:giai:40123.X"} {
		if pre := PreHash(other); !strings.Contains(pre, want) {
			t.Errorf("pre-hash %s\nlacks %s", pre, want)
		}
	}
}

// TestHashEPCKeepsEarlierConversions: an identifier the hash converted
// before still converts to the same URI, so the hash ids of events that
// name only those keep their value. The one exception is a Digital Link of
// a GTIN with a third-party extension (01/235), which lost its extension.
func TestHashEPCKeepsEarlierConversions(t *testing.T) {
	const upui = "https://id.gs1.org/01/04012345123456/235/TPX1"
	samples := append(hashEPCSamples(), "https://id.gs1.org/01/04012345123456/21/S1/../x", "HTTPS://id.gs1.org/01/04012345123456/21/S1",
		"urn:epc:id:sgln:4012345.00000.%30", "https://id.gs1.org/414/4012345000009/7040/1A2B", "https://id.gs1.org/417/4012345000009")
	kept := 0
	for _, s := range samples {
		before := hashEPCv1(s)
		if before == s || s == upui {
			continue
		}
		kept++
		if got := hashEPC(s); got != before {
			t.Errorf("hashEPC(%q) = %q, was %q", s, got, before)
		}
	}
	if kept < 100 {
		t.Fatalf("only %d samples were converted before", kept)
	}
	if hashEPCv1(upui) != "https://id.gs1.org/01/04012345123456" || hashEPC(upui) != upui {
		t.Fatalf("hashEPC(%q) = %q (was %q)", upui, hashEPC(upui), hashEPCv1(upui))
	}
}
