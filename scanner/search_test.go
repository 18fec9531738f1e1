package scanner

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMedian9 checks the sorting network against a sort, on random values
// and on the all-equal and sorted extremes.
func TestMedian9(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	cases := [][9]uint8{{}, {0, 1, 2, 3, 4, 5, 6, 7, 8}, {8, 7, 6, 5, 4, 3, 2, 1, 0}, {255, 255, 255, 255, 0, 0, 0, 0, 0}}
	for i := 0; i < 20000; i++ {
		var p [9]uint8
		for j := range p {
			p[j] = uint8(rng.IntN(4) * 60) // many ties
			if i%2 == 0 {
				p[j] = uint8(rng.IntN(256))
			}
		}
		cases = append(cases, p)
	}
	for _, p := range cases {
		s := p[:]
		s = slices.Clone(s)
		slices.Sort(s)
		if got := median9(p); got != s[4] {
			t.Fatalf("median9(%v) = %d, want %d", p, got, s[4])
		}
	}
}

func BenchmarkMedian3(b *testing.B) {
	g := randomGray(400, 400)
	for b.Loop() {
		median3(g)
	}
}
