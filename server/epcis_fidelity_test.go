package server

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
	"github.com/pedigree-ledger/pedigree/models"
)

// TestCapturedUserFieldsComeBackFromQuery: user fields of an event's
// locations and sensors, and the document context that names their
// namespace, survive capture, the ledger's stored JSON and the events
// query; the event that comes back hashes to the id the ledger gave it.
func TestCapturedUserFieldsComeBackFromQuery(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 20)
	mfr := n.client(s.Tokens[net.Manufacturer.GLN])

	p := net.Packs[0]
	ev := demo.Commission(net.Start.Add(time.Hour), net.Manufacturer.GLN,
		[]string{demo.PackEPC(p.GTIN, "FIDELITY1")}, p.Lot, p.Expiry)
	ev["readPoint"] = map[string]any{"id": demo.SGLN(net.Manufacturer.GLN), "ex:room": "clean room 2"}
	ev["bizLocation"] = map[string]any{"ex:dock": map[string]any{"ex:door": 3}, "id": demo.SGLN(net.Manufacturer.GLN)}
	ev["sensorElementList"] = []any{map[string]any{
		"sensorMetadata": map[string]any{"time": net.Start.UTC().Format(time.RFC3339), "ex:calibrated": "2025-12-01"},
		"sensorReport":   []any{map[string]any{"type": "gs1:Temperature", "value": 4.5, "uom": "CEL", "ex:probe": "P1"}},
	}}
	doc, err := json.Marshal(map[string]any{
		"@context":      []any{"https://ref.gs1.org/standards/epcis/epcis-context.jsonld", map[string]any{"ex": "https://ns.example.com/epcis/"}},
		"type":          "EPCISDocument",
		"schemaVersion": "2.0",
		"creationDate":  net.Start.UTC().Format(time.RFC3339),
		"epcisBody":     map[string]any{"eventList": []any{ev}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var captured struct{ EventIDs []string }
	if err := mfr.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", doc, &captured); err != nil {
		t.Fatalf("capture: %v", err)
	}
	if len(captured.EventIDs) != 1 {
		t.Fatalf("capture answered event ids %v", captured.EventIDs)
	}
	id := captured.EventIDs[0]

	var page eventQueryDoc
	if err := mfr.Do(t.Context(), "GET", "/epcis/events?EQ_eventID="+url.QueryEscape(id), "", nil, &page); err != nil {
		t.Fatalf("query: %v", err)
	}
	if len(page.events()) != 1 {
		t.Fatalf("query by event id found %d events", len(page.events()))
	}
	stored, err := json.Marshal(page.events()[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{`"ex:room":"clean room 2"`, `"ex:dock":{"ex:door":3}`, `"ex:calibrated":"2025-12-01"`,
		`"ex:probe":"P1"`, `"ex":"https://ns.example.com/epcis/"`} {
		if !strings.Contains(string(stored), frag) {
			t.Errorf("the queried event lacks %s:\n%s", frag, stored)
		}
	}
	again, err := models.DecodeEvent(stored)
	if err != nil {
		t.Fatalf("the queried event does not decode: %v\n%s", err, stored)
	}
	if got := models.EventHashID(again); got != id {
		t.Fatalf("the queried event hashes to %s, the ledger named it %s:\n%s\n%s", got, id, stored, models.PreHash(again))
	}
	if pre := models.PreHash(again); !strings.Contains(pre, "{https://ns.example.com/epcis/}room=clean room 2") {
		t.Fatalf("the hash of the queried event leaves out the readPoint's user field:\n%s", pre)
	}
	// Provenance checks each event against its committed entry before it
	// serves it: user fields, sensors and a document context are no
	// mismatch.
	var prov provenanceAnswer
	if err := mfr.Do(t.Context(), "GET", "/api/v1/provenance/packs/"+p.GTIN+"/FIDELITY1", "", nil, &prov); err != nil {
		t.Fatalf("provenance of the pack: %v", err)
	}
	if len(prov.Events) != 1 || prov.Events[0].EventID != id {
		t.Fatalf("provenance lists %+v, want the one event %s", prov.Events, id)
	}
}
