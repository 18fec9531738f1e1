package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
)

// TestALotNoCodeCarriesIsNotCommissioned: a capture commissioning a pack
// whose lot AI (10) cannot carry, and which no recall could name (the
// recall API refuses it as bad_lot), is refused whole (422 bad_payload),
// as is one whose Digital Link names another lot than its ILMD; a lot a
// code carries is commissioned, and recalled.
func TestALotNoCodeCarriesIsNotCommissioned(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 1)
	mfr := n.client(s.Tokens[net.Manufacturer.GLN])
	gtin, maker := net.Products[0].GTIN, net.Manufacturer.GLN
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	expiry := at.AddDate(2, 0, 0).Format(time.DateOnly)
	capture := func(epc, lot string) error {
		doc := demo.Document(at, demo.Commission(at, maker, []string{epc}, lot, expiry),
			demo.Ship(at.Add(time.Minute), maker, net.Pharmacy1.GLN, []string{epc}))
		return mfr.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", doc, nil)
	}
	for _, lot := range []string{"LOT-WITH-MORE-THAN-20-CHARS", "A 1 é", "A\x1dB"} {
		epc := demo.PackEPC(gtin, "BADLOT1")
		wantAPIError(t, capture(epc, lot), http.StatusUnprocessableEntity, "bad_payload")
		wantAPIError(t, mfr.Do(t.Context(), "GET", "/api/v1/provenance/packs/"+gtin+"/BADLOT1", "", nil, nil), http.StatusNotFound, "not_found")
		wantAPIError(t, mfr.Do(t.Context(), "POST", "/api/v1/recalls", "application/json",
			map[string]any{"gtin": gtin, "lot": lot, "reason": "contamination"}, nil), http.StatusBadRequest, "bad_lot")
	}
	linked := strings.Replace(demo.PackEPC(gtin, "LINKED1"), "/21/", "/10/LOTX/21/", 1)
	wantAPIError(t, capture(linked, "LOTY"), http.StatusUnprocessableEntity, "bad_payload")

	if err := capture(demo.PackEPC(gtin, "GOODLOT1"), "LOT-20-CHARS-EXACTLY"); err != nil {
		t.Fatalf("a lot of 20 characters of CSET 82: %v", err)
	}
	if err := mfr.Do(t.Context(), "POST", "/api/v1/recalls", "application/json",
		map[string]any{"gtin": gtin, "lot": "LOT-20-CHARS-EXACTLY", "reason": "contamination"}, nil); err != nil {
		t.Fatalf("recalling the lot commissioned: %v", err)
	}
}

// TestAnEventMayNotClaimAStatusItDoesNotSet: a pharmacy holding an active
// pack may not record it as "inspecting → destroyed" nor as dispensed in
// a TransactionEvent (422 unsupported_event): the pack would stay active
// and dispensable while its chain of custody said it was gone. Neither
// event is in the chain; the pack is dispensed. A TransactionEvent that
// says in_transit is taken: it may come before the shipment it goes with.
func TestAnEventMayNotClaimAStatusItDoesNotSet(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 1)
	ph1 := n.client(s.Tokens[net.Pharmacy1.GLN])
	p := net.Packs[net.Cases[0].Packs[3]] // active at pharmacy 1
	epc, ph := demo.PackEPC(p.GTIN, p.Serial), net.Pharmacy1.GLN
	at := time.Now().Truncate(time.Second)
	inspect := demo.Receive(at, ph, []string{epc})
	inspect["bizStep"], inspect["disposition"] = "inspecting", "destroyed"
	transaction := demo.Event{"type": "TransactionEvent", "eventTime": at.UTC().Format(time.RFC3339), "eventTimeZoneOffset": "+00:00",
		"action": "ADD", "bizStep": "dispensing", "disposition": "dispensed", "epcList": []string{epc},
		"bizTransactionList": []any{map[string]any{"type": "inv", "bizTransaction": "urn:epcglobal:cbv:bt:" + ph + ":INV1"}}}
	for _, e := range []demo.Event{inspect, transaction} {
		err := ph1.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", demo.Document(at, e), nil)
		wantAPIError(t, err, http.StatusUnprocessableEntity, "unsupported_event")
	}
	var prov Provenance
	if err := ph1.Do(t.Context(), "GET", "/api/v1/provenance/packs/"+p.GTIN+"/"+p.Serial, "", nil, &prov); err != nil {
		t.Fatal(err)
	}
	for _, e := range prov.Events {
		if e.Disposition == "destroyed" || e.Type == "TransactionEvent" {
			t.Errorf("the chain of custody shows %s %s → %s", e.Type, e.BizStep, e.Disposition)
		}
	}
	transaction["bizStep"], transaction["disposition"] = "shipping", "in_transit"
	if err := ph1.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", demo.Document(at, transaction), nil); err != nil {
		t.Fatalf("a TransactionEvent in_transit: %v", err)
	}
	if err := ph1.Do(t.Context(), "POST", "/api/v1/decommission", "application/json",
		map[string]any{"epcs": []string{epc}, "status": "dispensed"}, nil); err != nil {
		t.Fatalf("dispensing the pack: %v", err)
	}
}
