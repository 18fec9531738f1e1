package scanner

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/makiuchi-d/gozxing"
)

// The retry ladder. gozxing's DataMatrix reader makes one attempt with what
// it is given: it ignores TRY_HARDER, does not invert, and its detector
// grows a white rectangle out from the image centre. Real photos need more,
// so run tries views of the image from cheapest to dearest and stops at
// the first DataMatrix or Digital Link it reads:
//
//  1. the image (downscaled first if it is a large photo) with the hybrid
//     binarizer: pure-symbol fast path, detector, QR. A clean label ends
//     here in about a millisecond. Inverted first when the frame is dark;
//  2. a 3x3 median, first when the image looks speckled;
//  3. candidate regions found by local contrast, cropped (and upscaled
//     when small), so a symbol away from the centre of a cluttered photo
//     is at the centre of its crop; before step 4 for large frames;
//  4. the global histogram binarizer, and inversion for light-on-dark marks;
//  5. 2x upscaling for symbols under ~3 pixels per module;
//  6. the median (if not tried), an unsharp mask for blur, 2x downscaling,
//     4x upscaling of tiny images, a restored quiet zone, 45° rotation;
//  7. the full-resolution photo, when step 1 used a downscaled one.
const (
	workMaxSide   = 1400 // longest side of the first working view
	maxCandidates = 4
)

func (s *search) run() (*Result, error) {
	base := s.gray
	if side := max(base.Rect.Dx(), base.Rect.Dy()); side > workMaxSide {
		base = downscale(base, (side+workMaxSide-1)/workMaxSide)
	}
	smallSide := min(base.Rect.Dx(), base.Rect.Dy())
	large := base.Rect.Dx()*base.Rect.Dy() >= 400_000
	// Whether the image looks speckled, worked out only when the first
	// view has failed, so a clean scan does not pay for it.
	speckled := sync.OnceValue(func() bool { return noisy(base) })
	steps := []func() *Result{
		// The hybrid binarizer alone first: it reads clean symbols in a
		// millisecond, and for a large cluttered photo the crops below are
		// a better next bet than other binarizers on the whole frame.
		func() *Result { return s.tryView(base, "base", true, 0, 1) },
		func() *Result {
			// Speckle defeats the binarizers but not a median; when the
			// image looks noisy, that is the likeliest fix, so try it early.
			if !speckled() {
				return nil
			}
			return s.tryView(median3(base), "median", false)
		},
		func() *Result {
			if !large {
				return nil // small enough: the other binarizers come first
			}
			return s.tryCandidates(base, "base")
		},
		func() *Result { return s.tryView(base, "base", true, 1, 3) },
		func() *Result {
			if large {
				return nil // tried above
			}
			return s.tryCandidates(base, "base")
		},
		func() *Result {
			if lo, hi := percentiles(base); hi-lo > 96 {
				return nil // contrast is fine
			}
			return s.tryView(stretch(base), "stretch", false)
		},
		func() *Result {
			if smallSide > 700 {
				return nil // modules this big need no upscaling
			}
			return s.tryView(upscale2(base), "up2", false)
		},
		func() *Result {
			if speckled() {
				return nil // tried above
			}
			return s.tryView(median3(base), "median", false)
		},
		func() *Result { return s.tryView(sharpen(base), "sharpen", false) },
		func() *Result {
			if smallSide < 120 {
				return nil
			}
			return s.tryView(downscale(base, 2), "down2", false)
		},
		func() *Result {
			if smallSide > 400 {
				return nil
			}
			return s.tryView(upscale2(upscale2(base)), "up4", false)
		},
		func() *Result {
			// A symbol that touches the frame has lost its quiet zone;
			// give it one back.
			if smallSide > 1200 {
				return nil
			}
			return s.tryView(pad(base, max(8, smallSide/8)), "pad", false)
		},
		func() *Result { return s.tryView(rotate(base, math.Pi/4), "rot45", false) },
		func() *Result {
			if base == s.gray {
				return nil
			}
			if r := s.tryView(s.gray, "full", false); r != nil {
				return r
			}
			return s.tryCandidates(s.gray, "full")
		},
	}
	for _, step := range steps {
		if s.done() {
			break
		}
		if r := step(); r != nil {
			return finish(r)
		}
	}
	if s.nonGS1 != nil {
		return finish(s.nonGS1)
	}
	return nil, s.fail()
}

// tryView runs the binarizers and readers over one view. first adds the
// pure-symbol fast path, which only an undistorted image can pass. span,
// when given as [from, to), runs only those attempts, so the first view
// can be split around the crops.
func (s *search) tryView(g *image.Gray, name string, first bool, span ...int) *Result {
	src := luminance(g)
	// The global histogram binarizer is a second opinion for DataMatrix
	// only: QR and the pure fast path gain nothing from it.
	type attempt struct {
		bin      func(gozxing.LuminanceSource) gozxing.Binarizer
		invert   bool
		binName  string
		pure, qr bool
	}
	attempts := []attempt{
		{gozxing.NewHybridBinarizer, false, "hybrid", first, true},
		{gozxing.NewGlobalHistgramBinarizer, false, "global", false, false},
		{gozxing.NewHybridBinarizer, true, "hybrid-inverted", first, true},
	}
	if darkBorder(g) {
		// Light-on-dark marks (laser etching, dark cartons) sit on a dark
		// background: try the inverted view first.
		attempts[0], attempts[2] = attempts[2], attempts[0]
	}
	if len(span) == 2 {
		// Only attempts span[0] to span[1]-1, in the order above.
		attempts = attempts[span[0]:span[1]]
	}
	for _, a := range attempts {
		if s.done() {
			return nil
		}
		ls := src
		if a.invert {
			ls = gozxing.NewInvertedLuminanceSource(src)
		}
		bm, err := gozxing.NewBinaryBitmap(a.bin(ls))
		if err != nil {
			continue
		}
		strategy := name + "/" + a.binName
		if a.pure {
			if r := s.tryDM(bm, true, strategy+"/pure"); r != nil && s.accept(r) {
				return r
			}
		}
		if r := s.tryDM(bm, false, strategy); r != nil && s.accept(r) {
			return r
		}
		if a.qr {
			if r := s.tryQR(bm, strategy+"/qr"); r != nil && s.accept(r) {
				return r
			}
		}
	}
	return nil
}

// tryCandidates crops regions that look like a symbol and retries on each.
func (s *search) tryCandidates(g *image.Gray, name string) *Result {
	for i, rect := range candidates(g, maxCandidates) {
		if s.done() {
			return nil
		}
		crop := cropGray(g, rect)
		cname := fmt.Sprintf("%s/crop%d", name, i)
		// Cheapest first within a crop too: the hybrid binarizer, then (for
		// a small crop, whose modules may be under 3 pixels) the same
		// upscaled, then the other binarizers on both.
		var up *image.Gray
		if min(crop.Rect.Dx(), crop.Rect.Dy()) < 300 {
			up = upscale2(crop)
		}
		if r := s.tryView(crop, cname, false, 0, 1); r != nil {
			return r
		}
		if up != nil {
			if r := s.tryView(up, cname+"/up2", false, 0, 1); r != nil {
				return r
			}
		}
		if r := s.tryView(crop, cname, false, 1, 3); r != nil {
			return r
		}
		if up != nil {
			if r := s.tryView(up, cname+"/up2", false, 1, 3); r != nil {
				return r
			}
		}
	}
	return nil
}

// darkBorder reports whether the image's outer frame is mostly dark, a
// sign of a light-on-dark symbol.
func darkBorder(g *image.Gray) bool {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	if w < 4 || h < 4 {
		return false
	}
	sum, n := 0, 0
	for x := 0; x < w; x++ {
		sum += int(g.Pix[x]) + int(g.Pix[(h-1)*g.Stride+x])
		n += 2
	}
	for y := 0; y < h; y++ {
		sum += int(g.Pix[y*g.Stride]) + int(g.Pix[y*g.Stride+w-1])
		n += 2
	}
	return sum/n < 96
}

// luminance wraps a gray image as a gozxing luminance source without
// copying the pixels.
func luminance(g *image.Gray) gozxing.LuminanceSource {
	src, err := gozxing.NewPlanarYUVLuminanceSource(g.Pix, g.Stride, g.Rect.Dy(), 0, 0, g.Rect.Dx(), g.Rect.Dy(), false)
	if err != nil {
		// Unreachable for images made by toGray; fall back to a copy.
		return gozxing.NewLuminanceSourceFromImage(g)
	}
	return src
}

// toGray converts any image to 8-bit luminance with its origin at (0,0),
// with fast paths for the types the standard decoders produce.
func toGray(img image.Image) *image.Gray {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if g, ok := img.(*image.Gray); ok && b.Min == (image.Point{}) {
		return g // already what the search wants; no view writes to its input
	}
	out := image.NewGray(image.Rect(0, 0, w, h))
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			copy(out.Pix[y*w:(y+1)*w], m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):])
		}
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			copy(out.Pix[y*w:(y+1)*w], m.Y[m.YOffset(b.Min.X, b.Min.Y+y):])
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			p := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				r, g, bl, a := int(p[4*x]), int(p[4*x+1]), int(p[4*x+2]), int(p[4*x+3])
				l := (299*r + 587*g + 114*bl) / 1000
				out.Pix[y*w+x] = uint8((l*a + 255*(255-a)) / 255)
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			p := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				r, g, bl, a := int(p[4*x]), int(p[4*x+1]), int(p[4*x+2]), int(p[4*x+3])
				// Premultiplied: composite over white.
				out.Pix[y*w+x] = uint8(min(255, (299*r+587*g+114*bl)/1000+255-a))
			}
		}
	case *image.Paletted:
		lut := make([]uint8, len(m.Palette))
		for i, c := range m.Palette {
			lut[i] = grayOverWhite(c)
		}
		for y := 0; y < h; y++ {
			p := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				out.Pix[y*w+x] = lut[p[x]]
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				out.Pix[y*w+x] = grayOverWhite(img.At(b.Min.X+x, b.Min.Y+y))
			}
		}
	}
	return out
}

// grayOverWhite composites a colour over white and takes its luminance, so
// transparent backgrounds read as paper.
func grayOverWhite(c color.Color) uint8 {
	r, g, b, a := c.RGBA()
	l := (299*r + 587*g + 114*b) / 1000
	return uint8((l + 0xffff - a) >> 8)
}

// downscale shrinks by an integer factor with a box filter, which also
// averages away sensor noise.
func downscale(g *image.Gray, f int) *image.Gray {
	if f <= 1 {
		return g
	}
	w, h := g.Rect.Dx()/f, g.Rect.Dy()/f
	out := image.NewGray(image.Rect(0, 0, max(w, 1), max(h, 1)))
	sums := make([]int, out.Rect.Dx())
	n := f * f
	for y := 0; y < h; y++ {
		clear(sums)
		for yy := y * f; yy < y*f+f; yy++ {
			row := g.Pix[yy*g.Stride:]
			for x := 0; x < w; x++ {
				s := 0
				for _, v := range row[x*f : x*f+f] {
					s += int(v)
				}
				sums[x] += s
			}
		}
		for x := 0; x < w; x++ {
			out.Pix[y*out.Stride+x] = uint8(sums[x] / n)
		}
	}
	return out
}

// upscale2 doubles the size with bilinear interpolation, giving the
// binarizer and sampler more than one pixel per module to work with.
func upscale2(g *image.Gray) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	out := image.NewGray(image.Rect(0, 0, 2*w, 2*h))
	at := func(x, y int) int {
		x = min(max(x, 0), w-1)
		y = min(max(y, 0), h-1)
		return int(g.Pix[y*g.Stride+x])
	}
	for y := 0; y < 2*h; y++ {
		sy, fy := (y-1)/2, (y-1)%2 // sample centres at (2k+1)/2 in source pixels
		if y == 0 {
			sy, fy = -1, 1
		}
		for x := 0; x < 2*w; x++ {
			sx, fx := (x-1)/2, (x-1)%2
			if x == 0 {
				sx, fx = -1, 1
			}
			a, b := at(sx, sy), at(sx+1, sy)
			c, d := at(sx, sy+1), at(sx+1, sy+1)
			// weights 3:1 / 1:3 for the two sub-positions
			wx0, wy0 := 3-2*fx, 3-2*fy
			wx1, wy1 := 4-wx0, 4-wy0
			v := (a*wx0*wy0 + b*wx1*wy0 + c*wx0*wy1 + d*wx1*wy1 + 8) / 16
			out.Pix[y*out.Stride+x] = uint8(v)
		}
	}
	return out
}

// noisy estimates whether speckle is present: the share of sampled
// pixels that stand out from both horizontal neighbours in the same
// direction, which module edges (at least two pixels wide) never do.
func noisy(g *image.Gray) bool {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	if w < 8 || h < 8 {
		return false
	}
	spikes, n := 0, 0
	for y := 1; y < h-1; y += 3 {
		row := g.Pix[y*g.Stride : y*g.Stride+w]
		for x := 1; x < w-1; x++ {
			a, b, c := int(row[x-1]), int(row[x]), int(row[x+1])
			if (b-a > 40 && b-c > 40) || (a-b > 40 && c-b > 40) {
				spikes++
			}
			n++
		}
	}
	return spikes*200 > n // more than 0.5%
}

// percentiles returns the 1st and 99th percentile of brightness.
func percentiles(g *image.Gray) (lo, hi int) {
	var hist [256]int
	w, h := g.Rect.Dx(), g.Rect.Dy()
	for y := 0; y < h; y += 2 {
		for _, v := range g.Pix[y*g.Stride : y*g.Stride+w] {
			hist[v]++
		}
	}
	total := 0
	for _, c := range hist {
		total += c
	}
	acc := 0
	lo, hi = -1, 255
	for v, c := range hist {
		acc += c
		if lo < 0 && acc*100 >= total {
			lo = v
		}
		if acc*100 >= total*99 {
			hi = v
			break
		}
	}
	return max(lo, 0), hi
}

// stretch maps the 1st..99th percentile of brightness onto 0..255, so a
// washed-out photo regains the contrast the binarizers expect.
func stretch(g *image.Gray) *image.Gray {
	lo, hi := percentiles(g)
	if hi <= lo {
		return g
	}
	var lut [256]uint8
	for v := range lut {
		lut[v] = uint8(min(255, max(0, (v-lo)*255/(hi-lo))))
	}
	out := image.NewGray(g.Rect)
	for i, v := range g.Pix {
		out.Pix[i] = lut[v]
	}
	return out
}

// sharpen is an unsharp mask, which restores the module edges a defocused
// camera smears.
func sharpen(g *image.Gray) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	out := image.NewGray(g.Rect)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			sum, n := 0, 0
			for dy := -2; dy <= 2; dy++ {
				yy := min(max(y+dy, 0), h-1)
				for dx := -2; dx <= 2; dx++ {
					xx := min(max(x+dx, 0), w-1)
					sum += int(g.Pix[yy*g.Stride+xx])
					n++
				}
			}
			v := int(g.Pix[y*g.Stride+x])
			out.Pix[y*out.Stride+x] = uint8(min(255, max(0, v+2*(v-sum/n))))
		}
	}
	return out
}

// median3 is a 3x3 median filter, which removes salt-and-pepper speckle
// without blurring module edges the way a mean would.
func median3(g *image.Gray) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	out := image.NewGray(g.Rect)
	copy(out.Pix, g.Pix)
	for y := 1; y < h-1; y++ {
		r0 := g.Pix[(y-1)*g.Stride:]
		r1 := g.Pix[y*g.Stride:]
		r2 := g.Pix[(y+1)*g.Stride:]
		dst := out.Pix[y*out.Stride:]
		for x := 1; x < w-1; x++ {
			dst[x] = median9([9]uint8{
				r0[x-1], r0[x], r0[x+1],
				r1[x-1], r1[x], r1[x+1],
				r2[x-1], r2[x], r2[x+1],
			})
		}
	}
	return out
}

// median9 finds the median of nine values with a fixed network of 19
// compare-exchanges (the classic opt_med9), several times faster than
// sorting: the median filter runs on every pixel of noisy photos.
func median9(p [9]uint8) uint8 {
	p0, p1, p2, p3, p4, p5, p6, p7, p8 := p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8]
	p1, p2 = min(p1, p2), max(p1, p2)
	p4, p5 = min(p4, p5), max(p4, p5)
	p7, p8 = min(p7, p8), max(p7, p8)
	p0, p1 = min(p0, p1), max(p0, p1)
	p3, p4 = min(p3, p4), max(p3, p4)
	p6, p7 = min(p6, p7), max(p6, p7)
	p1, p2 = min(p1, p2), max(p1, p2)
	p4, p5 = min(p4, p5), max(p4, p5)
	p7, p8 = min(p7, p8), max(p7, p8)
	p0, p3 = min(p0, p3), max(p0, p3)
	p5, p8 = min(p5, p8), max(p5, p8)
	p4, p7 = min(p4, p7), max(p4, p7)
	p3, p6 = min(p3, p6), max(p3, p6)
	p1, p4 = min(p1, p4), max(p1, p4)
	p2, p5 = min(p2, p5), max(p2, p5)
	p4, p7 = min(p4, p7), max(p4, p7)
	p4, p2 = min(p4, p2), max(p4, p2)
	p6, p4 = min(p6, p4), max(p6, p4)
	p4, p2 = min(p4, p2), max(p4, p2)
	_, _, _, _ = p0, p3, p6, p8 // fully ordered away from the median
	return p4
}

// rotate turns the image by angle radians about its centre onto a canvas
// big enough to hold it, filling the corners with the image's mean so
// they do not look like a dark frame.
func rotate(g *image.Gray, angle float64) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	cos, sin := math.Cos(angle), math.Sin(angle)
	nw := int(math.Abs(float64(w)*cos) + math.Abs(float64(h)*sin) + 1)
	nh := int(math.Abs(float64(w)*sin) + math.Abs(float64(h)*cos) + 1)
	out := image.NewGray(image.Rect(0, 0, nw, nh))
	fill := uint8(255)
	cx, cy := float64(w)/2, float64(h)/2
	ncx, ncy := float64(nw)/2, float64(nh)/2
	for y := 0; y < nh; y++ {
		for x := 0; x < nw; x++ {
			dx, dy := float64(x)+0.5-ncx, float64(y)+0.5-ncy
			sx := cos*dx + sin*dy + cx - 0.5
			sy := -sin*dx + cos*dy + cy - 0.5
			out.Pix[y*out.Stride+x] = bilinear(g, sx, sy, fill)
		}
	}
	return out
}

func bilinear(g *image.Gray, x, y float64, fill uint8) uint8 {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	if x < -0.5 || y < -0.5 || x > float64(w)-0.5 || y > float64(h)-0.5 {
		return fill
	}
	x0, y0 := int(math.Floor(x)), int(math.Floor(y))
	fx, fy := x-float64(x0), y-float64(y0)
	at := func(x, y int) float64 {
		x = min(max(x, 0), w-1)
		y = min(max(y, 0), h-1)
		return float64(g.Pix[y*g.Stride+x])
	}
	v := at(x0, y0)*(1-fx)*(1-fy) + at(x0+1, y0)*fx*(1-fy) + at(x0, y0+1)*(1-fx)*fy + at(x0+1, y0+1)*fx*fy
	return uint8(v + 0.5)
}

// pad surrounds the image with a margin of its own border's brightness.
func pad(g *image.Gray, m int) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	out := image.NewGray(image.Rect(0, 0, w+2*m, h+2*m))
	fill := uint8(255)
	if darkBorder(g) {
		fill = 0
	}
	for i := range out.Pix {
		out.Pix[i] = fill
	}
	for y := 0; y < h; y++ {
		copy(out.Pix[(y+m)*out.Stride+m:], g.Pix[y*g.Stride:y*g.Stride+w])
	}
	return out
}

func cropGray(g *image.Gray, r image.Rectangle) *image.Gray {
	out := image.NewGray(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(out, out.Rect, g, r.Min, draw.Src)
	return out
}

// candidates finds up to n regions that may hold a symbol: connected
// groups of blocks with strong local contrast, ranked by how densely and
// squarely they are filled, each padded by a quiet-zone margin.
func candidates(g *image.Gray, n int) []image.Rectangle {
	const bs = 8
	w, h := g.Rect.Dx(), g.Rect.Dy()
	bw, bh := w/bs, h/bs
	if bw < 3 || bh < 3 {
		return nil
	}
	lo, hi := 255, 0
	contrast := make([]int, bw*bh)
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			mn, mx := 255, 0
			for y := by * bs; y < by*bs+bs; y++ {
				for _, v := range g.Pix[y*g.Stride+bx*bs : y*g.Stride+bx*bs+bs] {
					mn, mx = min(mn, int(v)), max(mx, int(v))
				}
			}
			contrast[by*bw+bx] = mx - mn
			lo, hi = min(lo, mn), max(hi, mx)
		}
	}
	thr := max((hi-lo)/3, 24)
	mark := make([]bool, bw*bh)
	for i, c := range contrast {
		mark[i] = c >= thr
	}
	// Close one-block gaps so a symbol's light modules do not split it.
	closed := make([]bool, len(mark))
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			if mark[by*bw+bx] {
				closed[by*bw+bx] = true
				continue
			}
			l := bx > 0 && mark[by*bw+bx-1]
			r := bx < bw-1 && mark[by*bw+bx+1]
			u := by > 0 && mark[(by-1)*bw+bx]
			d := by < bh-1 && mark[(by+1)*bw+bx]
			closed[by*bw+bx] = (l && r) || (u && d)
		}
	}
	// Opening (erode, then dilate) removes thin high-contrast things, such
	// as lines of text and the outlines of boxes, and keeps solid blobs the
	// size of a symbol; their components come first. The closed map's
	// components follow, for symbols too small to survive the opening.
	opened := dilate(erode(closed, bw, bh), bw, bh)
	type comp struct {
		r     image.Rectangle
		count int
		score float64
	}
	var comps []comp
	for pass, m := range [][]bool{opened, closed} {
		for _, c := range components(m, bw, bh) {
			cw, ch := c.r.Dx(), c.r.Dy()
			if cw < 2 || ch < 2 || c.count < 6 {
				continue
			}
			if cw >= bw-1 && ch >= bh-1 {
				continue // the whole image: the first pass already tried it
			}
			fill := float64(c.count) / float64(cw*ch)
			aspect := float64(min(cw, ch)) / float64(max(cw, ch))
			score := fill * aspect * math.Sqrt(float64(c.count))
			if pass == 0 {
				score += 1000
			}
			comps = append(comps, comp{r: c.r, count: c.count, score: score})
		}
	}
	sort.Slice(comps, func(i, j int) bool { return comps[i].score > comps[j].score })
	var out []image.Rectangle
	for _, c := range comps {
		if len(out) == n {
			break
		}
		r := image.Rect(c.r.Min.X*bs, c.r.Min.Y*bs, c.r.Max.X*bs, c.r.Max.Y*bs)
		pad := max(r.Dx(), r.Dy())/4 + bs
		r = image.Rect(r.Min.X-pad, r.Min.Y-pad, r.Max.X+pad, r.Max.Y+pad).Intersect(g.Rect)
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// blob is a connected group of marked blocks.
type blob struct {
	r     image.Rectangle
	count int
}

// components labels the 4-connected groups of true cells in a bw x bh map.
func components(m []bool, bw, bh int) []blob {
	var out []blob
	seen := make([]bool, len(m))
	var stack []int
	for i := range m {
		if !m[i] || seen[i] {
			continue
		}
		c := blob{r: image.Rect(i%bw, i/bw, i%bw+1, i/bw+1)}
		stack = append(stack[:0], i)
		seen[i] = true
		for len(stack) > 0 {
			j := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			c.count++
			x, y := j%bw, j/bw
			c.r = c.r.Union(image.Rect(x, y, x+1, y+1))
			for _, nb := range [4][2]int{{x - 1, y}, {x + 1, y}, {x, y - 1}, {x, y + 1}} {
				if nb[0] < 0 || nb[1] < 0 || nb[0] >= bw || nb[1] >= bh {
					continue
				}
				k := nb[1]*bw + nb[0]
				if m[k] && !seen[k] {
					seen[k] = true
					stack = append(stack, k)
				}
			}
		}
		out = append(out, c)
	}
	return out
}

// erode keeps a cell only when its whole 3x3 neighbourhood is set.
func erode(m []bool, bw, bh int) []bool {
	out := make([]bool, len(m))
	for y := 1; y < bh-1; y++ {
		for x := 1; x < bw-1; x++ {
			all := true
			for dy := -1; dy <= 1 && all; dy++ {
				for dx := -1; dx <= 1; dx++ {
					if !m[(y+dy)*bw+x+dx] {
						all = false
						break
					}
				}
			}
			out[y*bw+x] = all
		}
	}
	return out
}

// dilate sets a cell when any cell of its 3x3 neighbourhood is set.
func dilate(m []bool, bw, bh int) []bool {
	out := make([]bool, len(m))
	for y := 0; y < bh; y++ {
		for x := 0; x < bw; x++ {
			if !m[y*bw+x] {
				continue
			}
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					if xx, yy := x+dx, y+dy; xx >= 0 && yy >= 0 && xx < bw && yy < bh {
						out[yy*bw+xx] = true
					}
				}
			}
		}
	}
	return out
}
