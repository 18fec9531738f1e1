package server

import (
	"io"
	"strings"
	"testing"
)

// TestMetricsCountRequestsPerRoute checks that /metrics exposes the request
// counter and latency histogram labelled by route pattern.
func TestMetricsCountRequestsPerRoute(t *testing.T) {
	n := mustAPINode(t)
	c := n.client(n.adminToken)
	if err := c.Do(t.Context(), "GET", "/api/v1/recalls", "", nil, nil); err != nil {
		t.Fatal(err)
	}
	resp, err := n.srv.Client().Get(n.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`pedigree_http_requests_total{code="200",method="GET",route="/api/v1/recalls"}`,
		`pedigree_http_request_duration_seconds_bucket{method="GET",route="/api/v1/recalls",le="0.005"}`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestMetricsCountVerifyReadsBySource: a verification of a pack the verify
// index holds counts as read from the index, one of a serial it does not
// hold (here, one not on the ledger) as read from SQLite.
func TestMetricsCountVerifyReadsBySource(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 80)
	c := n.client(s.Tokens[net.Regulator.GLN])
	index, sqlite := verifyReads()[1], verifyReads()[0]
	verify := func(scan, want string) {
		t.Helper()
		var v struct {
			Verdict string `json:"verdict"`
		}
		if err := c.Do(t.Context(), "POST", "/api/v1/verify", "text/plain", []byte(scan), &v); err != nil || v.Verdict != want {
			t.Fatalf("verify %s: %+v, %v; want %s", scan, v, err, want)
		}
	}
	i0, s0 := mustCounterValue(t, index), mustCounterValue(t, sqlite)
	verify(authenticScans(net)[0], "authentic")
	if i, s := mustCounterValue(t, index)-i0, mustCounterValue(t, sqlite)-s0; i != 1 || s != 0 {
		t.Fatalf("a seeded pack's verification counted %v from the index and %v from SQLite, want 1 and 0", i, s)
	}
	verify("(01)"+net.Packs[0].GTIN+"(21)NOT-ON-THE-LEDGER", "unknown_serial")
	if i, s := mustCounterValue(t, index)-i0, mustCounterValue(t, sqlite)-s0; i != 1 || s != 1 {
		t.Fatalf("an unknown serial counted %v from the index and %v from SQLite, want 1 and 1", i, s)
	}
}
