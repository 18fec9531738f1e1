package server

import (
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAStartingNodeAnswersInTheAPIsForm: while the ledger opens, a
// refused request gets the API's error body with a request id (the
// client's, when sane, as on an open node), /healthz its 200, and
// /metrics the process's metrics, so a scrape of a node that takes
// minutes to open shows its memory rather than a failure.
func TestAStartingNodeAnswersInTheAPIsForm(t *testing.T) {
	h := Starting()
	get := func(path, requestID string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if requestID != "" {
			req.Header.Set("X-Request-Id", requestID)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	for _, tc := range []struct{ path, sent, want string }{
		{"/api/v1/ledger/head", "abc-123", "abc-123"},
		{"/readyz", "", ""},
		{"/epcis/events", "not sane!", ""},
	} {
		w := get(tc.path, tc.sent)
		var body apiErrorBody
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: body %q: %v", tc.path, w.Body, err)
		}
		id := w.Header().Get("X-Request-Id")
		if w.Code != http.StatusServiceUnavailable || body.Error.Code != "starting" || body.Error.Message == "" ||
			w.Header().Get("Retry-After") == "" {
			t.Errorf("%s: HTTP %d %+v, Retry-After %q; want 503 starting with a message and a Retry-After",
				tc.path, w.Code, body.Error, w.Header().Get("Retry-After"))
		}
		if id == "" || body.Error.RequestID != id || tc.want != "" && id != tc.want || tc.want == "" && id == tc.sent {
			t.Errorf("%s sent with request id %q: %q in the header, %q in the body; want %q",
				tc.path, tc.sent, id, body.Error.RequestID, cmp.Or(tc.want, "a new one"))
		}
	}
	if w := get("/healthz", ""); w.Code != http.StatusOK {
		t.Errorf("/healthz: HTTP %d", w.Code)
	}
	w := get("/metrics", "")
	metrics, _ := io.ReadAll(w.Body)
	if w.Code != http.StatusOK || !strings.Contains(string(metrics), "go_memstats_heap_alloc_bytes") {
		t.Errorf("/metrics: HTTP %d, %.200q; want 200 with the Go runtime's metrics", w.Code, metrics)
	}
}
