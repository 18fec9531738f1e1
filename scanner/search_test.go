package scanner

import (
	"image"
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

// strided copies g into an image whose rows are padded, as image/jpeg
// returns them.
func strided(g *image.Gray, pad int) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	out := &image.Gray{Pix: make([]uint8, (w+pad)*h), Stride: w + pad, Rect: g.Rect}
	for i := range out.Pix {
		out.Pix[i] = 0x55 // garbage in the padding must not show
	}
	for y := 0; y < h; y++ {
		copy(out.Pix[y*out.Stride:], g.Pix[y*g.Stride:y*g.Stride+w])
	}
	return out
}

func sameGray(a, b *image.Gray) bool {
	if a.Rect != b.Rect {
		return false
	}
	for y := 0; y < a.Rect.Dy(); y++ {
		w := a.Rect.Dx()
		if !slices.Equal(a.Pix[y*a.Stride:y*a.Stride+w], b.Pix[y*b.Stride:y*b.Stride+w]) {
			return false
		}
	}
	return true
}

// TestImageOpsHonourStride: every view gives the same result on an image
// with padded rows as on a compact one. A stride bug once made low-contrast
// JPEG photos panic inside the ladder.
func TestImageOpsHonourStride(t *testing.T) {
	g := randomGray(61, 47)
	p := strided(g, 7)
	ops := map[string]func(*image.Gray) *image.Gray{
		"toGray":    func(g *image.Gray) *image.Gray { return toGray(g) },
		"stretch":   stretch,
		"sharpen":   sharpen,
		"median3":   median3,
		"upscale2":  upscale2,
		"downscale": func(g *image.Gray) *image.Gray { return downscale(g, 2) },
		"rotate":    func(g *image.Gray) *image.Gray { return rotate(g, 0.3) },
		"pad":       func(g *image.Gray) *image.Gray { return pad(g, 5) },
		"crop":      func(g *image.Gray) *image.Gray { return cropGray(g, image.Rect(3, 4, 40, 30)) },
	}
	for name, op := range ops {
		if !sameGray(op(g), op(p)) {
			t.Errorf("%s differs on a strided image", name)
		}
	}
	if noisy(g) != noisy(p) || darkBorder(g) != darkBorder(p) {
		t.Error("noisy or darkBorder differs on a strided image")
	}
	lo1, hi1 := percentiles(g)
	lo2, hi2 := percentiles(p)
	if lo1 != lo2 || hi1 != hi2 {
		t.Error("percentiles differ on a strided image")
	}
	if c1, c2 := candidates(g, 4), candidates(p, 4); !slices.Equal(c1, c2) {
		t.Errorf("candidates differ: %v vs %v", c1, c2)
	}
}
