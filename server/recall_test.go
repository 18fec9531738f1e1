package server

import (
	"net/http"
	"testing"
)

// TestRecallRefusesALotOutsideCSET82 checks that the recall API takes a
// lot any pack can carry, parentheses included, and refuses one no pack
// can (GS1 CSET 82 is the character set of AI (10)) before proposing it.
func TestRecallRefusesALotOutsideCSET82(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	mfr := n.client(s.Tokens[net.Manufacturer.GLN])
	recall := func(lot string) error {
		return mfr.Do(t.Context(), "POST", "/api/v1/recalls", "application/json",
			map[string]any{"gtin": net.Products[0].GTIN, "lot": lot}, nil)
	}
	for _, lot := range []string{"L 1", "L#1", "L{1}", "LÖT", "L\x1d1", ""} {
		wantAPIError(t, recall(lot), http.StatusBadRequest, "bad_lot")
	}
	if err := recall("L(21)X"); err != nil {
		t.Fatalf("a CSET 82 lot: %v", err)
	}
}
