package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
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

	// A location shaped like a stored key is stored as it is, and would
	// read as the other pharmacy's.
	planted := event("inspecting", "active", "(414)"+net.Pharmacy2.GLN+"(254)x:planted")
	err := pharmacy.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", demo.Document(time.Now(), planted), nil)
	var ae *demo.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Code != "bad_location" {
		t.Errorf("a key-shaped bizLocation: %v; want 400 bad_location", err)
	}
}

// TestAnEventMisplacedBeforeThePremisesCheckCanBeRetracted: an event
// captured at another's premises before the check existed (proposed here
// straight to the ledger, as it then was) can still be declared
// erroneous by its capturer: the declaration restates it, location and
// all, and moves nothing.
func TestAnEventMisplacedBeforeThePremisesCheckCanBeRetracted(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	pharmacy := n.client(s.Tokens[net.Pharmacy1.GLN])
	p := net.Packs[net.Cases[0].Packs[5]]
	at := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	ev := demo.Event{
		"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "inspecting", "disposition": "active",
		"eventTime": at.Format(time.RFC3339), "eventTimeZoneOffset": "+00:00",
		"epcList": []string{demo.PackEPC(p.GTIN, p.Serial)}, "bizLocation": map[string]any{"id": demo.SGLN(net.Pharmacy2.GLN)},
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	e, err := models.DecodeEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	res := mustPropose(t, n.store, net.Pharmacy1.GLN, models.KindCaptureEvents, models.CaptureEventsPayload{Events: []models.Event{e}})
	var captured models.CaptureResult
	if err := json.Unmarshal(res.Data, &captured); err != nil || len(captured.EventIDs) != 1 {
		t.Fatalf("the misplaced capture: %v %s", err, res.Data)
	}
	ev["eventID"] = captured.EventIDs[0]
	ev["errorDeclaration"] = map[string]any{"declarationTime": at.Add(time.Minute).Format(time.RFC3339), "reason": "incorrect_data"}
	if err := pharmacy.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", demo.Document(at, ev), nil); err != nil {
		t.Errorf("declaring its own misplaced event erroneous: %v", err)
	}
}

// TestAContainerIsMadeOnlyUnderTheCallersPrefix: a capture that would
// create an SSCC under another organisation's company prefix, by
// commissioning it or by packing into it before the ledger holds it, is
// refused before it is proposed: SSCCs run in sequence, and anyone could
// otherwise take a manufacturer's next ones and have the manufacturer's
// own commissioning refused. Its own prefix is fine.
func TestAContainerIsMadeOnlyUnderTheCallersPrefix(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 20)
	manufacturer := n.client(s.Tokens[net.Manufacturer.GLN])
	wholesaler := n.client(s.Tokens[net.Wholesaler.GLN])
	at := time.Now().UTC()
	commission := func(epcs ...string) demo.Event {
		return demo.Event{"type": "ObjectEvent", "action": "ADD", "bizStep": "commissioning", "disposition": "active",
			"eventTime": at.Format(time.RFC3339), "eventTimeZoneOffset": "+00:00", "epcList": epcs}
	}
	pack := func(parent string, children ...string) demo.Event {
		return demo.Event{"type": "AggregationEvent", "action": "ADD", "bizStep": "packing",
			"eventTime": at.Format(time.RFC3339), "eventTimeZoneOffset": "+00:00", "parentID": parent, "childEPCs": children}
	}
	p := net.Products[0]
	packs := []string{demo.PackEPC(p.GTIN, "PFX1"), demo.PackEPC(p.GTIN, "PFX2")}
	newPacks := demo.Commission(at, net.Manufacturer.GLN, packs, "PFX", net.Packs[0].Expiry)
	manufacturers, wholesalers := demo.SSCCEPC(ssccOf("4012345", 999001)), demo.SSCCEPC(ssccOf("4098765", 999002))

	refused := func(who *demo.Client, name string, events ...demo.Event) {
		t.Helper()
		err := who.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", demo.Document(at, events...), nil)
		var ae *demo.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || ae.Code != "not_your_prefix" ||
			!strings.Contains(ae.Body, fmt.Sprintf("event %d", len(events)-1)) {
			t.Errorf("%s: %v; want 403 not_your_prefix naming the event", name, err)
		}
	}
	refused(wholesaler, "the wholesaler commissions the manufacturer's next SSCC", commission(manufacturers))
	refused(manufacturer, "the manufacturer packs into a new SSCC of the wholesaler's", newPacks, pack(wholesalers, packs...))
	if err := manufacturer.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json",
		demo.Document(at, newPacks, pack(manufacturers, packs...)), nil); err != nil {
		t.Fatalf("the manufacturer packs into a new SSCC of its own: %v", err)
	}
	if err := wholesaler.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json",
		demo.Document(at, commission(wholesalers)), nil); err != nil {
		t.Fatalf("the wholesaler commissions an SSCC of its own: %v", err)
	}
}

// ssccOf makes an SSCC (extension digit 0) under a company prefix.
func ssccOf(prefix string, ref uint64) string {
	body := "0" + prefix + fmt.Sprintf("%0*d", 16-len(prefix), ref)
	return body + strconv.Itoa(gs1.CheckDigit(body))
}
