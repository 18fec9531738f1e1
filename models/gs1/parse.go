package gs1

import (
	"strings"
)

// ParseScan reads GS1 data in any form a scanner or a person sends it and
// validates it:
//
//   - scanner output behind a symbology identifier, as the GS1 Barcode
//     Syntax Engine reads it: an element string for a GS1 carrier (]d2
//     DataMatrix, ]Q3 QR Code, ]C1 GS1-128, ]e0 DataBar and composites, ]J1
//     DotCode) with GS (ASCII 29) between elements; an EAN-13 or EAN-8
//     (]E0, ]E4) as its GTIN, with any ]e0 composite after "|"; or a GS1
//     Digital Link URI behind a plain identifier such as ]Q1 or ]d1;
//   - an element string with no identifier, as keyboard-wedge scanners
//     type it: the leading FNC1 may be a GS or missing, and GS may be sent
//     as "{GS}", "[GS]", "^]", "^" (GS1's own tools write FNC1 so) or U+241D
//     (the GS picture). None of these can occur in AI data, whose characters
//     come from CSET 82, 39 and 64;
//   - the bracketed human-readable form "(01)09506000134352(21)ABC", where
//     "\(" stands for a literal parenthesis in a value;
//   - a GS1 Digital Link URI.
//
// Surrounding white space (a scanner's line end) is ignored. The elements
// come back in the order the data holds them.
func ParseScan(text string) (ElementString, error) {
	es, err := parseScanUnchecked(text)
	if err != nil {
		return nil, err
	}
	if err := es.Validate(); err != nil {
		return nil, err
	}
	return es, nil
}

// parseScanUnchecked reads the structure of a scan (which AIs hold which
// values) without validating the values or their associations.
func parseScanUnchecked(text string) (ElementString, error) {
	s := strings.TrimSpace(text)
	if s == "" {
		return nil, errorf("", "", "empty scan")
	}
	if s[0] == ']' {
		return parseSymbologyData(s)
	}
	if s[0] == '(' {
		return parseBracketed(s)
	}
	if isHTTPURI(s) {
		return parseDigitalLink(s)
	}
	return parseElementString(normalizeSeparators(s))
}

// parseSymbologyData reads scanner output that starts with an AIM
// symbology identifier.
func parseSymbologyData(s string) (ElementString, error) {
	if len(s) < 3 {
		return nil, errorf("", s, "truncated symbology identifier %q", clip(s))
	}
	sym, rest := s[:3], s[3:]
	switch sym {
	case "]d2", "]Q3", "]C1", "]e0", "]J1":
		if strings.IndexByte(rest, '^') >= 0 {
			return nil, errorf("", rest, "scanner data holds a \"^\", which is no GS1 character")
		}
		return parseElementString(rest)
	case "]E0", "]E4":
		n := 13
		if sym == "]E4" {
			n = 8
		}
		primary, composite, hasCC := strings.Cut(rest, "|")
		if len(primary) != n || !isDigits(primary) {
			return nil, errorf("01", primary, "an EAN-%d symbol carries %d digits", n, n)
		}
		es := ElementString{{AI: "01", Value: strings.Repeat("0", 14-n) + primary}}
		if !hasCC {
			return es, nil
		}
		if !strings.HasPrefix(composite, "]e0") {
			return nil, errorf("", composite, "a composite component must be marked ]e0")
		}
		cc, err := parseElementString(composite[3:])
		if err != nil {
			return nil, err
		}
		return append(es, cc...), nil
	}
	if isHTTPURI(rest) {
		return parseDigitalLink(rest)
	}
	return nil, errorf("", sym, "symbology identifier %s does not mark GS1 data", sym)
}

func isHTTPURI(s string) bool {
	return hasPrefixFold(s, "https://") || hasPrefixFold(s, "http://")
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// separatorStandIns are what keyboard-wedge scanners and people type for
// GS; "^]" before "^". "<GS>" is not among them: "<", ">", "G" and "S" are
// all CSET 82 characters, so it could be part of a serial.
var separatorStandIns = []string{"{GS}", "[GS]", "^]", "\u241d", "^"}

func normalizeSeparators(s string) string {
	if !strings.ContainsAny(s, "{[^\u241d") {
		return s
	}
	for _, standIn := range separatorStandIns {
		if strings.Contains(s, standIn) {
			s = strings.ReplaceAll(s, standIn, string(GS))
		}
	}
	return s
}

// ParseElementString reads an element string as a barcode carries it: AIs
// followed by their values, GS (or a stand-in, see ParseScan) after each
// value of an AI that is not of predefined length. A leading GS stands for
// the FNC1 that marks GS1 data; a GS after a predefined-length value is
// redundant and tolerated.
func ParseElementString(s string) (ElementString, error) {
	return validated(parseElementString, normalizeSeparators(s))
}

func parseElementString(s string) (ElementString, error) {
	i := 0
	for i < len(s) && s[i] == GS {
		i++
	}
	if i == len(s) {
		return nil, errorf("", "", "no AI data")
	}
	es := make(ElementString, 0, 6)
	for i < len(s) {
		d := matchAI(s[i:])
		if d == nil {
			return nil, unknownAIError(s[i:])
		}
		i += len(d.AI)
		var v string
		if d.Predefined {
			n := d.MaxLength()
			if i+n > len(s) {
				return nil, errorf(d.AI, s[i:], "value %q too short: %d characters expected", clip(s[i:]), n)
			}
			v = s[i : i+n]
			i += n
			if i < len(s) && s[i] == GS {
				i++
			}
		} else {
			j := strings.IndexByte(s[i:], GS)
			if j < 0 {
				j = len(s) - i
			}
			v = s[i : i+j]
			i += j
			if i < len(s) {
				i++ // the separator; a superfluous one at the end is tolerated
			}
		}
		if v == "" {
			return nil, errorf(d.AI, "", "no value")
		}
		es = append(es, Element{AI: d.AI, Value: v})
	}
	return es, nil
}

func unknownAIError(rest string) error {
	n := 0
	for n < len(rest) && n < 4 && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n < 2 {
		end := len(rest)
		if end > 8 {
			end = 8
		}
		return errorf("", rest[:end], "expected an Application Identifier, found %q", clip(rest[:end]))
	}
	return errorf("", rest[:n], "no Application Identifier starts %q", clip(rest[:n]))
}

// ParseBracketed reads the bracketed form "(01)09506000134352(10)ABC".
// Inside a value, "\(" is a literal "(", as ElementString.HRI writes it.
func ParseBracketed(s string) (ElementString, error) {
	return validated(parseBracketed, s)
}

func parseBracketed(s string) (ElementString, error) {
	es := make(ElementString, 0, 6)
	i := 0
	for i < len(s) {
		if s[i] != '(' {
			return nil, errorf("", s[i:], "expected \"(\" at character %d", i+1)
		}
		end := strings.IndexByte(s[i:], ')')
		if end < 0 {
			return nil, errorf("", s[i:], "unclosed \"(\" at character %d", i+1)
		}
		ai := s[i+1 : i+end]
		if len(ai) < 2 || len(ai) > 4 || !isDigits(ai) {
			return nil, errorf("", ai, "%q is not an Application Identifier", clip(ai))
		}
		if LookupAI(ai) == nil {
			return nil, errorf(ai, "", "unknown Application Identifier")
		}
		i += end + 1
		v, n := bracketedValue(s[i:])
		i += n
		if v == "" {
			return nil, errorf(ai, "", "no value")
		}
		es = append(es, Element{AI: ai, Value: v})
	}
	if len(es) == 0 {
		return nil, errorf("", "", "no AI data")
	}
	return es, nil
}

// bracketedValue returns the value at the start of s, up to the next
// unescaped "(", and how many bytes of s it used.
func bracketedValue(s string) (string, int) {
	end := strings.IndexByte(s, '(')
	if end < 0 {
		end = len(s)
	}
	if end == 0 || s[end-1] != '\\' {
		return s[:end], end
	}
	var b strings.Builder
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '\\' && i+1 < len(s) && s[i+1] == '(' {
			b.WriteByte('(')
			i += 2
			continue
		}
		if c == '(' {
			break
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), i
}

// validated runs parse and then validates what it read.
func validated(parse func(string) (ElementString, error), s string) (ElementString, error) {
	es, err := parse(s)
	if err != nil {
		return nil, err
	}
	if err := es.Validate(); err != nil {
		return nil, err
	}
	return es, nil
}
