package server

import (
	"net/http"
	"testing"
)

// TestTheConsistencyAskedIsReadOrRefused: the level comes from the raw
// query, so a value url.Values would drop without a word (one that does
// not decode, or holds ";") is refused, never taken for the default,
// local; so is a second level, and a percent-encoded key counts.
func TestTheConsistencyAskedIsReadOrRefused(t *testing.T) {
	for raw, want := range map[string]string{
		"":                                     "",
		"limit=3":                              "",
		"consistency=leader":                   "leader",
		"%63onsistency=linearizable&limit=3":   "linearizable",
		"consistency=leader;x":                 "leader;x", // then not a level: 400
		"consistency=linearizable%zz":          "error",
		"consistency=leader&consistency=local": "error",
	} {
		got, err := consistencyAsked(raw)
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("%q: %q (%v), want %q", raw, got, err, want)
		}
	}
	n := mustAPINode(t)
	for _, query := range []string{"consistency=linearizable%zz", "consistency=leader;x", "consistency=leader&consistency=bogus%zz"} {
		if status, body := getWith(t, n, "/api/v1/ledger/head?"+query, "", n.adminToken); status != http.StatusBadRequest {
			t.Errorf("?%s: %d %s, want 400", query, status, body)
		}
	}
}
