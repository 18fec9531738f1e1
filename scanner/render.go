package scanner

import (
	"bufio"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"io"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// RenderOptions sets how a symbol is drawn on a label.
type RenderOptions struct {
	// ModuleSize is the side of one module in pixels (PNG) or user units
	// (SVG). Readers struggle below 3 pixels per module.
	ModuleSize int
	// QuietZone is the light margin around the symbol, in modules. ISO/IEC
	// 16022 asks for at least 1; 0 means the default of 2.
	QuietZone int
	// Text is the human-readable interpretation printed under the symbol,
	// one entry per line, e.g. "(01) 09506000134352".
	Text []string
}

const (
	maxModuleSize = 64
	defaultQuiet  = 2
	glyphW        = 7  // basicfont.Face7x13 advance
	glyphH        = 13 // basicfont.Face7x13 line height
)

func (o RenderOptions) normalized() (RenderOptions, error) {
	if o.ModuleSize < 1 || o.ModuleSize > maxModuleSize {
		return o, fmt.Errorf("scanner: module size %d outside 1..%d", o.ModuleSize, maxModuleSize)
	}
	if o.QuietZone < 0 || o.QuietZone > 32 {
		return o, fmt.Errorf("scanner: quiet zone %d outside 0..32", o.QuietZone)
	}
	if o.QuietZone == 0 {
		o.QuietZone = defaultQuiet
	}
	return o, nil
}

// textScale is the integer factor by which the 7x13 font is enlarged so the
// text stays legible next to large modules.
func textScale(moduleSize int) int {
	if s := moduleSize / 4; s > 1 {
		return s
	}
	return 1
}

// Image draws the symbol with its quiet zone and text as a grayscale image.
func (s *Symbol) Image(o RenderOptions) (*image.Gray, error) {
	o, err := o.normalized()
	if err != nil {
		return nil, err
	}
	ms, q := o.ModuleSize, o.QuietZone
	symW, symH := (s.Width+2*q)*ms, (s.Height+2*q)*ms
	scale := textScale(ms)
	textW, lineH := 0, (glyphH+2)*scale
	for _, line := range o.Text {
		if w := (len(line) + 2) * glyphW * scale; w > textW {
			textW = w
		}
	}
	w := max(symW, textW)
	h := symH
	if len(o.Text) > 0 {
		h += len(o.Text)*lineH + q*ms/2
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	left := (w - symW) / 2
	for y := 0; y < s.Height; y++ {
		for x := 0; x < s.Width; x++ {
			if !s.Dark(x, y) {
				continue
			}
			x0, y0 := left+(q+x)*ms, (q+y)*ms
			for yy := y0; yy < y0+ms; yy++ {
				row := img.Pix[yy*img.Stride:]
				for xx := x0; xx < x0+ms; xx++ {
					row[xx] = 0
				}
			}
		}
	}
	for i, line := range o.Text {
		drawText(img, line, (w-len(line)*glyphW*scale)/2, symH+i*lineH, scale)
	}
	return img, nil
}

// drawText writes one line with the 7x13 bitmap font, enlarged by scale.
func drawText(dst *image.Gray, line string, x, y, scale int) {
	small := image.NewGray(image.Rect(0, 0, len(line)*glyphW, glyphH))
	for i := range small.Pix {
		small.Pix[i] = 0xff
	}
	d := font.Drawer{Dst: small, Src: image.NewUniform(color.Black), Face: basicfont.Face7x13,
		Dot: fixed.P(0, basicfont.Face7x13.Ascent)}
	d.DrawString(line)
	for sy := 0; sy < glyphH; sy++ {
		for sx := 0; sx < small.Rect.Dx(); sx++ {
			v := small.Pix[sy*small.Stride+sx]
			for yy := 0; yy < scale; yy++ {
				for xx := 0; xx < scale; xx++ {
					px, py := x+sx*scale+xx, y+sy*scale+yy
					if image.Pt(px, py).In(dst.Rect) {
						dst.Pix[py*dst.Stride+px] = v
					}
				}
			}
		}
	}
}

// WritePNG renders the symbol as a grayscale PNG.
func (s *Symbol) WritePNG(w io.Writer, o RenderOptions) error {
	img, err := s.Image(o)
	if err != nil {
		return err
	}
	return png.Encode(w, img)
}

// WriteSVG renders the symbol as SVG: one path of unit squares, so it scales
// without blurring, with the text as <text> lines in a monospace font.
func (s *Symbol) WriteSVG(w io.Writer, o RenderOptions) error {
	o, err := o.normalized()
	if err != nil {
		return err
	}
	ms, q := o.ModuleSize, o.QuietZone
	symW, symH := (s.Width+2*q)*ms, (s.Height+2*q)*ms
	fontSize := max(10, 2*ms)
	width, height := symW, symH
	for _, line := range o.Text {
		width = max(width, (len(line)+2)*fontSize*6/10)
	}
	if len(o.Text) > 0 {
		height += len(o.Text)*fontSize*12/10 + fontSize/2
	}
	left := (width - symW) / 2
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">\n",
		width, height, width, height)
	fmt.Fprintf(bw, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n<path fill=\"#000\" d=\"", width, height)
	for y := 0; y < s.Height; y++ {
		for x := 0; x < s.Width; x++ {
			// Merge runs of dark modules on a row into one rectangle.
			if !s.Dark(x, y) {
				continue
			}
			run := 1
			for s.Dark(x+run, y) {
				run++
			}
			fmt.Fprintf(bw, "M%d %dh%dv%dh-%dz", left+(q+x)*ms, (q+y)*ms, run*ms, ms, run*ms)
			x += run - 1
		}
	}
	bw.WriteString("\"/>\n")
	for i, line := range o.Text {
		fmt.Fprintf(bw, "<text x=\"%d\" y=\"%d\" font-family=\"monospace\" font-size=\"%d\" text-anchor=\"middle\">%s</text>\n",
			width/2, symH+(i+1)*fontSize*12/10, fontSize, html.EscapeString(line))
	}
	bw.WriteString("</svg>\n")
	return bw.Flush()
}
