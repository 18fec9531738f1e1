package gs1

import (
	"net/url"
	"slices"
	"strings"
)

// DefaultDigitalLinkBase is the canonical GS1 resolver domain, used when no
// base is given.
const DefaultDigitalLinkBase = "https://id.gs1.org"

// MaxDigitalLinkLen is the longest Digital Link URI, in bytes, that
// ParseDigitalLink (and ParseScan) reads. A real one is a domain, a primary
// key with at most three qualifiers and a few attributes, a few hundred
// bytes even percent-encoded; a QR code holds at most 2,953 bytes and a
// Data Matrix 1,556. Longer input is refused before it is split, so a
// hostile megabyte costs no more than its length.
const MaxDigitalLinkLen = 4096

// ParseDigitalLink reads a GS1 Digital Link URI on any domain and under any
// path prefix, e.g. "https://example.com/dl/01/09506000134352/10/ABC/21/1?17=281231".
// The path ends with a primary key and its qualifiers in their fixed order;
// the query may carry data attributes (AIs such as 17 or 8030), where "+"
// stands for a space as in any query string. Values and query keys are
// percent-decoded ("?%31%37=281231" carries AI 17), and a malformed escape
// anywhere in the query is an error. Query parameters that are not AIs
// (linkType, context...) are ignored. A GTIN may be written as a GTIN-8,
// GTIN-12 or GTIN-13, in the path or the query, and reads as the GTIN-14,
// zero-padded on the left; a GTIN of any other length is refused. As in
// the GS1 Barcode Syntax Engine, an AI may appear only once, and a
// qualifier that belongs in the path may not stand in the query. Unlike
// the engine, which takes only all-lower or all-upper case, the scheme may
// be in any case (RFC 3986 §3.1; a phone's keyboard writes "Https://").
// A URI longer than MaxDigitalLinkLen is refused, and so is a path that
// ends in more AI segments than a primary key and its qualifiers can fill.
func ParseDigitalLink(uri string) (ElementString, error) {
	return validated(parseDigitalLink, uri)
}

// parseLedgerDigitalLink is how ParseEPC and CanonicalDigitalLink read a
// Digital Link: as EPCs in the ledger's entries were read when those
// entries were judged. Whether a capture is accepted, and its events'
// hash ids, depend on that reading, and every node, now and whenever it
// replays the entry, must judge as the others did; so it stays as it was,
// and may change only with a version of the rules (models.RulesVersion)
// that chooses between the old reading and the new. It differs from
// parseDigitalLink in the query, whose attributes an EPC does not use: a
// key is taken as written (a percent-encoded one is no AI and is ignored,
// as is any parameter that is not an AI, malformed escapes and all); the
// AIs of ledgerUnknownAIs are unknown, in the query and the path; and a
// GTIN in the path must have its 14 digits.
func parseLedgerDigitalLink(uri string) (ElementString, error) {
	return parseDigitalLinkAs(uri, true)
}

// ledgerUnknownAIs are AIs this package learnt after the ledger's reading
// of EPCs was fixed (parseLedgerDigitalLink).
var ledgerUnknownAIs = map[string]bool{"717": true}

func parseDigitalLink(uri string) (ElementString, error) {
	return parseDigitalLinkAs(uri, false)
}

// parseDigitalLinkAs reads a Digital Link as a scan (ledger false) or as
// the ledger reads an EPC (ledger true; see parseLedgerDigitalLink).
func parseDigitalLinkAs(uri string, ledger bool) (ElementString, error) {
	if len(uri) > MaxDigitalLinkLen {
		return nil, errorf("", clip(uri), "Digital Link URI is %d bytes long, more than the %d allowed", len(uri), MaxDigitalLinkLen)
	}
	var rest string
	switch {
	case hasPrefixFold(uri, "https://"):
		rest = uri[8:]
	case hasPrefixFold(uri, "http://"):
		rest = uri[7:]
	default:
		return nil, errorf("", uri, "a Digital Link URI starts with http:// or https://")
	}
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	query := ""
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest, query = rest[:i], rest[i+1:]
	}
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return nil, errorf("", uri, "Digital Link URI has no path")
	}
	if host := rest[:slash]; host == "" || strings.Trim(host, hostChars) != "" {
		return nil, errorf("", uri, "Digital Link URI has a missing or malformed domain %q", clip(host))
	}
	if strings.HasSuffix(rest, "/") {
		return nil, errorf("", uri, "a Digital Link path may not end with \"/\"")
	}
	segs := strings.Split(rest[slash+1:], "/")

	// Walk the path from the end in (AI, value) pairs until the primary key,
	// no further than a key and its longest qualifier sequence reach.
	maxPairs := 1 + theTable().maxDLQualifiers
	var path ElementString
	var key *AIDef
	for k := len(segs); k >= 2; k -= 2 {
		d := LookupAI(segs[k-2])
		if d == nil || ledger && ledgerUnknownAIs[d.AI] {
			break
		}
		if len(path) == maxPairs {
			return nil, errorf("", uri, "a Digital Link path ends in at most %d AI segments (a primary key and its qualifiers); this one has more", maxPairs)
		}
		v, err := url.PathUnescape(segs[k-1])
		if err != nil {
			return nil, errorf(d.AI, segs[k-1], "bad percent-encoding in %q", clip(segs[k-1]))
		}
		if d.AI == "01" && !ledger {
			v = gtin14(v)
		}
		path = append(path, Element{AI: d.AI, Value: v})
		if d.DLPrimaryKey {
			key = d
			break
		}
	}
	if key == nil {
		return nil, errorf("", uri, "no GS1 Digital Link primary key (such as /01/ or /00/) in the path")
	}
	slices.Reverse(path) // walked from the end
	seqs, err := matchingQualifiers(key, path[1:])
	if err != nil {
		return nil, err
	}
	es := path
	for _, param := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(param, "=")
		if !ledger {
			// A percent-encoded digit is the digit (RFC 3986 §2.3): "%31%37"
			// is the key 17, so keys are decoded before non-AIs are
			// skipped. A malformed escape, in any key or value, makes the
			// URI no URI: refused, not skipped, lest it hide an AI.
			rawK := k
			var err error
			if k, err = url.QueryUnescape(rawK); err != nil {
				return nil, errorf("", rawK, "bad percent-encoding in the query key %q", clip(rawK))
			}
			if _, err := url.QueryUnescape(v); err != nil && !isDigits(k) {
				return nil, errorf("", v, "bad percent-encoding in the value %q of the query parameter %q", clip(v), clip(k))
			}
		}
		if !isDigits(k) {
			continue // not an AI: linkType, context and the like
		}
		d := LookupAI(k)
		if d == nil || ledger && ledgerUnknownAIs[k] {
			return nil, errorf(k, "", "unknown Application Identifier in the query")
		}
		if !d.DLAttribute {
			return nil, errorf(k, v, "may not be a Digital Link query attribute")
		}
		for _, seq := range seqs {
			for _, q := range seq {
				if q == k {
					return nil, errorf(k, v, "is a qualifier of AI (%s) and belongs in the path, not the query", key.AI)
				}
			}
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return nil, errorf(k, v, "bad percent-encoding in %q", clip(v))
		}
		if k == "01" {
			// A GTIN as a data attribute may be zero-suppressed too (the
			// Digital Link standard's own example).
			dv = gtin14(dv)
		}
		if dv == "" {
			return nil, errorf(k, "", "no value")
		}
		es = append(es, Element{AI: k, Value: dv})
	}
	if i := firstRepeatedAI(es); i >= 0 {
		return nil, errorf(es[i].AI, es[i].Value, "appears more than once in the Digital Link URI")
	}
	return es, nil
}

// gtin14 is a GTIN-8, GTIN-12 or GTIN-13 written as the GTIN-14 it is,
// zero-padded on the left, and any other value as it is, for the AI (01)
// check to judge. A Digital Link may carry the shorter forms (GS1's
// Digital Link toolkit reads /01/ as (\d{12,14}|\d{8}); the Syntax Engine
// does with PermitZeroSuppressedGTINinDLuris), and a phone app that knows
// a product by its EAN-13 writes that. Leading zeros leave the check
// digit as it was, so the padded GTIN is checked as the printed one.
func gtin14(v string) string {
	if (len(v) == 8 || len(v) == 12 || len(v) == 13) && isDigits(v) {
		return strings.Repeat("0", 14-len(v)) + v
	}
	return v
}

// firstRepeatedAI returns the index of the first element whose AI an
// earlier element already has, or -1, in time linear in len(es). (The map
// has no size hint, so for the few elements of a real link it stays on the
// stack.)
func firstRepeatedAI(es ElementString) int {
	seen := map[string]struct{}{}
	for i, e := range es {
		if _, ok := seen[e.AI]; ok {
			return i
		}
		seen[e.AI] = struct{}{}
	}
	return -1
}

// hostChars are the characters a Digital Link domain may hold: names,
// IPv4 and bracketed IPv6 addresses and a port. Zone identifiers ("%25")
// are of no use in a resolvable URI and are refused.
const hostChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.:[]"

// matchingQualifiers checks that the qualifiers after key follow one of
// its allowed sequences, in order, each at most once, and returns every
// sequence they fit.
func matchingQualifiers(key *AIDef, quals ElementString) ([][]string, error) {
	var fits [][]string
	for _, seq := range key.DLQualifiers {
		pos := 0
		ok := true
		for _, q := range quals {
			for pos < len(seq) && seq[pos] != q.AI {
				pos++
			}
			if pos == len(seq) {
				ok = false
				break
			}
			pos++
		}
		if ok {
			fits = append(fits, seq)
		}
	}
	if len(quals) == 0 || len(fits) > 0 {
		return fits, nil
	}
	if len(key.DLQualifiers) == 0 {
		return nil, errorf(quals[0].AI, quals[0].Value, "AI (%s) takes no qualifiers in a Digital Link path", key.AI)
	}
	var allowed []string
	for _, seq := range key.DLQualifiers {
		allowed = append(allowed, "/"+strings.Join(seq, "/"))
	}
	return nil, errorf(quals[0].AI, quals[0].Value, "qualifiers of AI (%s) must follow the order %s", key.AI, strings.Join(allowed, " or "))
}

// DigitalLink returns the elements as a GS1 Digital Link URI under base
// (DefaultDigitalLinkBase when empty), as the GS1 Barcode Syntax Engine
// writes it: the first primary key and its qualifiers in the path; the
// other elements as query attributes, those of predefined length first,
// each group in the order given; repeats dropped; values percent-encoded.
func (es ElementString) DigitalLink(base string) (string, error) {
	if base == "" {
		base = DefaultDigitalLinkBase
	}
	var key *AIDef
	keyIdx := -1
	for i, e := range es {
		if d := LookupAI(e.AI); d != nil && d.DLPrimaryKey {
			key, keyIdx = d, i
			break
		}
	}
	if key == nil {
		return "", errorf("", "", "no Digital Link primary key among the AIs")
	}
	var b strings.Builder
	b.WriteString(strings.TrimRight(base, "/"))
	var done ElementString // what the URI already carries
	sep := byte('?')
	write := func(e Element, attr bool) {
		for _, d := range done {
			if d == e {
				return
			}
		}
		done = append(done, e)
		if !attr {
			writeSeg(&b, e.AI, e.Value)
			return
		}
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(e.AI + "=" + escapeDL(e.Value))
	}
	write(es[keyIdx], false)

	// The qualifier sequence that covers the most of the present AIs.
	var best []string
	bestN := -1
	for _, seq := range key.DLQualifiers {
		n := 0
		for _, q := range seq {
			if es.has(q) {
				n++
			}
		}
		if n > bestN {
			best, bestN = seq, n
		}
	}
	isQualifier := map[string]bool{}
	for _, q := range best {
		isQualifier[q] = true
		if v, ok := es.Get(q); ok {
			write(Element{AI: q, Value: v}, false)
		}
	}
	for _, predefined := range []bool{true, false} {
		for _, e := range es {
			d := LookupAI(e.AI)
			if isQualifier[e.AI] || e == es[keyIdx] {
				continue
			}
			if d == nil || !d.DLAttribute {
				return "", errorf(e.AI, e.Value, "cannot be carried by a Digital Link URI with primary key (%s)", key.AI)
			}
			if d.Predefined == predefined {
				write(e, true)
			}
		}
	}
	return b.String(), nil
}

func writeSeg(b *strings.Builder, ai, v string) {
	b.WriteByte('/')
	b.WriteString(ai)
	b.WriteByte('/')
	b.WriteString(escapeDL(v))
}

// escapeDL percent-encodes every byte outside RFC 3986's unreserved set, so
// a value means the same in a path segment and a query parameter.
func escapeDL(v string) string {
	const hex = "0123456789ABCDEF"
	clean := true
	for i := 0; i < len(v); i++ {
		if !unreserved(v[i]) {
			clean = false
			break
		}
	}
	if clean {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if unreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func unreserved(c byte) bool {
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~'
}
