package gs1

import (
	"math/rand/v2"
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

// TestHRIEscapesParenthesesInValues: CSET 82 allows "(" in a lot or
// serial, and HRI writes it "\(" so the text reads back as the same pack.
// Unescaped, the serial "A(10)L1" read back as the serial "A" with the lot
// "L1", another pack.
func TestHRIEscapesParenthesesInValues(t *testing.T) {
	const gtin = "(01)09506000134352"
	tests := []struct {
		lot, serial, hri string
	}{
		{"L1", "A(10)L1", gtin + `(10)L1(21)A\(10)L1`},
		{"(", "(21)", gtin + `(10)\((21)\(21)`},
		{"L((", "x)(y", gtin + `(10)L\(\((21)x)\(y`},
		{"B)2", "S1", gtin + "(10)B)2(21)S1"},
	}
	for _, tt := range tests {
		es := ElementString{{AI: "01", Value: "09506000134352"}, {AI: "10", Value: tt.lot}, {AI: "21", Value: tt.serial}}
		if err := es.Validate(); err != nil {
			t.Fatalf("%v: %v", es, err)
		}
		if got := es.HRI(); got != tt.hri {
			t.Errorf("lot %q serial %q: HRI %s, want %s", tt.lot, tt.serial, got, tt.hri)
		}
		for name, parse := range map[string]func(string) (ElementString, error){"ParseBracketed": ParseBracketed, "ParseScan": ParseScan} {
			if back, err := parse(es.HRI()); err != nil || !slices.Equal(back, es) {
				t.Errorf("%s(%s) = %v, %v; want %v", name, es.HRI(), back, err, es)
			}
		}
	}
}

// TestHRIReadsBackAsTheSameElements is the property behind HRI over many
// generated element strings: values of every character CSET 82 allows,
// with "(" and ")" frequent, in AIs of any order.
func TestHRIReadsBackAsTheSameElements(t *testing.T) {
	rng := rand.New(rand.NewPCG(717, 8030))
	value := func() string {
		b := make([]byte, 1+rng.IntN(20))
		for i := range b {
			if rng.IntN(3) == 0 {
				b[i] = "()"[rng.IntN(2)]
			} else {
				b[i] = cset82[rng.IntN(len(cset82))]
			}
		}
		return string(b)
	}
	for range 2000 {
		es := ElementString{{AI: "01", Value: "09506000134352"}}
		for _, ai := range []string{"10", "21", "22", "240", "710", "717"} {
			if rng.IntN(2) == 0 {
				es = append(es, Element{AI: ai, Value: value()})
			}
		}
		rng.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
		if err := es.Validate(); err != nil {
			t.Fatalf("generated %v: %v", es, err)
		}
		back, err := ParseBracketed(es.HRI())
		if err != nil || !slices.Equal(back, es) {
			t.Fatalf("%v -> %s -> %v, %v", es, es.HRI(), back, err)
		}
	}
}
