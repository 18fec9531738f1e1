package gs1

import (
	"slices"
	"strings"
	"testing"
)

// TestValidateIsLinearInRepeats: an AI may repeat with the same value, and
// a scan of a hundred thousand repeats (only local input: the server caps
// scans at 4096 characters) is validated in one pass over them, not one
// per pair (which took minutes), with the same answers as for one.
func TestValidateIsLinearInRepeats(t *testing.T) {
	const n = 1 << 17
	es := ElementString{{AI: "01", Value: "09506000134352"}}
	for range n {
		es = append(es, Element{AI: "10", Value: "L1"})
	}
	if err := es.Validate(); err != nil {
		t.Fatalf("repeats with one value: %v", err)
	}
	bad := append(slices.Clone(es), Element{AI: "10", Value: "L2"})
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "appears twice with different values") {
		t.Fatalf("a repeat with another value: %v", err)
	}
	alone := append(ElementString{}, es[1:]...)
	if err := alone.Validate(); err == nil || !strings.Contains(err.Error(), "requires") {
		t.Fatalf("lots without their GTIN: %v", err)
	}
}
