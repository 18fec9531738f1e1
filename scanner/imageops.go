package scanner

import (
	"image"
	"image/color"
	"image/draw"
	"math"
)

// Image operations for the retry ladder. All work on 8-bit gray images
// with their origin at (0,0), honour Stride (the standard decoders pad
// rows), and return new images: no view writes to its input, so the
// caller's decoded image can be used as the first view.

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

// toGray converts any image to 8-bit luminance with its origin at (0,0),
// with fast paths for the types the standard decoders produce.
func toGray(img image.Image) *image.Gray {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if g, ok := img.(*image.Gray); ok && b.Min == (image.Point{}) && g.Stride == w {
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
	w := g.Rect.Dx()
	for y := 0; y < g.Rect.Dy(); y++ {
		src, dst := g.Pix[y*g.Stride:y*g.Stride+w], out.Pix[y*out.Stride:]
		for x, v := range src {
			dst[x] = lut[v]
		}
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
	for y := 0; y < h; y++ { // the border rows and columns stay as they are
		copy(out.Pix[y*out.Stride:y*out.Stride+w], g.Pix[y*g.Stride:y*g.Stride+w])
	}
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
