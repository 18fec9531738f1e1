package scanner

import (
	"fmt"
	"image"
	"math"
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
//  5. a contrast stretch when the image is washed out, then from that:
//     2x upscaling, rotation by ±20° (gozxing's corner search fails at
//     some angles), the median (if not tried), an unsharp mask for blur,
//     2x downscaling, 4x upscaling of tiny images, a restored quiet zone,
//     rotation by 45°;
//  6. the full-resolution photo, when step 1 used a downscaled one.
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
	washedOut := sync.OnceValue(func() bool {
		lo, hi := percentiles(base)
		return hi-lo <= 96
	})
	src := sync.OnceValue(func() *image.Gray {
		if washedOut() {
			return stretch(base)
		}
		return base
	})
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
			if !washedOut() {
				return nil // contrast is fine
			}
			return s.tryView(src(), "stretch", false)
		},
		// From here on the views start from src: the image, or its
		// stretched version when it is washed out, since upscaling or
		// sharpening a dim image keeps it dim.
		func() *Result {
			if smallSide > 700 {
				return nil // modules this big need no upscaling
			}
			return s.tryView(upscale2(src()), "up2", false)
		},
		// gozxing's corner search fails at some angles and not at others:
		// turning the image a little moves a symbol out of a bad angle.
		func() *Result { return s.tryView(rotate(src(), 0.35), "rot20", false) },
		func() *Result { return s.tryView(rotate(src(), -0.35), "rot-20", false) },
		func() *Result {
			if speckled() {
				return nil // tried above
			}
			return s.tryView(median3(src()), "median", false)
		},
		func() *Result { return s.tryView(sharpen(src()), "sharpen", false) },
		func() *Result {
			if smallSide < 120 {
				return nil
			}
			return s.tryView(downscale(src(), 2), "down2", false)
		},
		func() *Result {
			if smallSide > 400 {
				return nil
			}
			return s.tryView(upscale2(upscale2(src())), "up4", false)
		},
		func() *Result {
			// A symbol that touches the frame has lost its quiet zone;
			// give it one back (upscaled too, when small).
			if smallSide > 1200 {
				return nil
			}
			padded := pad(src(), max(8, smallSide/8))
			if smallSide <= 400 {
				padded = upscale2(padded)
			}
			return s.tryView(padded, "pad", false)
		},
		func() *Result { return s.tryView(rotate(src(), math.Pi/4), "rot45", false) },
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
	// Regions are found on g, which may be a downscaled photo, but cut
	// from the full-resolution image: a small label in a big photo keeps
	// all of its pixels per module.
	f := s.gray.Rect.Dx() / g.Rect.Dx()
	for i, rect := range candidates(g, maxCandidates) {
		if s.done() {
			return nil
		}
		crop := cropGray(g, rect)
		if f > 1 {
			full := image.Rect(rect.Min.X*f, rect.Min.Y*f, rect.Max.X*f, rect.Max.Y*f).Intersect(s.gray.Rect)
			crop = cropGray(s.gray, full)
			if side := max(full.Dx(), full.Dy()); side > workMaxSide {
				crop = downscale(crop, (side+workMaxSide-1)/workMaxSide)
			}
		}
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
