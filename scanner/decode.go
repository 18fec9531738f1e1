package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // GIF input, first frame
	_ "image/jpeg"
	_ "image/png"
	"io"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/datamatrix"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// Limits for untrusted images. An image is rejected from its header, before
// any pixel is decoded, when it is over MaxBytes or MaxPixels (where a pixel
// of 16 bits per channel counts twice).
const (
	DefaultMaxBytes  = 32 << 20   // 32 MiB: a 50 MP JPEG straight from a phone
	DefaultMaxPixels = 50_000_000 // 50 MP
	DefaultTimeout   = 2 * time.Second
)

// Errors callers branch on. Every error Decode returns wraps one of them.
var (
	// ErrTooLarge means the image exceeds the byte or pixel limit.
	ErrTooLarge = errors.New("image too large")
	// ErrBadImage means the bytes are not a PNG, JPEG or GIF image.
	ErrBadImage = errors.New("not a readable PNG, JPEG or GIF image")
	// ErrNotFound means no DataMatrix or QR code could be read in time.
	ErrNotFound = errors.New("no DataMatrix or QR code found")
	// ErrNotGS1 means a code was read but does not carry GS1 data (no FNC1
	// in first position, or a QR code that is not a GS1 Digital Link).
	ErrNotGS1 = errors.New("code does not carry GS1 data")
)

// Options bound the work Decode does on one image. Zero fields take the
// defaults above.
type Options struct {
	MaxBytes int64
	// MaxPixels bounds width x height. A pixel of 16 bits per channel (a
	// PNG of 16-bit depth) counts twice, since decoded it takes twice the
	// memory of its 8-bit kind: 8 bytes for RGBA. A pixel of a progressive
	// JPEG counts three times (see progressiveJPEG).
	MaxPixels int
	// Timeout bounds the time spent across all retries on one image; a
	// deadline on the context passed to Decode bounds it too.
	Timeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return o
}

// Result is one decoded code.
type Result struct {
	// Format is "datamatrix" or "qrcode".
	Format string
	// Symbology is the AIM symbology identifier the decoder reports:
	// "]d2" for GS1 DataMatrix, "]Q1" for a plain QR code.
	Symbology string
	// Text is the decoded data exactly as a scanner transmits it after the
	// symbology identifier: for GS1 DataMatrix a leading GS stands for the
	// FNC1 in first position and a GS separates fields.
	Text string
	// Strategy names the attempt that succeeded, for benchmarks and logs.
	Strategy string
	// Elements is the GS1 data, parsed and validated by gs1.ParseScan;
	// nil when the code is not GS1 or its data is invalid.
	Elements gs1.ElementString

	parseErr error
}

// ScanText is the transmitted string with its symbology identifier in
// front, the form gs1.ParseScan reads ("]d2" + data, without the GS that
// only stood for the leading FNC1).
func (r *Result) ScanText() string { return r.Symbology + r.Data() }

// Data is Text without the GS that stands for FNC1 in first position: the
// data as it follows the symbology identifier.
func (r *Result) Data() string {
	if (r.Symbology == "]d2" || r.Symbology == "]Q3") && len(r.Text) > 0 && r.Text[0] == asciiGS {
		return r.Text[1:]
	}
	return r.Text
}

// Decode reads an image (PNG, JPEG or GIF) from r and decodes the GS1
// DataMatrix or GS1 Digital Link QR code in it. It rejects oversized images
// from their header, stops at opts.Timeout or the context's deadline, and
// turns decoder panics into errors.
func Decode(ctx context.Context, r io.Reader, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, opts.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read image: %w", err)
	}
	if int64(len(data)) > opts.MaxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, opts.MaxBytes)
	}
	img, err := decodeImage(data, opts.MaxPixels)
	if err != nil {
		return nil, err
	}
	return DecodeImage(ctx, img, opts)
}

// decodeImage checks the header's dimensions before decoding any pixels, so
// a small file that claims a huge canvas costs nothing.
func decodeImage(data []byte, maxPixels int) (img image.Image, err error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%w: %dx%d", ErrBadImage, cfg.Width, cfg.Height)
	}
	if cfg.Width > maxPixels || cfg.Height > maxPixels || cfg.Width*cfg.Height > maxPixels {
		return nil, fmt.Errorf("%w: %dx%d pixels, limit %d", ErrTooLarge, cfg.Width, cfg.Height, maxPixels)
	}
	if deep(cfg.ColorModel) && 2*cfg.Width*cfg.Height > maxPixels {
		return nil, fmt.Errorf("%w: %dx%d pixels of 16 bits per channel, which count twice, limit %d", ErrTooLarge, cfg.Width, cfg.Height, maxPixels)
	}
	if progressiveJPEG(data) && 3*cfg.Width*cfg.Height > maxPixels {
		return nil, fmt.Errorf("%w: %dx%d pixels of a progressive JPEG, which count three times, limit %d", ErrTooLarge, cfg.Width, cfg.Height, maxPixels)
	}
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("%w: decoder panic: %v", ErrBadImage, p)
		}
	}()
	img, _, err = image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	return img, nil
}

// progressiveJPEG reports whether data is a progressive JPEG, by its frame
// header (SOF2, or the rarer SOF6, SOF10, SOF14), read before any pixel.
// Go's decoder keeps every coefficient of such an image until its last
// scan: by hand, 7.5 bytes a pixel for 4:2:0 colour (a baseline JPEG of
// the same 16 MP took 1.5), about 12 for 4:4:4.
func progressiveJPEG(data []byte) bool {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return false
	}
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xFF {
			return false
		}
		marker := data[i+1]
		switch {
		case marker == 0xFF: // fill byte
			i++
			continue
		case marker == 0xC2, marker == 0xC6, marker == 0xCA, marker == 0xCE:
			return true
		case marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC, marker == 0xDA:
			return false // another frame type, or the scan begins
		}
		i += 2 + (int(data[i+2])<<8 | int(data[i+3])) // the marker and its segment
	}
	return false
}

// deep reports whether images of model m hold 16 bits per channel.
func deep(m color.Model) bool {
	switch m {
	case color.Gray16Model, color.Alpha16Model, color.RGBA64Model, color.NRGBA64Model:
		return true
	}
	return false
}

// DecodeImage decodes the GS1 code in an already decoded image. See Decode.
func DecodeImage(ctx context.Context, img image.Image, opts Options) (res *Result, err error) {
	opts = opts.withDefaults()
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, fmt.Errorf("%w: empty image", ErrBadImage)
	}
	if b.Dx()*b.Dy() > opts.MaxPixels {
		return nil, fmt.Errorf("%w: %dx%d pixels, limit %d", ErrTooLarge, b.Dx(), b.Dy(), opts.MaxPixels)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	// The attempts recover from decoder panics themselves; this catches
	// anything else on the way, so no input can crash the caller.
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("%w (internal error: %v)", ErrNotFound, p)
		}
	}()
	s := &search{ctx: ctx, gray: toGray(img)}
	return s.run()
}

// search is one image's trip down the retry ladder (see search.go).
type search struct {
	ctx      context.Context
	gray     *image.Gray
	nonGS1   *Result
	panicked error
	tries    int
}

// tryDM runs the DataMatrix reader on one binarized view of an image.
func (s *search) tryDM(bm *gozxing.BinaryBitmap, pure bool, strategy string) (res *Result) {
	s.tries++
	defer func() {
		if p := recover(); p != nil {
			s.panicked = fmt.Errorf("decoder panic in %s: %v", strategy, p)
			res = nil
		}
	}()
	var hints map[gozxing.DecodeHintType]interface{}
	if pure {
		hints = map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_PURE_BARCODE: true}
	}
	out, err := datamatrix.NewDataMatrixReader().Decode(bm, hints)
	if err != nil {
		return nil
	}
	return fromZXing(out, "datamatrix", strategy)
}

// tryQR runs the QR reader, for GS1 Digital Link codes.
func (s *search) tryQR(bm *gozxing.BinaryBitmap, strategy string) (res *Result) {
	s.tries++
	defer func() {
		if p := recover(); p != nil {
			s.panicked = fmt.Errorf("decoder panic in %s: %v", strategy, p)
			res = nil
		}
	}()
	out, err := qrcode.NewQRCodeReader().Decode(bm, nil)
	if err != nil {
		return nil
	}
	return fromZXing(out, "qrcode", strategy)
}

func fromZXing(out *gozxing.Result, format, strategy string) *Result {
	r := &Result{Format: format, Text: out.GetText(), Strategy: strategy}
	if id, ok := out.GetResultMetadata()[gozxing.ResultMetadataType_SYMBOLOGY_IDENTIFIER].(string); ok {
		r.Symbology = id
	}
	return r
}

func (s *search) done() bool { return s.ctx.Err() != nil }

func (s *search) fail() error {
	switch {
	case s.ctx.Err() != nil:
		return fmt.Errorf("%w (gave up after %d attempts: %v)", ErrNotFound, s.tries, context.Cause(s.ctx))
	case s.panicked != nil:
		return fmt.Errorf("%w (a decoder attempt failed: %v)", ErrNotFound, s.panicked)
	}
	return fmt.Errorf("%w (%d attempts)", ErrNotFound, s.tries)
}
