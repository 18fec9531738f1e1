package scanner

import (
	"image"
	"math"
	"slices"
	"sort"
)

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

// blob is a connected group of marked blocks.
type blob struct {
	r     image.Rectangle
	count int
}
