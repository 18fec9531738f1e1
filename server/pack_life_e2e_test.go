package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
)

// verifyAnswer is the part of a verification answer the tests read.
type verifyAnswer struct {
	Verdict   string `json:"verdict"`
	Verified  bool   `json:"verified"`
	AlertCode string `json:"alert_code"`
	AlertSeq  uint64 `json:"alert_seq"`
	Pack      *struct {
		Status, Holder, Lot, Expiry string
	} `json:"pack"`
	Signature struct{ Status string } `json:"signature"`
}

func mustVerify(t *testing.T, c *demo.Client, scan string) verifyAnswer {
	t.Helper()
	var v verifyAnswer
	if err := c.Do(context.Background(), "POST", "/api/v1/verify", "application/json", map[string]any{"scan": scan}, &v); err != nil {
		t.Fatalf("verify %q: %v", scan, err)
	}
	return v
}

// TestDemoNetworkSeedsOverHTTP runs the whole fixture story over HTTP on a
// real node: organisations and tokens, products and key, commissioning,
// packing, shipping a pallet, receiving, splitting, dispensing, a recall
// and a falsified scan, which raised exactly one alert.
func TestDemoNetworkSeedsOverHTTP(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 60)
	ctx := context.Background()
	reg := n.client(s.Tokens[net.Regulator.GLN])
	var alerts struct{ Alerts []struct{ Verdict string } }
	if err := reg.Do(ctx, "GET", "/api/v1/alerts", "", nil, &alerts); err != nil {
		t.Fatal(err)
	}
	if len(alerts.Alerts) != 1 || alerts.Alerts[0].Verdict != "unknown_serial" {
		t.Fatalf("alerts = %+v, want one unknown_serial", alerts.Alerts)
	}
	// A pharmacy sees only the alerts it raised or that concern its premises.
	ph1 := n.client(s.Tokens[net.Pharmacy1.GLN])
	if err := ph1.Do(ctx, "GET", "/api/v1/alerts", "", nil, &alerts); err != nil {
		t.Fatal(err)
	}
	if len(alerts.Alerts) != 0 {
		t.Fatalf("pharmacy 1 sees %d alerts of pharmacy 2", len(alerts.Alerts))
	}
}

// TestPackLifeOverHTTP follows packs from commissioning to the counter and
// checks every verdict and every refused transition on a real node.
func TestPackLifeOverHTTP(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 80) // 4 cases: 0 at pharmacy 1, 3 at pharmacy 2, 1 and 2 at the wholesaler
	ctx := context.Background()
	mfr := n.client(s.Tokens[net.Manufacturer.GLN])
	whs := n.client(s.Tokens[net.Wholesaler.GLN])
	ph1 := n.client(s.Tokens[net.Pharmacy1.GLN])
	ph2 := n.client(s.Tokens[net.Pharmacy2.GLN])
	reg := n.client(s.Tokens[net.Regulator.GLN])
	c0, c1, c3 := net.Cases[0], net.Cases[1], net.Cases[3]
	pack := func(i int) demo.Pack { return net.Packs[i] }
	epcs := func(idx ...int) []string { return net.PackEPCs(idx) }
	decommission := func(c *demo.Client, key string, body map[string]any) error {
		return doWithKey(ctx, c, "/api/v1/decommission", key, body)
	}

	t.Run("authentic in the pharmacy's stock", func(t *testing.T) {
		v := mustVerify(t, ph1, pack(c0.Packs[3]).Scan)
		if v.Verdict != "authentic" || !v.Verified || v.AlertSeq != 0 || v.Signature.Status != "valid" {
			t.Fatalf("got %+v", v)
		}
		if v.Pack == nil || v.Pack.Holder != net.Pharmacy1.GLN || v.Pack.Status != "active" || v.Pack.Lot != net.LotA {
			t.Fatalf("pack = %+v", v.Pack)
		}
	})

	t.Run("dispense, double dispense, verify dispensed", func(t *testing.T) {
		i := c0.Packs[4]
		if err := decommission(ph1, "", map[string]any{"epcs": epcs(i), "status": "dispensed"}); err != nil {
			t.Fatal(err)
		}
		err := decommission(ph1, "", map[string]any{"epcs": epcs(i), "status": "dispensed"})
		wantAPIError(t, err, http.StatusConflict, "inactive")
		v := mustVerify(t, ph1, pack(i).Scan)
		if v.Verdict != "already_dispensed" || v.AlertCode != "NMVS_NC_PCK_22" || v.AlertSeq == 0 {
			t.Fatalf("got %+v", v)
		}
	})

	t.Run("undo: same organisation yes, another no, supplied to the public never", func(t *testing.T) {
		i, j := c0.Packs[5], c0.Packs[6]
		if err := decommission(ph1, "", map[string]any{"epcs": epcs(i), "status": "dispensed"}); err != nil {
			t.Fatal(err)
		}
		err := ph2.Do(ctx, "POST", "/api/v1/decommission/undo", "application/json", map[string]any{"epcs": epcs(i)}, nil)
		wantAPIError(t, err, http.StatusForbidden, "")
		if err := ph1.Do(ctx, "POST", "/api/v1/decommission/undo", "application/json", map[string]any{"epcs": epcs(i)}, nil); err != nil {
			t.Fatal(err)
		}
		if v := mustVerify(t, ph1, pack(i).Scan); v.Verdict != "authentic" {
			t.Fatalf("after undo: %+v", v)
		}
		if err := decommission(ph1, "", map[string]any{"epcs": epcs(j), "status": "dispensed", "supplied_to_public": true}); err != nil {
			t.Fatal(err)
		}
		err = ph1.Do(ctx, "POST", "/api/v1/decommission/undo", "application/json", map[string]any{"epcs": epcs(j)}, nil)
		wantAPIError(t, err, http.StatusConflict, "undo_not_allowed")
	})

	t.Run("wrong custodian and wrong organisation", func(t *testing.T) {
		// Pharmacy 2 cannot dispense pharmacy 1's pack.
		err := decommission(ph2, "", map[string]any{"epcs": epcs(c0.Packs[7]), "status": "dispensed"})
		wantAPIError(t, err, http.StatusForbidden, "not_custodian")
		// The wholesaler cannot commission under the manufacturer's prefix.
		p := pack(c0.Packs[0])
		doc := demo.Document(time.Now(), demo.Commission(time.Now(), net.Wholesaler.GLN,
			[]string{demo.PackEPC(p.GTIN, "NEWSERIAL1")}, "X1", p.Expiry))
		err = whs.Do(ctx, "POST", "/epcis/capture", "application/ld+json", doc, nil)
		wantAPIError(t, err, http.StatusForbidden, "")
		// A pharmacy cannot recall.
		err = ph1.Do(ctx, "POST", "/api/v1/recalls", "application/json", map[string]any{"gtin": p.GTIN, "lot": net.LotA}, nil)
		wantAPIError(t, err, http.StatusForbidden, "forbidden")
		// Only an admin registers organisations.
		err = mfr.Do(ctx, "POST", "/api/v1/organisations", "application/json", map[string]any{"id": "4012345000993", "name": "X", "role": "pharmacy"}, nil)
		wantAPIError(t, err, http.StatusForbidden, "forbidden")
	})

	t.Run("receipt by someone the shipment was not for", func(t *testing.T) {
		sscc := demo.SSCCEPC(c1.SSCC)
		ship := demo.Document(time.Now(), demo.Ship(time.Now(), net.Wholesaler.GLN, net.Pharmacy1.GLN, []string{sscc}))
		if err := whs.Do(ctx, "POST", "/epcis/capture", "application/ld+json", ship, nil); err != nil {
			t.Fatal(err)
		}
		rcv := demo.Document(time.Now(), demo.Receive(time.Now(), net.Pharmacy2.GLN, []string{sscc}))
		err := ph2.Do(ctx, "POST", "/epcis/capture", "application/ld+json", rcv, nil)
		wantAPIError(t, err, http.StatusForbidden, "not_destination")
		// In transit to pharmacy 1 and not yet received: not in its custody.
		if v := mustVerify(t, ph1, pack(c1.Packs[0]).Scan); v.Verdict != "not_in_custody" {
			t.Fatalf("in transit: %+v", v)
		}
		rcv = demo.Document(time.Now(), demo.Receive(time.Now(), net.Pharmacy1.GLN, []string{sscc}))
		if err := ph1.Do(ctx, "POST", "/epcis/capture", "application/ld+json", rcv, nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("verdicts", func(t *testing.T) {
		a := pack(c0.Packs[8])
		b := pack(c3.Packs[1]) // lot B, recalled, at pharmacy 2
		unsigned := fmt.Sprintf("(01)%s(17)%s(10)%s(21)%s", a.GTIN, a.ExpiryAI, a.Lot, a.Serial)
		wrongLot, _, err := net.Sign(a.GTIN, a.ExpiryAI, "ZZ99", a.Serial)
		if err != nil {
			t.Fatal(err)
		}
		wrongExp, _, err := net.Sign(a.GTIN, "351231", a.Lot, a.Serial)
		if err != nil {
			t.Fatal(err)
		}
		tampered := a.Scan[:len(a.Scan)-3] + flip(a.Scan[len(a.Scan)-3:])
		if err := decommission(ph1, "", map[string]any{"epcs": epcs(c0.Packs[9]), "status": "destroyed"}); err != nil {
			t.Fatal(err)
		}
		if err := decommission(ph1, "", map[string]any{"epcs": epcs(c0.Packs[10]), "status": "stolen"}); err != nil {
			t.Fatal(err)
		}
		if err := decommission(ph1, "", map[string]any{"epcs": epcs(c0.Packs[11]), "status": "locked"}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, scan string
			as         *demo.Client
			want       string
		}{
			{"authentic", a.Scan, ph1, "authentic"},
			{"unknown product", "(01)04012345000993(21)X1", ph1, "unknown_product"},
			{"unknown serial", s.FalsifiedScan, ph1, "unknown_serial"},
			{"lot mismatch", wrongLot, ph1, "lot_mismatch"},
			{"expiry mismatch", wrongExp, ph1, "expiry_mismatch"},
			{"signature invalid", tampered, ph1, "signature_invalid"},
			{"signature missing", unsigned, ph1, "signature_missing"},
			{"recalled", b.Scan, ph2, "recalled"},
			{"destroyed", pack(c0.Packs[9]).Scan, ph1, "destroyed_or_stolen"},
			{"stolen", pack(c0.Packs[10]).Scan, ph1, "destroyed_or_stolen"},
			{"inactive", pack(c0.Packs[11]).Scan, ph1, "inactive"},
			{"not in custody", a.Scan, ph2, "not_in_custody"},
			{"digital link", a.DigitalLink() + "?17=" + a.ExpiryAI, reg, "signature_missing"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				v := mustVerify(t, tc.as, tc.scan)
				if v.Verdict != tc.want {
					t.Fatalf("verdict %s, want %s (%+v)", v.Verdict, tc.want, v)
				}
				if (tc.want == "authentic") != (v.AlertSeq == 0) {
					t.Fatalf("alert seq %d for verdict %s", v.AlertSeq, v.Verdict)
				}
			})
		}
	})

	t.Run("idempotent retries", func(t *testing.T) {
		// The same document twice: one capture, the same answer.
		sscc := demo.SSCCEPC(net.Cases[2].SSCC)
		doc := demo.Document(time.Now(), demo.Ship(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), net.Wholesaler.GLN, net.Pharmacy2.GLN, []string{sscc}))
		var r1, r2 struct {
			CaptureID string
			Seq       uint64
		}
		if err := whs.Do(ctx, "POST", "/epcis/capture", "application/ld+json", doc, &r1); err != nil {
			t.Fatal(err)
		}
		if err := whs.Do(ctx, "POST", "/epcis/capture", "application/ld+json", doc, &r2); err != nil {
			t.Fatal(err)
		}
		if r1 != r2 || r1.Seq == 0 {
			t.Fatalf("retry answered %+v, first %+v", r2, r1)
		}
		var st struct {
			Success bool
			Seq     uint64
		}
		if err := whs.Do(ctx, "GET", "/epcis/capture/"+r1.CaptureID, "", nil, &st); err != nil {
			t.Fatal(err)
		}
		if !st.Success || st.Seq != r1.Seq {
			t.Fatalf("capture status %+v", st)
		}
		// A retry rebuilt by the client (another creationDate, the same
		// explicit eventID) is the same capture too.
		ev := demo.Receive(time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC), net.Pharmacy2.GLN, []string{sscc})
		ev["eventID"] = "urn:uuid:6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
		var r3, r4 struct {
			CaptureID string
			Seq       uint64
		}
		if err := ph2.Do(ctx, "POST", "/epcis/capture", "application/ld+json", demo.Document(time.Now(), ev), &r3); err != nil {
			t.Fatal(err)
		}
		if err := ph2.Do(ctx, "POST", "/epcis/capture", "application/ld+json", demo.Document(time.Now().Add(time.Hour), ev), &r4); err != nil {
			t.Fatal(err)
		}
		if r3 != r4 {
			t.Fatalf("retry with the same eventID answered %+v, first %+v", r4, r3)
		}
		// Another organisation cannot see it.
		wantAPIError(t, ph1.Do(ctx, "GET", "/epcis/capture/"+r1.CaptureID, "", nil, nil), http.StatusNotFound, "not_found")
		// The same Idempotency-Key twice: one dispense, not a double dispense.
		i := c0.Packs[12]
		body := map[string]any{"epcs": epcs(i), "status": "dispensed"}
		if err := decommission(ph1, "counter-7-sale-991", body); err != nil {
			t.Fatal(err)
		}
		if err := decommission(ph1, "counter-7-sale-991", body); err != nil {
			t.Fatalf("retry with the same Idempotency-Key: %v", err)
		}
		// The key for another pack: refused, not answered as if done,
		// and that pack stays active.
		other := map[string]any{"epcs": epcs(c0.Packs[13]), "status": "destroyed"}
		wantAPIError(t, decommission(ph1, "counter-7-sale-991", other), http.StatusUnprocessableEntity, "idempotency_key_reused")
		if v := mustVerify(t, ph1, pack(c0.Packs[13]).Scan); v.Verdict != "authentic" {
			t.Fatalf("the pack named under a reused key is %s", v.Verdict)
		}
	})

	t.Run("query events", func(t *testing.T) {
		var doc eventQueryDoc
		p := pack(c0.Packs[3])
		q := "/epcis/events?MATCH_epc=" + demo.PackEPC(p.GTIN, p.Serial)
		if err := reg.Do(ctx, "GET", q, "", nil, &doc); err != nil {
			t.Fatal(err)
		}
		var steps []string
		for _, e := range doc.events() {
			steps = append(steps, fmt.Sprint(e["bizStep"]))
		}
		// MATCH_epc looks in epcList and childEPCs: the pack's shipments
		// and receipts named its case, the pallet's unpacking the cases.
		// Its chain of custody (provenance) follows the containers.
		want := "commissioning packing unpacking"
		if got := strings.Join(steps, " "); got != want {
			t.Fatalf("a pack's events: %s, want %s", got, want)
		}
		// Pharmacy 1 sees only its own part of that history.
		if err := ph1.Do(ctx, "GET", q, "", nil, &doc); err != nil {
			t.Fatal(err)
		}
		if got := len(doc.events()); got != 1 {
			t.Fatalf("pharmacy 1 sees %d events naming the pack, want its unpacking", got)
		}
		// The case is the parent where packs went in and came out; it is
		// in the epcList or childEPCs where it was commissioned, packed on
		// and unpacked from the pallet, and shipped on its own. Moving the
		// pallet moved it too, but named only the pallet.
		sscc := demo.SSCCEPC(c0.SSCC)
		for _, tc := range []struct{ query, want string }{
			{"MATCH_parentID=" + sscc, "packing unpacking"},
			{"MATCH_epc=" + sscc, "commissioning packing unpacking shipping receiving"},
			{"MATCH_anyEPC=" + sscc, "commissioning packing packing unpacking shipping receiving unpacking"},
			{"MATCH_parentID=" + sscc + "&MATCH_epc=" + demo.PackEPC(p.GTIN, p.Serial), "packing unpacking"},
		} {
			if err := reg.Do(ctx, "GET", "/epcis/events?"+tc.query, "", nil, &doc); err != nil {
				t.Fatal(err)
			}
			steps = steps[:0]
			for _, e := range doc.events() {
				steps = append(steps, fmt.Sprint(e["bizStep"]))
			}
			if got := strings.Join(steps, " "); got != tc.want {
				t.Errorf("%s: %s, want %s", tc.query, got, tc.want)
			}
		}
	})

	t.Run("provenance with inclusion proofs", func(t *testing.T) {
		p := pack(c0.Packs[3])
		var prov Provenance
		if err := reg.Do(ctx, "GET", "/api/v1/provenance/packs/"+p.GTIN+"/"+p.Serial, "", nil, &prov); err != nil {
			t.Fatal(err)
		}
		if len(prov.Events) != 7 {
			t.Fatalf("%d events", len(prov.Events))
		}
		for _, e := range prov.Events {
			if e.Proof == nil || e.Proof.Seq != e.Seq || !proofHolds(e.Proof, prov.Head.Root) {
				t.Fatalf("event at seq %d: proof does not check against the head", e.Seq)
			}
		}
	})
}

// doWithKey posts JSON with an optional Idempotency-Key.
func doWithKey(ctx context.Context, c *demo.Client, path, key string, body any) error {
	hc := *c
	if key != "" {
		hc.HTTP = &http.Client{Transport: headerTransport{key: key, next: transportOf(c.HTTP)}}
	}
	return hc.Do(ctx, "POST", path, "application/json", body, nil)
}

type headerTransport struct {
	key  string
	next http.RoundTripper
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Idempotency-Key", h.key)
	return h.next.RoundTrip(r)
}

func transportOf(c *http.Client) http.RoundTripper {
	if c == nil || c.Transport == nil {
		return http.DefaultTransport
	}
	return c.Transport
}

// flip changes the characters of a base64url tail so the signature no
// longer matches but stays well formed.
func flip(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}

// TestUndoAfterTenDaysOverHTTP crosses the EU FMD undo window (Delegated
// Regulation 2016/161 Art. 13) on a real node by moving the clock the
// leader stamps record times with: an undo 10 days and an hour after the
// dispense is refused and the pack stays dispensed.
func TestUndoAfterTenDaysOverHTTP(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 20)
	ctx := context.Background()
	ph1 := n.client(s.Tokens[net.Pharmacy1.GLN])
	i := net.Cases[0].Packs[4] // in stock at pharmacy 1 after seeding
	epcs := net.PackEPCs([]int{i})
	if err := ph1.Do(ctx, "POST", "/api/v1/decommission", "application/json", map[string]any{"epcs": epcs, "status": "dispensed"}, nil); err != nil {
		t.Fatal(err)
	}
	n.clock.Advance(9 * 24 * time.Hour)
	if v := mustVerify(t, ph1, net.Packs[i].Scan); v.Verdict != "already_dispensed" {
		t.Fatalf("nine days on: %+v", v)
	}
	n.clock.Advance(24*time.Hour + time.Hour)
	err := ph1.Do(ctx, "POST", "/api/v1/decommission/undo", "application/json", map[string]any{"epcs": epcs}, nil)
	wantAPIError(t, err, http.StatusConflict, "undo_too_late")
	if v := mustVerify(t, ph1, net.Packs[i].Scan); v.Verdict != "already_dispensed" {
		t.Fatalf("after the refused undo: %+v", v)
	}
}
