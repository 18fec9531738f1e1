package gs1

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Charset is the character set of an AI component.
type Charset byte

// The GS1 character sets that AI components are drawn from.
const (
	Numeric Charset = 'N' // digits 0-9
	CSET82  Charset = 'X' // the 82 characters of GS1 "X" fields
	CSET39  Charset = 'Y' // the 39 characters of GS1 "Y" fields
	CSET64  Charset = 'Z' // base64url, GS1 "Z" fields
)

// Component is one part of an AI's data field, such as the 3-digit currency
// code that leads AI (3910).
type Component struct {
	Charset  Charset
	Min, Max int      // length bounds; Min == Max for a fixed length
	Optional bool     // may be absent once the data is used up
	Checks   []string // names of the content checks applied, in order
}

// AIDef describes one Application Identifier.
type AIDef struct {
	// AI is the identifier's digits, e.g. "01".
	AI string
	// Title is the short data title printed in human-readable text.
	Title string
	// Predefined is true when the AI's length is fixed by its first two
	// digits, so no FNC1 separator follows it.
	Predefined bool
	// DLAttribute is true when the AI may appear as a GS1 Digital Link query
	// parameter.
	DLAttribute bool
	// Components describe the data field in order.
	Components []Component
	// Requires lists alternatives; each inner list is a group of AI
	// patterns that must all be present. One group per requirement must be
	// satisfied for every requirement.
	Requires [][][]string
	// Excludes lists AI patterns that must not appear alongside this AI.
	Excludes []string
	// DLPrimaryKey is true when the AI is a Digital Link primary key;
	// DLQualifiers then lists its alternative ordered qualifier sequences.
	DLPrimaryKey bool
	DLQualifiers [][]string
}

// MinLength is the shortest valid data length.
func (d *AIDef) MinLength() int {
	n := 0
	for _, c := range d.Components {
		if !c.Optional {
			n += c.Min
		}
	}
	return n
}

// MaxLength is the longest valid data length.
func (d *AIDef) MaxLength() int {
	n := 0
	for _, c := range d.Components {
		n += c.Max
	}
	return n
}

// FixedLength reports whether every valid value has the same length.
func (d *AIDef) FixedLength() bool { return d.MinLength() == d.MaxLength() }

type aiTable struct {
	byAI map[string]*AIDef
	all  []*AIDef
	// maxDLQualifiers is the most qualifiers any Digital Link primary key
	// takes, which bounds the AI segments of a valid Digital Link path.
	maxDLQualifiers int
}

var (
	tableOnce sync.Once
	table     *aiTable
)

// theTable parses aiTableSource once. The source is a constant checked by
// the package's tests, so a parse failure is a programming error.
func theTable() *aiTable {
	tableOnce.Do(func() {
		t, err := parseAITable(aiTableSource)
		if err != nil {
			panic("gs1: bad AI table: " + err.Error())
		}
		table = t
	})
	return table
}

// LookupAI returns the definition of ai, or nil if ai is not a known
// Application Identifier.
func LookupAI(ai string) *AIDef { return theTable().byAI[ai] }

// AIs returns every known Application Identifier definition in AI order.
func AIs() []*AIDef { return append([]*AIDef(nil), theTable().all...) }

// matchAI finds the AI that data starts with. GS1 allocates AIs so that no
// AI is a prefix of another, so the first match by length is the only one.
func matchAI(data string) *AIDef {
	t := theTable()
	for n := 2; n <= 4 && n <= len(data); n++ {
		if d := t.byAI[data[:n]]; d != nil {
			return d
		}
	}
	return nil
}

func parseAITable(src string) (*aiTable, error) {
	t := &aiTable{byAI: map[string]*AIDef{}}
	for lineNo, line := range strings.Split(src, "\n") {
		title := ""
		if i := strings.IndexByte(line, '#'); i >= 0 {
			title = strings.TrimSpace(line[i+1:])
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		defs, err := parseAIEntry(fields, title)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo+1, err)
		}
		for _, d := range defs {
			if t.byAI[d.AI] != nil {
				return nil, fmt.Errorf("line %d: AI %s defined twice", lineNo+1, d.AI)
			}
			t.byAI[d.AI] = d
			t.all = append(t.all, d)
			for _, seq := range d.DLQualifiers {
				t.maxDLQualifiers = max(t.maxDLQualifiers, len(seq))
			}
		}
	}
	for _, d := range t.all {
		for _, other := range t.all {
			if d != other && strings.HasPrefix(other.AI, d.AI) {
				return nil, fmt.Errorf("AI %s is a prefix of AI %s", d.AI, other.AI)
			}
		}
	}
	return t, nil
}

func parseAIEntry(fields []string, title string) ([]*AIDef, error) {
	first, last := fields[0], fields[0]
	if i := strings.IndexByte(fields[0], '-'); i >= 0 {
		first, last = fields[0][:i], fields[0][i+1:]
	}
	lo, err1 := strconv.Atoi(first)
	hi, err2 := strconv.Atoi(last)
	if err1 != nil || err2 != nil || len(first) != len(last) || lo > hi {
		return nil, fmt.Errorf("bad AI range %q", fields[0])
	}
	proto := AIDef{Title: title}
	rest := fields[1:]
	if len(rest) > 0 && strings.Trim(rest[0], "*?") == "" {
		proto.Predefined = strings.Contains(rest[0], "*")
		proto.DLAttribute = strings.Contains(rest[0], "?")
		rest = rest[1:]
	}
	for _, f := range rest {
		switch {
		case strings.HasPrefix(f, "req="):
			var alts [][]string
			for _, alt := range strings.Split(f[4:], ",") {
				alts = append(alts, strings.Split(alt, "+"))
			}
			proto.Requires = append(proto.Requires, alts)
		case strings.HasPrefix(f, "ex="):
			proto.Excludes = append(proto.Excludes, strings.Split(f[3:], ",")...)
		case f == "dlpkey":
			proto.DLPrimaryKey = true
		case strings.HasPrefix(f, "dlpkey="):
			proto.DLPrimaryKey = true
			for _, seq := range strings.Split(f[7:], "|") {
				proto.DLQualifiers = append(proto.DLQualifiers, strings.Split(seq, ","))
			}
		default:
			c, err := parseComponent(f)
			if err != nil {
				return nil, err
			}
			proto.Components = append(proto.Components, c)
		}
	}
	if len(proto.Components) == 0 {
		return nil, fmt.Errorf("AI %s has no components", fields[0])
	}
	var defs []*AIDef
	for n := lo; n <= hi; n++ {
		d := proto
		d.AI = fmt.Sprintf("%0*d", len(first), n)
		if lo != hi {
			d.Title = strings.ReplaceAll(title, " s", " "+strconv.Itoa(n-lo))
		}
		defs = append(defs, &d)
	}
	return defs, nil
}

// parseComponent reads "N6,yymmd0", "X..20", "[N4],hhmi" or "[X1],hyphen".
func parseComponent(f string) (Component, error) {
	var c Component
	if strings.HasPrefix(f, "[") {
		end := strings.IndexByte(f, ']')
		if end < 0 {
			return c, fmt.Errorf("bad component %q", f)
		}
		c.Optional = true
		f = f[1:end] + f[end+1:]
	}
	parts := strings.Split(f, ",")
	spec := parts[0]
	if spec == "" {
		return c, fmt.Errorf("empty component")
	}
	c.Charset = Charset(spec[0])
	switch c.Charset {
	case Numeric, CSET82, CSET39, CSET64:
	default:
		return c, fmt.Errorf("bad charset in %q", f)
	}
	n := spec[1:]
	variable := strings.HasPrefix(n, "..")
	n = strings.TrimPrefix(n, "..")
	size, err := strconv.Atoi(n)
	if err != nil || size < 1 {
		return c, fmt.Errorf("bad length in %q", f)
	}
	c.Min, c.Max = size, size
	if variable {
		c.Min = 1
	}
	for _, name := range parts[1:] {
		if _, ok := checks[name]; !ok {
			return c, fmt.Errorf("unknown check %q", name)
		}
		c.Checks = append(c.Checks, name)
	}
	return c, nil
}

// matchesPattern reports whether ai matches p, where "n" in p stands for
// any digit ("31nn" matches "3103").
func matchesPattern(ai, p string) bool {
	if len(ai) != len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] == 'n' {
			if ai[i] < '0' || ai[i] > '9' {
				return false
			}
		} else if p[i] != ai[i] {
			return false
		}
	}
	return true
}
