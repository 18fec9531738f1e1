package scanner

import (
	"errors"
	"fmt"

	"github.com/makiuchi-d/gozxing/datamatrix/encoder"
)

// ECC200 codewords used by the GS1 encoder (ISO/IEC 16022 §5.2.4).
const (
	cwFNC1     = 232 // FNC1: first position marks GS1, later ones separate fields
	cwPad      = 129 // first pad codeword; later pads are randomised
	cwUpperSh  = 235 // upper shift for bytes 128..255
	asciiGS    = 0x1d
	maxGS1Data = 1558 // data capacity of the largest square symbol (144x144)
)

// Shape chooses square or rectangular DataMatrix symbols.
type Shape int

// Symbol shapes. Square symbols are what pharma packs carry and what every
// reader handles; rectangular ones suit narrow labels. ECC200 rectangles
// hold at most 49 data codewords (16x48), so ShapeRectangle falls back to
// the smallest square when the data does not fit one.
const (
	ShapeSquare Shape = iota
	ShapeRectangle
)

// ErrTooLong is returned when the data does not fit the largest symbol.
var ErrTooLong = errors.New("scanner: data does not fit in a DataMatrix symbol")

// Symbol is an ECC200 DataMatrix symbol as a grid of modules, without a
// quiet zone. Dark modules are true.
type Symbol struct {
	Width, Height int
	modules       []bool
}

// Dark reports whether the module at column x, row y is dark. Coordinates
// outside the symbol are light, which is what a quiet zone is.
func (s *Symbol) Dark(x, y int) bool {
	if x < 0 || y < 0 || x >= s.Width || y >= s.Height {
		return false
	}
	return s.modules[y*s.Width+x]
}

// EncodeGS1 builds a GS1 DataMatrix symbol from an element string in raw
// form: AIs and values concatenated, an ASCII GS (29) after each
// variable-length value that is not last, and no leading FNC1 or "]d2"
// (gs1.ElementString.Raw gives exactly this). The symbol starts with FNC1
// (codeword 232), which is what makes a reader report "]d2", and every GS
// becomes an FNC1 separator.
func EncodeGS1(raw string, shape Shape) (*Symbol, error) {
	if raw == "" {
		return nil, errors.New("scanner: empty element string")
	}
	if raw[0] == asciiGS {
		return nil, errors.New("scanner: element string must not start with a separator (FNC1 is added)")
	}
	cw, err := gs1Codewords(raw)
	if err != nil {
		return nil, err
	}
	return encodeCodewords(cw, shape)
}

// gs1Codewords encodes raw in ASCII encodation: digit pairs take one
// codeword each, which keeps GTINs, dates and numeric serials compact, and
// every GS becomes FNC1. ASCII mode alone is what GS1 symbols printed on
// packs mostly use, and every reader decodes it.
func gs1Codewords(raw string) ([]byte, error) {
	cw := make([]byte, 0, len(raw)+1)
	cw = append(cw, cwFNC1)
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case isDigit(c) && i+1 < len(raw) && isDigit(raw[i+1]):
			cw = append(cw, byte(130+int(c-'0')*10+int(raw[i+1]-'0')))
			i++
		case c == asciiGS:
			if i == len(raw)-1 {
				return nil, errors.New("scanner: element string must not end with a separator")
			}
			cw = append(cw, cwFNC1)
		case c < 128:
			cw = append(cw, c+1)
		default:
			cw = append(cw, cwUpperSh, c-128+1)
		}
	}
	if len(cw) > maxGS1Data {
		return nil, fmt.Errorf("%w: %d codewords", ErrTooLong, len(cw))
	}
	return cw, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// encodeCodewords pads the data codewords to the smallest symbol that holds
// them, adds Reed-Solomon error correction and places the modules, using
// gozxing's encoder package for the symbol table, ECC200 and placement.
func encodeCodewords(data []byte, shape Shape) (*Symbol, error) {
	hint := encoder.SymbolShapeHint_FORCE_SQUARE
	if shape == ShapeRectangle {
		hint = encoder.SymbolShapeHint_FORCE_NONE
	}
	info, err := encoder.SymbolInfo_Lookup(len(data), hint, nil, nil, true)
	if err != nil || info == nil {
		return nil, fmt.Errorf("%w: %d codewords", ErrTooLong, len(data))
	}
	if shape == ShapeRectangle {
		// Prefer a rectangle of the right capacity; fall back to the
		// square that FORCE_NONE found when no rectangle is big enough.
		if r, err := encoder.SymbolInfo_Lookup(len(data), encoder.SymbolShapeHint_FORCE_RECTANGLE, nil, nil, false); err == nil && r != nil {
			info = r
		}
	}
	padded := make([]byte, len(data), info.GetDataCapacity())
	copy(padded, data)
	if len(padded) < info.GetDataCapacity() {
		padded = append(padded, cwPad)
	}
	for len(padded) < info.GetDataCapacity() {
		padded = append(padded, randomize253(len(padded)+1))
	}
	full, err := encoder.ErrorCorrection_EncodeECC200(padded, info)
	if err != nil {
		return nil, fmt.Errorf("scanner: error correction: %w", err)
	}
	place := encoder.NewDefaultPlacement(full, info.GetSymbolDataWidth(), info.GetSymbolDataHeight())
	place.Place()
	return layout(place, info), nil
}

// randomize253 is the 253-state pad randomising of ISO/IEC 16022 Annex H;
// pos is the 1-based position of the pad codeword.
func randomize253(pos int) byte {
	v := cwPad + (149*pos)%253 + 1
	if v > 254 {
		v -= 254
	}
	return byte(v)
}

// layout wraps each data region in its finder pattern (solid L on the left
// and bottom, alternating clock track on the top and right).
func layout(place *encoder.DefaultPlacement, info *encoder.SymbolInfo) *Symbol {
	s := &Symbol{Width: info.GetSymbolWidth(), Height: info.GetSymbolHeight()}
	s.modules = make([]bool, s.Width*s.Height)
	set := func(x, y int, v bool) { s.modules[y*s.Width+x] = v }
	mw, mh := info.GetMatrixWidth(), info.GetMatrixHeight()
	my := 0
	for y := 0; y < info.GetSymbolDataHeight(); y++ {
		if y%mh == 0 {
			for x := 0; x < s.Width; x++ {
				set(x, my, x%2 == 0)
			}
			my++
		}
		mx := 0
		for x := 0; x < info.GetSymbolDataWidth(); x++ {
			if x%mw == 0 {
				set(mx, my, true)
				mx++
			}
			set(mx, my, place.GetBit(x, y))
			mx++
			if x%mw == mw-1 {
				set(mx, my, y%2 == 0)
				mx++
			}
		}
		my++
		if y%mh == mh-1 {
			for x := 0; x < s.Width; x++ {
				set(x, my, true)
			}
			my++
		}
	}
	return s
}
