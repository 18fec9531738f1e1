package scanner

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
	"time"
)

// pngHeader is a PNG signature and IHDR claiming w x h 8-bit gray pixels,
// with no pixel data: what a decompression bomb looks like before it is
// decoded.
func pngHeader(w, h uint32) []byte { return pngHeaderOf(w, h, 8, 0) }

// pngHeaderOf is pngHeader with a bit depth and PNG colour type (0 gray,
// 2 RGB, 6 RGBA).
func pngHeaderOf(w, h uint32, depth, colorType byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = depth, colorType
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// jpegHeader is a JPEG's start, an APP0 segment and a frame header of
// type sof (0xC0 baseline, 0xC2 progressive) for w x h pixels of 3
// components, with no tables or scan: a few dozen bytes that declare an
// image.
func jpegHeader(w, h uint16, sof byte) []byte {
	b := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
	b = append(b, 0xFF, 0xFF, sof, 0x00, 0x11, 8, byte(h>>8), byte(h), byte(w>>8), byte(w), 3)
	for id := byte(1); id <= 3; id++ {
		b = append(b, id, 0x11, 0)
	}
	return b
}

func TestDecodeRejectsHostileInput(t *testing.T) {
	label := mustPNG(t, goldenPack, RenderOptions{ModuleSize: 3})
	tests := []struct {
		name string
		data []byte
		opts Options
		want error
	}{
		{"huge canvas in header", pngHeader(100000, 100000), Options{}, ErrTooLarge},
		{"one very long row", pngHeader(60_000_000, 1), Options{}, ErrTooLarge},
		// 30 MP of 16-bit RGBA would take 240 MB decoded: counted twice,
		// it is over the 50 MP default. The same in 8 bits is under it (and
		// then fails to decode, having no pixels).
		{"16-bit pixels count twice", pngHeaderOf(6000, 5000, 16, 6), Options{}, ErrTooLarge},
		{"16-bit gray counts twice", pngHeaderOf(6000, 5000, 16, 0), Options{}, ErrTooLarge},
		{"8-bit pixels count once", pngHeaderOf(6000, 5000, 8, 6), Options{}, ErrBadImage},
		{"16-bit under half the limit", pngHeaderOf(100, 100, 16, 6), Options{MaxPixels: 20_000}, ErrBadImage},
		// A progressive JPEG keeps every coefficient until its last scan:
		// 6 MP of it count as 18, over a 16 MP limit; baseline is once.
		{"progressive JPEG counts three times", jpegHeader(3000, 2000, 0xC2), Options{MaxPixels: 16_000_000}, ErrTooLarge},
		{"baseline JPEG counts once", jpegHeader(3000, 2000, 0xC0), Options{MaxPixels: 16_000_000}, ErrBadImage},
		{"progressive JPEG under a third of the limit", jpegHeader(2000, 2000, 0xC2), Options{MaxPixels: 16_000_000}, ErrBadImage},
		{"over byte limit", label, Options{MaxBytes: int64(len(label) - 1)}, ErrTooLarge},
		{"over pixel limit", label, Options{MaxPixels: 100}, ErrTooLarge},
		{"zero width", pngHeader(0, 10), Options{}, ErrBadImage},
		{"not an image", []byte("plain text, not an image"), Options{}, ErrBadImage},
		{"empty", nil, Options{}, ErrBadImage},
		{"truncated PNG", label[:len(label)/2], Options{}, ErrBadImage},
		{"blank image", encodePNG(image.NewGray(image.Rect(0, 0, 64, 64))), Options{}, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(context.Background(), bytes.NewReader(tt.data), tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func encodePNG(img image.Image) []byte {
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func TestDecodeDeadline(t *testing.T) {
	// Noise defeats every attempt, so the search runs until the deadline.
	g := image.NewGray(image.Rect(0, 0, 900, 900))
	x := uint32(1)
	for i := range g.Pix {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		g.Pix[i] = uint8(x)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := DecodeImage(ctx, g, Options{})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	// One attempt may run past the deadline; the ladder must not.
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("took %v with a 50ms deadline", el)
	}
}

func TestDecodeFormats(t *testing.T) {
	img, err := decodeImage(mustPNG(t, goldenPack, RenderOptions{ModuleSize: 4}), DefaultMaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, img, nil); err != nil {
		t.Fatal(err)
	}
	// Light-on-dark, as laser-etched codes are.
	inv := cloneGray(toGray(img))
	for i := range inv.Pix {
		inv.Pix[i] = 255 - inv.Pix[i]
	}
	// A small symbol in a big, busy frame, off centre.
	frame := image.NewGray(image.Rect(0, 0, 1400, 1000))
	for i := range frame.Pix {
		frame.Pix[i] = uint8(180 + (i/7)%60)
	}
	for y := 0; y < inv.Rect.Dy(); y++ {
		copy(frame.Pix[(y+820-inv.Rect.Dy())*frame.Stride+60:], toGray(img).Pix[y*inv.Stride:(y+1)*inv.Stride])
	}
	// A phone photo: 12 MP, the label small and low in a corner, so the
	// downscaled first view has too few pixels per module.
	photo := image.NewGray(image.Rect(0, 0, 4000, 3000))
	for i := range photo.Pix {
		photo.Pix[i] = uint8(150 + (i/4000+i%4000)/100%40)
	}
	big, err := decodeImage(mustPNG(t, goldenPack, RenderOptions{ModuleSize: 5}), DefaultMaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	bg := toGray(big)
	for y := 0; y < bg.Rect.Dy(); y++ {
		copy(photo.Pix[(2500+y)*photo.Stride+3300:], bg.Pix[y*bg.Stride:(y+1)*bg.Stride])
	}
	var photoJPEG bytes.Buffer
	if err := jpeg.Encode(&photoJPEG, photo, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"gif", gifBuf.Bytes()},
		{"12 MP photo, label in a corner", photoJPEG.Bytes()},
		{"inverted", encodePNG(inv)},
		{"off centre in a large frame", encodePNG(frame)},
		{"rotated 30 degrees", encodePNG(rotate(toGray(img), 0.52))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustDecode(t, tc.data)
			if !equalElements(r.Elements, goldenPack) {
				t.Fatalf("got %s via %s", r.HRI(), r.Strategy)
			}
		})
	}
}

func TestEncodeGS1Errors(t *testing.T) {
	for _, raw := range []string{"", "\x1d0109506000134352", "0109506000134352\x1d", strings.Repeat("A", 1600)} {
		if _, err := EncodeGS1(raw, ShapeSquare); err == nil {
			t.Errorf("EncodeGS1(%.20q) succeeded", raw)
		}
	}
}

func TestEncodeCodewords(t *testing.T) {
	cw, err := gs1Codewords("0109506000134352\x1d21A")
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{232, 131, 139, 180, 190, 130, 143, 173, 182, 232, 151, 'A' + 1}
	if !bytes.Equal(cw, want) {
		t.Fatalf("codewords %v, want %v", cw, want)
	}
}

func TestRectangleAndSVG(t *testing.T) {
	sym, err := EncodeGS1(goldenPack.Raw(), ShapeRectangle)
	if err != nil {
		t.Fatal(err)
	}
	if sym.Width <= sym.Height {
		t.Fatalf("rectangle is %dx%d", sym.Width, sym.Height)
	}
	var png bytes.Buffer
	if err := sym.WritePNG(&png, RenderOptions{ModuleSize: 4}); err != nil {
		t.Fatal(err)
	}
	if r := mustDecode(t, png.Bytes()); !equalElements(r.Elements, goldenPack) {
		t.Fatalf("rectangle read back as %s", r.HRI())
	}
	var svg bytes.Buffer
	if err := sym.WriteSVG(&svg, RenderOptions{ModuleSize: 3, Text: []string{"(01) <GTIN>"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(svg.String(), "&lt;GTIN&gt;") || !strings.HasPrefix(svg.String(), "<svg") {
		t.Fatalf("svg: %.200s", svg.String())
	}
	if err := sym.WriteSVG(&svg, RenderOptions{ModuleSize: 0}); err == nil {
		t.Fatal("module size 0 accepted")
	}
}

// TestDecoderPanicIsContained feeds a reader an input that makes it panic
// (a nil bitmap) and checks the attempt turns it into a recorded failure.
func TestDecoderPanicIsContained(t *testing.T) {
	s := &search{ctx: context.Background()}
	if r := s.tryDM(nil, false, "nil-bitmap"); r != nil {
		t.Fatalf("got %+v", r)
	}
	if r := s.tryQR(nil, "nil-bitmap"); r != nil {
		t.Fatalf("got %+v", r)
	}
	if s.panicked == nil || !strings.Contains(s.fail().Error(), "decoder panic") {
		t.Fatalf("panic not reported: %v", s.fail())
	}
}
