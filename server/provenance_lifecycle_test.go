package server

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// lifecycleAnswer is the part of a provenance answer about decommissions,
// undos and the recall.
type lifecycleAnswer struct {
	Items []struct {
		Key    string `json:"key"`
		Status string `json:"status"`
	} `json:"items"`
	Changes []struct {
		Seq              uint64                    `json:"seq"`
		Key              string                    `json:"key"`
		Kind             string                    `json:"kind"`
		Status           string                    `json:"status"`
		Actor            string                    `json:"actor"`
		Location         string                    `json:"location"`
		SuppliedToPublic bool                      `json:"supplied_to_public"`
		Entry            string                    `json:"entry"`
		Proof            *raftstore.InclusionProof `json:"proof"`
	} `json:"changes"`
	Recall *struct {
		Seq    uint64                    `json:"seq"`
		Lot    string                    `json:"lot"`
		By     string                    `json:"by"`
		Reason string                    `json:"reason"`
		Entry  string                    `json:"entry"`
		Proof  *raftstore.InclusionProof `json:"proof"`
	} `json:"recall"`
	Head struct {
		Size uint64 `json:"size"`
		Root []byte `json:"root"`
	} `json:"head"`
}

// checkProven checks that p proves the entry at path is in the tree of
// head: the entry's leaf hash, and the path from it to head's root.
func checkProven(t *testing.T, c *demo.Client, path string, seq uint64, p *raftstore.InclusionProof, size uint64, root []byte) {
	t.Helper()
	var e entryView
	if err := c.Do(t.Context(), "GET", path, "", nil, &e); err != nil || e.Seq != seq {
		t.Fatalf("entry %s: %+v, %v", path, e, err)
	}
	if p == nil || p.Seq != seq || p.Size != size || hex.EncodeToString(p.LeafHash) != e.LeafHash {
		t.Fatalf("proof of entry %d: %+v, leaf %s", seq, p, e.LeafHash)
	}
	got, err := proof.RootFromInclusionProof(rfc6962.DefaultHasher, seq-1, size, p.LeafHash, p.Hashes)
	if err != nil || !bytes.Equal(got, root) {
		t.Fatalf("proof of entry %d gives root %x (%v), the head's is %x", seq, got, err, root)
	}
}

// TestProvenanceShowsDecommissionsUndosAndTheRecall: a pack dispensed
// through the API and then reinstated used to show neither in its chain
// of custody, only its present status; a recalled lot's chain never said
// it was recalled. Both now come with the chain, each with its entry and
// an inclusion proof, for the API and on the dashboard; and a row edited
// in the node's projection is refused (projection_mismatch), never shown
// as proven.
func TestProvenanceShowsDecommissionsUndosAndTheRecall(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	ph1 := n.client(s.Tokens[net.Pharmacy1.GLN])
	reg := n.client(s.Tokens[net.Regulator.GLN])
	var held *demo.Pack
	for i, p := range net.Packs {
		var v struct{ Verdict string }
		if err := ph1.Do(t.Context(), "POST", "/api/v1/verify", "application/json", map[string]any{"scan": p.HRI}, &v); err != nil {
			t.Fatal(err)
		}
		if v.Verdict == "authentic" {
			held = &net.Packs[i]
			break
		}
	}
	if held == nil {
		t.Fatal("pharmacy 1 holds no authentic pack")
	}
	epcs := []string{demo.PackEPC(held.GTIN, held.Serial)}
	if err := ph1.Do(t.Context(), "POST", "/api/v1/decommission", "application/json",
		map[string]any{"epcs": epcs, "status": "dispensed"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := ph1.Do(t.Context(), "POST", "/api/v1/decommission/undo", "application/json", map[string]any{"epcs": epcs}, nil); err != nil {
		t.Fatal(err)
	}
	packPath := "/api/v1/provenance/packs/" + held.GTIN + "/" + url.PathEscape(held.Serial)
	lotPath := "/api/v1/provenance/lots/" + held.GTIN + "/" + url.PathEscape(held.Lot)
	var prov lifecycleAnswer
	if err := reg.Do(t.Context(), "GET", packPath, "", nil, &prov); err != nil {
		t.Fatal(err)
	}
	key := models.PackKey(held.GTIN, held.Serial)
	if len(prov.Changes) != 2 || prov.Recall != nil {
		t.Fatalf("changes %+v, recall %+v; want the dispense and its undo", prov.Changes, prov.Recall)
	}
	for i, want := range []struct{ kind, status string }{{"decommission", "dispensed"}, {"undo_decommission", "active"}} {
		ch := prov.Changes[i]
		if ch.Kind != want.kind || ch.Status != want.status || ch.Key != key || ch.Actor != net.Pharmacy1.GLN || ch.Location != net.Pharmacy1.GLN {
			t.Fatalf("change %d: %+v, want %s to %s by %s", i, ch, want.kind, want.status, net.Pharmacy1.GLN)
		}
		checkProven(t, reg, ch.Entry, ch.Seq, ch.Proof, prov.Head.Size, prov.Head.Root)
	}

	mfr := n.client(s.Tokens[net.Manufacturer.GLN])
	if err := mfr.Do(t.Context(), "POST", "/api/v1/recalls", "application/json",
		map[string]any{"gtin": held.GTIN, "lot": held.Lot, "reason": "sterility"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{packPath, lotPath} {
		var p lifecycleAnswer
		if err := reg.Do(t.Context(), "GET", path, "", nil, &p); err != nil {
			t.Fatal(err)
		}
		if r := p.Recall; r == nil || r.Lot != held.Lot || r.By != net.Manufacturer.GLN || r.Reason != "sterility" {
			t.Fatalf("%s: recall %+v", path, p.Recall)
		}
		checkProven(t, reg, p.Recall.Entry, p.Recall.Seq, p.Recall.Proof, p.Head.Size, p.Head.Root)
	}
	browser := mustBrowserSignIn(t, n.srv, s.Tokens[net.Regulator.GLN])
	st, page := browse(t, browser, n.srv.URL, "/ui/provenance?q="+url.QueryEscape(held.HRI))
	for _, want := range []string{`id="recall"`, "sterility", "Decommissions and undos", "<strong>undo</strong>", "(lot recalled)"} {
		if st != http.StatusOK || !strings.Contains(page, want) {
			t.Fatalf("dashboard %d, no %q in\n%s", st, want, page)
		}
	}

	// Rows edited in the projection are refused, by the API and the page.
	db, err := n.store.Read(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, table, set, restore string
	}{
		{"a change's status", "lifecycle_records", "status = 'destroyed' WHERE kind = 'decommission'", "status = 'dispensed' WHERE kind = 'decommission'"},
		{"a change's location", "lifecycle_records", "location = '" + net.Pharmacy2.GLN + "'", "location = '" + net.Pharmacy1.GLN + "'"},
		{"a change's entry", "lifecycle_records", "seq = seq + 1000 WHERE kind = 'decommission'", "seq = seq - 1000 WHERE kind = 'decommission'"},
		{"the recall's reason", "recalls", "reason = 'a drill'", "reason = 'sterility'"},
		{"the recall's maker", "recalls", "recalled_by = '" + net.Regulator.GLN + "'", "recalled_by = '" + net.Manufacturer.GLN + "'"},
	} {
		if err := db.Exec("UPDATE " + tc.table + " SET " + tc.set).Error; err != nil {
			t.Fatal(err)
		}
		wantAPIError(t, reg.Do(t.Context(), "GET", packPath, "", nil, nil), http.StatusInternalServerError, "projection_mismatch")
		if st, page := browse(t, browser, n.srv.URL, "/ui/provenance?q="+url.QueryEscape(held.HRI)); st != http.StatusInternalServerError || strings.Contains(page, "/ui/ledger?seq=") {
			t.Errorf("%s edited, the dashboard's chain: %d\n%s", tc.name, st, page)
		}
		if err := db.Exec("UPDATE " + tc.table + " SET " + tc.restore).Error; err != nil {
			t.Fatal(err)
		}
		if err := reg.Do(t.Context(), "GET", packPath, "", nil, nil); err != nil {
			t.Fatalf("%s restored: %v", tc.name, err)
		}
	}
}

// TestALotsChangesAreItsOwnAndEachEntryIsReadOnce: a lot's changes come
// from entries of many packs each, and the checker reads each entry once
// for all its rows (it read, hashed and parsed the whole entry once per
// row: seconds for a lot locked in entries of 1,000 packs). A row whose
// lot was edited into another lot's chain is refused there, not shown as
// proven beside that lot's packs.
func TestALotsChangesAreItsOwnAndEachEntryIsReadOnce(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	mfr := n.client(s.Tokens[net.Manufacturer.GLN])
	reg := n.client(s.Tokens[net.Regulator.GLN])
	gtin, at := net.Packs[0].GTIN, time.Now().Add(-time.Minute)
	var epcs []string
	for i := range 4 {
		epcs = append(epcs, gs1.SGTIN{GTIN: gtin, Serial: fmt.Sprintf("LK%d", i)}.DigitalLink())
	}
	if err := mfr.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json",
		demo.Document(at, demo.Commission(at, net.Manufacturer.GLN, epcs, "LK", net.Packs[0].Expiry)), nil); err != nil {
		t.Fatal(err)
	}
	for _, batch := range [][]string{epcs[:2], epcs[2:4]} {
		if err := mfr.Do(t.Context(), "POST", "/api/v1/decommission", "application/json", map[string]any{"epcs": batch, "status": "locked"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	db, err := n.store.Read(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	subject, err := models.LotSubject(gtin, "LK")
	if err != nil {
		t.Fatal(err)
	}
	cust, err := models.ChainOfCustody(db, subject, models.CustodyQuery{})
	if err != nil || len(cust.Changes) != 4 {
		t.Fatalf("the lot's changes: %v, %+v", err, cust.Changes)
	}
	src := &countingSource{proofSource: n.store}
	var p Provenance
	if err := addLifecycle(src, subject, cust, &p, func(uint64) (*raftstore.InclusionProof, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if src.reads != 2 || len(p.Changes) != 4 {
		t.Fatalf("%d entries read for %d changes of 2 entries", src.reads, len(p.Changes))
	}

	// The second row of an entry is held to it as the first is: its entry
	// is read once, its kind compared all the same.
	lotPath := "/api/v1/provenance/lots/" + gtin + "/LK"
	second := "(SELECT id FROM lifecycle_records WHERE lot = 'LK' ORDER BY id LIMIT 1 OFFSET 1)"
	if err := db.Exec("UPDATE lifecycle_records SET kind = 'undo_decommission' WHERE id = " + second).Error; err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, reg.Do(t.Context(), "GET", lotPath, "", nil, nil), http.StatusInternalServerError, "projection_mismatch")
	if err := db.Exec("UPDATE lifecycle_records SET kind = 'decommission'").Error; err != nil {
		t.Fatal(err)
	}
	if err := reg.Do(t.Context(), "GET", lotPath, "", nil, nil); err != nil {
		t.Fatal(err)
	}
	other := net.Packs[0] // a pack of another lot
	for _, set := range []string{
		"gtin = '" + other.GTIN + "', lot = '" + other.Lot + "'", // the row moved to another lot
	} {
		if err := db.Exec("UPDATE lifecycle_records SET " + set).Error; err != nil {
			t.Fatal(err)
		}
		wantAPIError(t, reg.Do(t.Context(), "GET", "/api/v1/provenance/lots/"+other.GTIN+"/"+url.PathEscape(other.Lot), "", nil, nil),
			http.StatusInternalServerError, "projection_mismatch")
	}
}
