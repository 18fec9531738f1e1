package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// provenanceAnswer is the part of a provenance answer these tests read.
type provenanceAnswer struct {
	Events []struct {
		Seq         uint64          `json:"seq"`
		DeclaredIn  uint64          `json:"declared_in"`
		EventID     string          `json:"event_id"`
		BizLocation string          `json:"biz_location"`
		Entry       string          `json:"entry"`
		Event       json.RawMessage `json:"event"`
	} `json:"events"`
}

// TestProvenanceServesNoEventItsEntryContradicts edits a pack's events in
// the node's projection, as a reviewer did on a demo node: the location
// of an event (its column, or the stored event and its column together),
// and the entry a row names. Each time the API refuses the chain, 500
// projection_mismatch, and the dashboard's page shows an error, not the
// forged location beside links to proofs. Unedited, every event names
// its ledger entry, which the caller reads.
func TestProvenanceServesNoEventItsEntryContradicts(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 2)
	reg := n.client(s.Tokens[net.Regulator.GLN])
	pk := net.Packs[0]
	path := "/api/v1/provenance/packs/" + pk.GTIN + "/" + url.PathEscape(pk.Serial)
	var prov provenanceAnswer
	if err := reg.Do(t.Context(), "GET", path, "", nil, &prov); err != nil {
		t.Fatal(err)
	}
	if len(prov.Events) < 2 {
		t.Fatalf("the pack's chain: %+v", prov)
	}
	ev := prov.Events[len(prov.Events)-1]
	for _, e := range prov.Events {
		var entry entryView
		if err := reg.Do(t.Context(), "GET", e.Entry, "", nil, &entry); err != nil || entry.Seq != e.Seq {
			t.Fatalf("event %s names entry %q: %+v, %v", e.EventID, e.Entry, entry, err)
		}
		if e.BizLocation != "" {
			ev = e
		}
	}
	if ev.BizLocation == "" {
		t.Fatalf("no event of the pack has a location: %+v", prov.Events)
	}
	var stored struct {
		BizLocation struct {
			ID string `json:"id"`
		} `json:"bizLocation"`
	}
	if err := json.Unmarshal(ev.Event, &stored); err != nil || stored.BizLocation.ID == "" {
		t.Fatalf("the stored event's location: %s, %v", ev.Event, err)
	}
	const forgedURI, forgedKey = "urn:epc:id:sgln:4099999.00000.0", "(414)4099999000005"
	if locationKey(forgedURI) != forgedKey {
		t.Fatalf("the forged location's key is %q", locationKey(forgedURI))
	}
	db, err := n.store.Read(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	var orig models.EventRecord
	if err := db.Where("event_id = ?", ev.EventID).Take(&orig).Error; err != nil {
		t.Fatal(err)
	}
	otherSeq := prov.Events[0].Seq
	if otherSeq == orig.Seq {
		otherSeq = prov.Events[1].Seq
	}
	browser := mustBrowserSignIn(t, n.srv, s.Tokens[net.Regulator.GLN])
	for _, tc := range []struct {
		name string
		set  map[string]any
	}{
		{"the location's column", map[string]any{"biz_location": forgedKey}},
		{"the location, column and stored event", map[string]any{"biz_location": forgedKey,
			"json": strings.Replace(orig.JSON, stored.BizLocation.ID, forgedURI, 1)}},
		{"the entry the row names", map[string]any{"seq": otherSeq}},
	} {
		if err := db.Model(&models.EventRecord{}).Where("id = ?", orig.ID).Updates(tc.set).Error; err != nil {
			t.Fatal(err)
		}
		wantAPIError(t, reg.Do(t.Context(), "GET", path, "", nil, nil), http.StatusInternalServerError, "projection_mismatch")
		st, page := browse(t, browser, n.srv.URL, "/ui/provenance?q="+url.QueryEscape(pk.HRI))
		if st != http.StatusInternalServerError || strings.Contains(page, forgedKey) || strings.Contains(page, "/ui/ledger?seq=") {
			t.Errorf("%s edited, the dashboard's chain: %d\n%s", tc.name, st, page)
		}
		restore := map[string]any{"biz_location": orig.BizLocation, "json": orig.JSON, "seq": orig.Seq}
		if err := db.Model(&models.EventRecord{}).Where("id = ?", orig.ID).Updates(restore).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.Do(t.Context(), "GET", path, "", nil, nil); err != nil {
		t.Fatalf("restored: %v", err)
	}
}

// FuzzRawArrayMatchesEncodingJSON: rawArray splits a committed capture's
// payload as encoding/json would, byte for byte, whatever its strings and
// nesting hold, and never panics on any input.
func FuzzRawArrayMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"events":[]}`, `{"events":[{"a":1},{"b":2}]}`, ` { "events" : [ {"a":"]},\"[{"} , {"b":[1,{"c":"\\"}]}] } `,
		`{"events":["x",1,true,null,-2.5e3,[]]}`, `{"event_ids":["ni:///sha-256;ab?ver=CBV2.0","urn:uuid:1"]}`,
		`{"events":[1],"events":[2]}`, `{"events":[1],"x":2}`, `{"events":[1,]}`, `{"events":["\u005d"]}`, `[1]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := rawArray(data, "events")
		var want map[string][]json.RawMessage
		if !json.Valid(data) || json.Unmarshal(data, &want) != nil || len(want) != 1 || want["events"] == nil {
			return
		}
		if err != nil || len(got) != len(want["events"]) {
			t.Fatalf("%q: %d elements, %v; encoding/json reads %d", data, len(got), err, len(want["events"]))
		}
		for i := range got {
			if string(got[i]) != string(want["events"][i]) {
				t.Fatalf("%q: element %d is %q; encoding/json reads %q", data, i, got[i], want["events"][i])
			}
		}
	})
}

// TestProvenanceServesEventsStoredOtherwiseThanCommitted: the check takes
// what Apply legitimately stores otherwise than the client sent it: a
// compact CBV value (cbv:BizStep-inspecting, stored inspecting) and an
// event declared erroneous later (stored with the declaration). The
// pack's chain serves both.
func TestProvenanceServesEventsStoredOtherwiseThanCommitted(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 1)
	ph1 := n.client(s.Tokens[net.Pharmacy1.GLN])
	p := net.Packs[net.Cases[0].Packs[3]]
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	observe := func(bizStep string, at time.Time) demo.Event {
		return demo.Event{"type": "ObjectEvent", "eventTime": at.Format(time.RFC3339), "eventTimeZoneOffset": "+00:00",
			"epcList": []string{demo.PackEPC(p.GTIN, p.Serial)}, "action": "OBSERVE", "bizStep": bizStep,
			"readPoint": map[string]any{"id": demo.SGLN(net.Pharmacy1.GLN)}}
	}
	compact, declared := observe("cbv:BizStep-inspecting", at), observe("inspecting", at.Add(time.Second))
	var captured struct{ EventIDs []string }
	if err := ph1.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", demo.Document(at, compact, declared), &captured); err != nil {
		t.Fatal(err)
	}
	declared["eventID"] = captured.EventIDs[1]
	declared["errorDeclaration"] = map[string]any{"declarationTime": at.Add(time.Minute).Format(time.RFC3339), "reason": "incorrect_data"}
	if err := ph1.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", demo.Document(at, declared), nil); err != nil {
		t.Fatalf("the declaration: %v", err)
	}
	var prov provenanceAnswer
	if err := ph1.Do(t.Context(), "GET", "/api/v1/provenance/packs/"+p.GTIN+"/"+url.PathEscape(p.Serial), "", nil, &prov); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, e := range prov.Events {
		seen[e.EventID] = string(e.Event)
	}
	if ev, ok := seen[captured.EventIDs[0]]; !ok || !strings.Contains(ev, `"bizStep":"inspecting"`) {
		t.Errorf("the compact-valued event: %q", ev)
	}
	if ev, ok := seen[captured.EventIDs[1]]; !ok || !strings.Contains(ev, "errorDeclaration") {
		t.Errorf("the declared event: %q", ev)
	}
}

// TestProvenanceChecksADeclarationAgainstTheEntryThatMadeIt: a declared
// event's stored JSON is the declaring entry's restatement, which the
// projection names (models.EventDeclaration): provenance serves it with
// declared_in, the entry checked. A row naming another entry is refused.
// A declaration the projection names no entry for is served without
// declared_in, which is how a client tells it was not checked: one
// planted in a row, or one rewritten since its row was written (as a
// binary from before the table rewrites a declared event declared again),
// which must not take the chain down; nor does a row without the hash of
// the JSON it describes.
func TestProvenanceChecksADeclarationAgainstTheEntryThatMadeIt(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 1)
	ph1 := n.client(s.Tokens[net.Pharmacy1.GLN])
	p := net.Packs[net.Cases[0].Packs[3]]
	path := "/api/v1/provenance/packs/" + p.GTIN + "/" + url.PathEscape(p.Serial)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	observe := func(at time.Time) demo.Event {
		return demo.Event{"type": "ObjectEvent", "eventTime": at.Format(time.RFC3339), "eventTimeZoneOffset": "+00:00",
			"epcList": []string{demo.PackEPC(p.GTIN, p.Serial)}, "action": "OBSERVE", "bizStep": "inspecting",
			"readPoint": map[string]any{"id": demo.SGLN(net.Pharmacy1.GLN)}}
	}
	var captured struct{ EventIDs []string }
	if err := ph1.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", demo.Document(at, observe(at), observe(at.Add(time.Second))), &captured); err != nil {
		t.Fatal(err)
	}
	declared, plain := captured.EventIDs[0], captured.EventIDs[1]
	decl := observe(at)
	decl["eventID"] = declared
	decl["errorDeclaration"] = map[string]any{"declarationTime": at.Add(time.Minute).Format(time.RFC3339), "reason": "incorrect_data"}
	if err := ph1.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", demo.Document(at, decl), nil); err != nil {
		t.Fatalf("the declaration: %v", err)
	}
	declSeq := n.store.Head().Size
	find := func() map[string]uint64 {
		t.Helper()
		var prov provenanceAnswer
		if err := ph1.Do(t.Context(), "GET", path, "", nil, &prov); err != nil {
			t.Fatal(err)
		}
		in := map[string]uint64{}
		for _, e := range prov.Events {
			in[e.EventID] = e.DeclaredIn
		}
		return in
	}
	if in := find(); in[declared] != declSeq || in[plain] != 0 {
		t.Fatalf("declared_in: %v, want %d for %s and none for %s", in, declSeq, declared, plain)
	}

	db, err := n.store.Read(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	row := func(id string) models.EventRecord {
		t.Helper()
		var r models.EventRecord
		if err := db.Where("event_id = ?", id).Take(&r).Error; err != nil {
			t.Fatal(err)
		}
		return r
	}
	orig := row(declared)
	if err := db.Exec(`UPDATE event_declarations SET seq = ? WHERE event_record_id = ?`, declSeq-1, orig.ID).Error; err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, ph1.Do(t.Context(), "GET", path, "", nil, nil), http.StatusInternalServerError, "projection_mismatch")
	if err := db.Exec(`UPDATE event_declarations SET seq = ? WHERE event_record_id = ?`, declSeq, orig.ID).Error; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(orig.JSON, `"incorrect_data"`) {
		t.Fatalf("the stored declaration: %s", orig.JSON)
	}
	redeclared := strings.Replace(orig.JSON, `"incorrect_data"`, `"did_not_occur"`, 1)
	if err := db.Exec(`UPDATE event_records SET json = ? WHERE id = ?`, redeclared, orig.ID).Error; err != nil {
		t.Fatal(err)
	}
	if in := find(); in[declared] != 0 {
		t.Fatalf("a declaration rewritten since its row names entry %d", in[declared])
	}
	if err := db.Exec(`UPDATE event_records SET json = ? WHERE id = ?`, orig.JSON, orig.ID).Error; err != nil {
		t.Fatal(err)
	}
	// A row without the hash of the JSON it describes names no entry.
	var hash []byte
	if err := db.Raw(`SELECT json_hash FROM event_declarations WHERE event_record_id = ?`, orig.ID).Row().Scan(&hash); err != nil || len(hash) == 0 {
		t.Fatalf("the row's hash: %x, %v", hash, err)
	}
	if err := db.Exec(`UPDATE event_declarations SET json_hash = NULL WHERE event_record_id = ?`, orig.ID).Error; err != nil {
		t.Fatal(err)
	}
	if in := find(); in[declared] != 0 {
		t.Fatalf("a row without a hash names entry %d", in[declared])
	}
	if err := db.Exec(`UPDATE event_declarations SET json_hash = ? WHERE event_record_id = ?`, hash, orig.ID).Error; err != nil {
		t.Fatal(err)
	}
	// A declaration planted in a row the projection names no entry for.
	other := row(plain)
	planted := strings.TrimSuffix(other.JSON, "}") + `,"errorDeclaration":{"declarationTime":"2020-01-01T00:00:00Z","reason":"did_not_occur"}}`
	if err := db.Exec(`UPDATE event_records SET json = ? WHERE id = ?`, planted, other.ID).Error; err != nil {
		t.Fatal(err)
	}
	if in := find(); in[plain] != 0 || in[declared] != declSeq {
		t.Fatalf("declared_in with a planted declaration: %v", in)
	}
}

// countingSource counts the entries a checker reads.
type countingSource struct {
	proofSource
	reads int
}

func (c *countingSource) Entry(seq uint64) (raftstore.Entry, error) {
	c.reads++
	return c.proofSource.Entry(seq)
}

// TestTheCheckerReadsEachEntryOnce: a chain's events come in ledger
// order, each capture's together, while one entry may have declared many
// of them. The checker keeps a few entries, the least recently used
// going first, so each entry is read once, the declaring one included,
// however many captures come and go around it.
func TestTheCheckerReadsEachEntryOnce(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 1)
	ph1 := n.client(s.Tokens[net.Pharmacy1.GLN])
	p := net.Packs[net.Cases[0].Packs[3]]
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	var decls []demo.Event
	for i := range 12 {
		ev := demo.Event{"type": "ObjectEvent", "eventTime": at.Add(time.Duration(i) * time.Second).Format(time.RFC3339), "eventTimeZoneOffset": "+00:00",
			"epcList": []string{demo.PackEPC(p.GTIN, p.Serial)}, "action": "OBSERVE", "bizStep": "inspecting",
			"readPoint": map[string]any{"id": demo.SGLN(net.Pharmacy1.GLN)}}
		var captured struct{ EventIDs []string }
		if err := ph1.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", demo.Document(at, ev), &captured); err != nil {
			t.Fatal(err)
		}
		ev["eventID"] = captured.EventIDs[0]
		ev["errorDeclaration"] = map[string]any{"declarationTime": at.Add(time.Hour).Format(time.RFC3339), "reason": "incorrect_data"}
		decls = append(decls, ev)
	}
	if err := ph1.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", demo.Document(at, decls...), nil); err != nil {
		t.Fatalf("the declarations: %v", err)
	}
	db, err := n.store.Read(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	subject, err := models.PackSubject(p.GTIN, p.Serial)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := models.ChainOfCustody(db, subject, models.CustodyQuery{Limit: maxProvenanceEvents})
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[uint64]bool{}
	declared := 0
	for _, r := range chain.Events {
		distinct[r.Seq] = true
		if r.DeclaredSeq != 0 {
			distinct[r.DeclaredSeq] = true
			declared++
		}
	}
	if declared != 12 {
		t.Fatalf("%d of the chain's events are declared, want 12", declared)
	}
	src := &countingSource{proofSource: n.store}
	k := newEventChecker(src, nil)
	for _, r := range chain.Events {
		if _, err := k.check(r); err != nil {
			t.Fatal(err)
		}
	}
	if src.reads != len(distinct) {
		t.Fatalf("the checker read %d entries for %d distinct ones", src.reads, len(distinct))
	}
}
