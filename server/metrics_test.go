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
