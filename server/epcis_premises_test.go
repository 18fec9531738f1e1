package server

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
)

// TestAnEventIsCapturedOnlyAtTheCallersPremises: an EPCIS event whose
// bizLocation is another organisation's premises is refused before it is
// proposed, as /api/v1/decommission refuses such a location. Otherwise a
// pharmacy could dispense a pack "at" another pharmacy, which verifiers
// and regulators are then told (and which neither could undo), and put
// its events into another organisation's records. Its own premises, and
// a location naming no GLN, are accepted.
func TestAnEventIsCapturedOnlyAtTheCallersPremises(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	pharmacy := n.client(s.Tokens[net.Pharmacy1.GLN])
	regulator := n.client(s.Tokens[net.Regulator.GLN])
	p := net.Packs[net.Cases[0].Packs[5]] // in pharmacy 1's stock
	epc := demo.PackEPC(p.GTIN, p.Serial)
	event := func(bizStep, disposition, location string) demo.Event {
		return demo.Event{
			"type": "ObjectEvent", "action": "OBSERVE", "bizStep": bizStep, "disposition": disposition,
			"eventTime": time.Now().UTC().Format(time.RFC3339), "eventTimeZoneOffset": "+00:00",
			"epcList": []string{epc}, "bizLocation": map[string]any{"id": location},
		}
	}
	verdict := func() string {
		var v struct{ Verdict string }
		if err := regulator.Do(t.Context(), "POST", "/api/v1/verify", "application/json", map[string]any{"scan": p.HRI}, &v); err != nil {
			t.Fatal(err)
		}
		return v.Verdict
	}
	head := func() int {
		var h struct{ Size int }
		if err := regulator.Do(t.Context(), "GET", "/api/v1/ledger/head", "", nil, &h); err != nil {
			t.Fatal(err)
		}
		return h.Size
	}

	before := head()
	for _, ev := range []demo.Event{
		event("dispensing", "dispensed", demo.SGLN(net.Pharmacy2.GLN)),
		event("inspecting", "active", demo.SGLN(net.Pharmacy2.GLN)),
		event("dispensing", "dispensed", "urn:epc:id:pgln:"+strings.TrimSuffix(demo.SGLN(net.Manufacturer.GLN)[len("urn:epc:id:sgln:"):], ".0")),
	} {
		err := pharmacy.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", demo.Document(time.Now(), ev), nil)
		var ae *demo.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || ae.Code != "bad_location" || !strings.Contains(ae.Body, "event 0") {
			t.Errorf("%s at %v: %v; want 403 bad_location naming the event", ev["bizStep"], ev["bizLocation"], err)
		}
	}
	if got := head(); got != before {
		t.Errorf("refused captures grew the ledger from %d to %d entries", before, got)
	}
	if v := verdict(); v != "authentic" {
		t.Fatalf("the pack after the refusals: %s, want authentic", v)
	}

	for _, ev := range []demo.Event{
		event("inspecting", "active", "geo:52.52,13.40"),
		event("dispensing", "dispensed", demo.SGLN(net.Pharmacy1.GLN)),
	} {
		if err := pharmacy.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", demo.Document(time.Now(), ev), nil); err != nil {
			t.Fatalf("%s at %v: %v", ev["bizStep"], ev["bizLocation"], err)
		}
	}
	if v := verdict(); v != "already_dispensed" {
		t.Errorf("the pack dispensed at the pharmacy's own premises: %s", v)
	}
}
