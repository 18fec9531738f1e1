package server

import (
	"net/http"
	"testing"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
)

// TestDecommissionLocationMustBeTheCallersPremises: where a pack was
// dispensed is shown to verifiers and regulators, so a decommission or
// undo may name only the caller's premises (as a GLN, an SGLN URI or a
// PGLN URI), as a verification may. A refusal changes nothing.
func TestDecommissionLocationMustBeTheCallersPremises(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	ph1 := n.client(s.Tokens[net.Pharmacy1.GLN])
	verdictOf := func(p demo.Pack) string {
		t.Helper()
		var v struct{ Verdict string }
		if err := ph1.Do(t.Context(), "POST", "/api/v1/verify", "application/json", map[string]any{"scan": p.HRI}, &v); err != nil {
			t.Fatal(err)
		}
		return v.Verdict
	}
	var held []demo.Pack
	for _, p := range net.Packs {
		if len(held) < 2 && verdictOf(p) == "authentic" {
			held = append(held, p)
		}
	}
	if len(held) < 2 {
		t.Fatal("pharmacy 1 holds fewer than two authentic packs")
	}
	post := func(path string, p demo.Pack, loc string) error {
		t.Helper()
		body := map[string]any{"epcs": []string{demo.PackEPC(p.GTIN, p.Serial)}, "location": loc}
		if path == "/api/v1/decommission" {
			body["status"] = "dispensed"
		}
		return ph1.Do(t.Context(), "POST", path, "application/json", body, nil)
	}
	for _, tc := range []struct {
		name, loc string
		status    int
	}{
		{"another pharmacy's GLN", net.Pharmacy2.GLN, http.StatusForbidden},
		{"another pharmacy's SGLN", demo.SGLN(net.Pharmacy2.GLN), http.StatusForbidden},
		{"a stranger's GLN", glnOf("4099999", 1), http.StatusForbidden},
		{"not a location", "the back room", http.StatusBadRequest},
	} {
		wantAPIError(t, post("/api/v1/decommission", held[0], tc.loc), tc.status, "bad_location")
		if v := verdictOf(held[0]); v != "authentic" {
			t.Fatalf("after a dispense at %s was refused: %s", tc.name, v)
		}
	}

	// At its own premises, by GLN or SGLN; an undo elsewhere is refused.
	if err := post("/api/v1/decommission", held[0], net.Pharmacy1.GLN); err != nil {
		t.Fatal(err)
	}
	if err := post("/api/v1/decommission", held[1], demo.SGLN(net.Pharmacy1.GLN)); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, post("/api/v1/decommission/undo", held[0], net.Pharmacy2.GLN), http.StatusForbidden, "bad_location")
	if v := verdictOf(held[0]); v != "already_dispensed" {
		t.Fatalf("after an undo elsewhere was refused: %s", v)
	}
	if err := post("/api/v1/decommission/undo", held[0], net.Pharmacy1.GLN); err != nil {
		t.Fatal(err)
	}
	if v := verdictOf(held[0]); v != "authentic" {
		t.Fatalf("after the undo: %s", v)
	}
}
