package server

import (
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
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

// TestMetricsMethodLabelIsBounded: a client may send any token as a
// method; each one must not become a series of its own, or anyone could
// grow /metrics (and the process) without bound.
func TestMetricsMethodLabelIsBounded(t *testing.T) {
	r := mustMiddlewareEngine(t, slog.New(slog.DiscardHandler))
	invented := []string{"BREW", "PROPFIND", strings.Repeat("X", 4096)}
	for i := range 50 {
		invented = append(invented, fmt.Sprintf("INVENTED%d", i))
	}
	for _, m := range append(invented, "GET", "get") {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(m, "/ok", nil))
	}
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true, "other": true}
	sawOther := false
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "pedigree_http_") {
			continue
		}
		for _, x := range f.Metric {
			for _, l := range x.GetLabel() {
				if l.GetName() != "method" {
					continue
				}
				if !allowed[l.GetValue()] {
					t.Fatalf("%s has a series for method %.40q", f.GetName(), l.GetValue())
				}
				sawOther = sawOther || l.GetValue() == "other"
			}
		}
	}
	if !sawOther {
		t.Error(`invented methods were not counted as method="other"`)
	}
}

func TestMethodLabel(t *testing.T) {
	for m, want := range map[string]string{
		"GET": "GET", "HEAD": "HEAD", "POST": "POST", "PUT": "PUT", "PATCH": "PATCH", "DELETE": "DELETE", "OPTIONS": "OPTIONS",
		"get": "other", "CONNECT": "other", "TRACE": "other", "BREW": "other", "": "other",
	} {
		if got := methodLabel(m); got != want {
			t.Errorf("methodLabel(%q) = %q, want %q", m, got, want)
		}
	}
}
