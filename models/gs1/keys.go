package gs1

import (
	"fmt"
	"strings"
)

// NormalizeGTIN returns s, a GTIN-8, GTIN-12, GTIN-13 or GTIN-14, as the
// 14-digit form used in AI (01), padded with leading zeros. It fails if s is
// not all digits, has another length or a wrong check digit.
func NormalizeGTIN(s string) (string, error) {
	switch len(s) {
	case 8, 12, 13, 14:
	default:
		return "", &Error{AI: "01", Value: s, Reason: fmt.Sprintf("a GTIN has 8, 12, 13 or 14 digits, not %d", len(s))}
	}
	if !isDigits(s) {
		return "", &Error{AI: "01", Value: s, Reason: "a GTIN holds only digits"}
	}
	if !ValidCheckDigit(s) {
		return "", &Error{AI: "01", Value: s, Reason: fmt.Sprintf("bad check digit: want %d", CheckDigit(s[:len(s)-1]))}
	}
	return strings.Repeat("0", 14-len(s)) + s, nil
}

// ValidCompanyPrefix reports whether p has the form of a GS1 company
// prefix: 4 to 12 digits.
func ValidCompanyPrefix(p string) bool {
	return len(p) >= 4 && len(p) <= 12 && isDigits(p)
}

// UnderCompanyPrefix reports whether a GTIN-14 (as AI (01) holds it) is
// under one of the GS1 company prefixes: the prefix follows the indicator
// digit.
func UnderCompanyPrefix(gtin14 string, prefixes []string) bool {
	if len(gtin14) != 14 {
		return false
	}
	for _, p := range prefixes {
		if p != "" && strings.HasPrefix(gtin14[1:], p) {
			return true
		}
	}
	return false
}

// SGTIN is a serialized GTIN: the identity of one pack.
type SGTIN struct {
	// GTIN is the 14-digit GTIN with its check digit.
	GTIN string `json:"gtin"`
	// Serial is the AI (21) serial number, up to 20 CSET 82 characters.
	Serial string `json:"serial"`
}

// Validate checks the GTIN's digits and check digit and the serial's
// length and character set.
func (s SGTIN) Validate() error {
	if err := checkKey("01", s.GTIN, 14); err != nil {
		return err
	}
	return checkValue("21", s.Serial)
}

// String returns the pack's bracketed human-readable form, (01)…(21)….
func (s SGTIN) String() string { return "(01)" + s.GTIN + "(21)" + s.Serial }

// SSCC is an 18-digit Serial Shipping Container Code, the identity of a
// case or pallet, AI (00).
type SSCC string

// Validate checks the SSCC's length, digits and check digit.
func (s SSCC) Validate() error { return checkKey("00", string(s), 18) }

// GLN is a 13-digit Global Location Number, AI (414), naming a party or a
// place.
type GLN string

// Validate checks the GLN's length, digits and check digit.
func (g GLN) Validate() error { return checkKey("414", string(g), 13) }

// SGLN is a GLN with an optional extension, AI (254), naming a place within
// a location, such as one dock door of a warehouse.
type SGLN struct {
	// GLN is the 13-digit location number.
	GLN GLN `json:"gln"`
	// Extension is the AI (254) extension; empty for the location itself.
	Extension string `json:"extension,omitempty"`
}

// Validate checks the GLN and the extension's character set and length.
func (s SGLN) Validate() error {
	if err := s.GLN.Validate(); err != nil {
		return err
	}
	if s.Extension == "" {
		return nil
	}
	return checkValue("254", s.Extension)
}

// checkKey checks a fixed-length all-digit GS1 key with a trailing check
// digit.
func checkKey(ai, v string, n int) error {
	if len(v) != n {
		return &Error{AI: ai, Value: v, Reason: fmt.Sprintf("must be %d digits, not %d characters", n, len(v))}
	}
	if !isDigits(v) {
		return &Error{AI: ai, Value: v, Reason: "must hold only digits"}
	}
	if !ValidCheckDigit(v) {
		return &Error{AI: ai, Value: v, Reason: fmt.Sprintf("bad check digit: want %d", CheckDigit(v[:n-1]))}
	}
	return nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
