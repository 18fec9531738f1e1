package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestARetriedTokenIssueNeverAnswersATokenThatDoesNotWork: a token is
// random, so a retry under the same Idempotency-Key is not the first
// request again. It must not answer a new token the ledger never stored
// (which would fail on first use); it says the key was used, and the
// token the first request issued keeps working.
func TestARetriedTokenIssueNeverAnswersATokenThatDoesNotWork(t *testing.T) {
	n := mustAPINode(t)
	issue := func() (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest("POST", n.srv.URL+"/api/v1/organisations/admin/tokens", strings.NewReader(`{"label":"till 2"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+n.adminToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "till-2-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}
	st, first := issue()
	if st != http.StatusCreated {
		t.Fatalf("first issue: %d %v", st, first)
	}
	st, again := issue()
	if st != http.StatusUnprocessableEntity || !strings.Contains(again["error"].(map[string]any)["code"].(string), "idempotency_key_reused") {
		t.Fatalf("retry: %d %v", st, again)
	}
	tok, _ := first["token"].(string)
	if st, _ := call(t, n.srv.URL, "GET", "/api/v1/ledger/head", tok, nil, nil); st != http.StatusOK {
		t.Fatalf("the first token: %d", st)
	}
}

// TestOneIdempotencyKeyOnSeveralScansRaisesEachScansAlertOnce: a till may
// send its sale's id as the Idempotency-Key of every verification in the
// sale. Each suspect scan then gets its verdict and its own alert, and a
// retry of one of them (same key, same scan) gets the alert it raised
// first without recording another; that is what the key is for.
func TestOneIdempotencyKeyOnSeveralScansRaisesEachScansAlertOnce(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	ctx := context.Background()
	ph1 := n.client(s.Tokens[net.Pharmacy1.GLN])
	p := net.Packs[net.Cases[0].Packs[3]]
	verifyInSale := func(serial string) verifyAnswer {
		t.Helper()
		scan := "(01)" + p.GTIN + "(17)" + p.ExpiryAI + "(10)" + p.Lot + "(21)" + serial
		hc := *ph1
		hc.HTTP = &http.Client{Transport: headerTransport{key: "sale-42", next: transportOf(ph1.HTTP)}}
		var v verifyAnswer
		if err := hc.Do(ctx, "POST", "/api/v1/verify", "application/json", map[string]any{"scan": scan}, &v); err != nil {
			t.Fatalf("verify %s in sale-42: %v", serial, err)
		}
		if v.Verdict != "unknown_serial" || v.AlertSeq == 0 {
			t.Fatalf("verify %s in sale-42: %+v, want unknown_serial with an alert", serial, v)
		}
		return v
	}
	first := verifyInSale("FAKE0001")
	second := verifyInSale("FAKE0002")
	retry := verifyInSale("FAKE0001")
	if second.AlertSeq == first.AlertSeq {
		t.Fatalf("two scans share the alert at seq %d", first.AlertSeq)
	}
	if retry.AlertSeq != first.AlertSeq {
		t.Fatalf("the retried scan's alert is at seq %d, the first at %d", retry.AlertSeq, first.AlertSeq)
	}
	var list struct{ Alerts []struct{ Serial string } }
	if err := n.client(s.Tokens[net.Regulator.GLN]).Do(ctx, "GET", "/api/v1/alerts", "", nil, &list); err != nil {
		t.Fatal(err)
	}
	raised := map[string]int{}
	for _, a := range list.Alerts {
		raised[a.Serial]++
	}
	if raised["FAKE0001"] != 1 || raised["FAKE0002"] != 1 {
		t.Fatalf("alerts by serial: %v, want one for each scan", raised)
	}
}
