package server

import (
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
