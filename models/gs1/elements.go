package gs1

import "strings"

// Element is one Application Identifier and its value.
type Element struct {
	AI    string `json:"ai"`
	Value string `json:"value"`
}

// ElementString is an ordered list of AI elements, as carried by one
// barcode or Digital Link URI.
type ElementString []Element

// Get returns the value of the first element with the given AI.
func (es ElementString) Get(ai string) (string, bool) {
	for _, e := range es {
		if e.AI == ai {
			return e.Value, true
		}
	}
	return "", false
}

// HRI returns the bracketed form of the elements,
// "(01)09506000134352(17)201225(10)ABC123(21)XYZ", written so that
// ParseBracketed and ParseScan read it back as the same elements: a "("
// inside a value (CSET 82 allows it in a lot or serial) is written "\(",
// the escape the GS1 Barcode Syntax Engine's bracketed syntax reads.
// Unescaped, the serial "A(10)L1" would read back as the serial "A" and
// the lot "L1". Nothing else needs escaping: no valid value holds a "\"
// (it is in no GS1 character set), and a ")" in a value is read as data.
// Use it wherever the text may be read back (JSON outputs, alerts, a scan
// to paste); only text printed for eyes alone, like the lines under a
// symbol, may show the values as they are.
func (es ElementString) HRI() string {
	var b strings.Builder
	for _, e := range es {
		b.WriteByte('(')
		b.WriteString(e.AI)
		b.WriteByte(')')
		b.WriteString(strings.ReplaceAll(e.Value, "(", `\(`))
	}
	return b.String()
}

// Raw returns the element string as a barcode carries it after the leading
// FNC1: AIs and values, with a GS (ASCII 29) after every value whose AI is
// not of predefined length, except the last.
func (es ElementString) Raw() string {
	var b strings.Builder
	for i, e := range es {
		b.WriteString(e.AI)
		b.WriteString(e.Value)
		if i < len(es)-1 {
			if d := LookupAI(e.AI); d == nil || !d.Predefined {
				b.WriteByte(GS)
			}
		}
	}
	return b.String()
}

// GS is the ASCII group separator that stands for FNC1 between elements.
const GS = '\x1d'

// Validate checks every element's value against the AI table and the
// associations between the elements: required companions, mutually
// exclusive AIs, and repeated AIs with different values.
func (es ElementString) Validate() error {
	if err := es.validateElements(); err != nil {
		return err
	}
	return es.checkAssociations()
}

// validateElements checks each element on its own, without associations.
func (es ElementString) validateElements() error {
	if len(es) == 0 {
		return errorf("", "", "no AI data")
	}
	for _, e := range es {
		if err := checkValue(e.AI, e.Value); err != nil {
			return err
		}
	}
	return nil
}

// checkValue validates one AI's value: length, character sets per
// component and the components' content checks.
func checkValue(ai, v string) error {
	d := LookupAI(ai)
	if d == nil {
		return errorf(ai, v, "unknown Application Identifier")
	}
	if len(v) < d.MinLength() {
		return errorf(ai, v, "value %q too short: at least %d characters", clip(v), d.MinLength())
	}
	if len(v) > d.MaxLength() {
		return errorf(ai, v, "value %q too long: at most %d characters", clip(v), d.MaxLength())
	}
	pos := 0
	for _, c := range d.Components {
		if pos == len(v) && c.Optional {
			break // optional trailing components may be left out
		}
		n := c.Max
		if c.Min != c.Max {
			n = len(v) - pos // only the last component varies in length
		}
		if n < c.Min || pos+n > len(v) {
			return errorf(ai, v, "value %q too short", clip(v))
		}
		if n > c.Max {
			return errorf(ai, v, "value %q too long", clip(v))
		}
		part := v[pos : pos+n]
		if at := badCharAt(part, c.Charset); at >= 0 {
			return errorf(ai, v, "character %q at position %d is not allowed: the value must be %s", part[at], pos+at+1, charsetName(c.Charset))
		}
		for _, name := range c.Checks {
			if reason := checks[name](part); reason != "" {
				if len(d.Components) > 1 {
					return errorf(ai, v, "%q (characters %d-%d): %s", clip(part), pos+1, pos+n, reason)
				}
				return errorf(ai, v, "%q: %s", clip(part), reason)
			}
		}
		pos += n
	}
	if pos != len(v) {
		return errorf(ai, v, "value %q has %d unexpected trailing characters", clip(v), len(v)-pos)
	}
	return nil
}

func (es ElementString) has(pattern string) bool {
	for _, e := range es {
		if matchesPattern(e.AI, pattern) {
			return true
		}
	}
	return false
}

// checkAssociations checks repeats, exclusions and requirements. An AI
// may repeat with the same value, so the pairwise checks run over the
// distinct AIs (a few hundred at most, however long the input), in order
// of first appearance, which finds the same first fault as over all.
func (es ElementString) checkAssociations() error {
	first := make(map[string]string, len(es))
	distinct := make(ElementString, 0, len(es))
	for _, e := range es {
		if v, seen := first[e.AI]; seen {
			if v != e.Value {
				return errorf(e.AI, e.Value, "appears twice with different values")
			}
			continue
		}
		first[e.AI] = e.Value
		distinct = append(distinct, e)
	}
	for _, e := range distinct {
		d := LookupAI(e.AI)
		for _, ex := range d.Excludes {
			for _, other := range distinct {
				if other.AI != e.AI && matchesPattern(other.AI, ex) {
					return errorf(e.AI, e.Value, "must not appear together with AI (%s)", other.AI)
				}
			}
		}
		for _, alts := range d.Requires {
			if !distinct.satisfies(alts) {
				return errorf(e.AI, e.Value, "requires %s", describeRequirement(alts))
			}
		}
	}
	return nil
}

func (es ElementString) satisfies(alts [][]string) bool {
	for _, group := range alts {
		all := true
		for _, p := range group {
			if !es.has(p) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func describeRequirement(alts [][]string) string {
	var parts []string
	for _, group := range alts {
		var g []string
		for _, p := range group {
			g = append(g, "("+p+")")
		}
		parts = append(parts, strings.Join(g, " with "))
	}
	if len(parts) == 1 {
		return "AI " + parts[0]
	}
	return "one of AI " + strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}
