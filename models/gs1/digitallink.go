package gs1

import (
	"net/url"
	"strings"
)

// DefaultDigitalLinkBase is the canonical GS1 resolver domain, used when no
// base is given.
const DefaultDigitalLinkBase = "https://id.gs1.org"

// ParseDigitalLink reads a GS1 Digital Link URI on any domain and under any
// path prefix, e.g. "https://example.com/dl/01/09506000134352/10/ABC/21/1?17=281231".
// The path ends with a primary key and its qualifiers in their fixed order;
// the query may carry data attributes (AIs such as 17 or 8030). Values are
// percent-decoded; a GTIN-8, -12 or -13 key is widened to 14 digits. Query
// parameters that are not AIs (linkType, context...) are ignored.
func ParseDigitalLink(uri string) (ElementString, error) {
	return validated(parseDigitalLink, uri)
}

func parseDigitalLink(uri string) (ElementString, error) {
	if !isHTTPURI(uri) {
		return nil, errorf("", uri, "a Digital Link URI starts with http:// or https://")
	}
	rest := uri[strings.Index(uri, "//")+2:]
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	query := ""
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest, query = rest[:i], rest[i+1:]
	}
	slash := strings.IndexByte(rest, '/')
	if slash <= 0 {
		return nil, errorf("", uri, "Digital Link URI has no path")
	}
	segs := strings.Split(strings.TrimSuffix(rest[slash+1:], "/"), "/")

	// Walk the path from the end in (AI, value) pairs until the primary key.
	var path ElementString
	var key *AIDef
	for k := len(segs); k >= 2; k -= 2 {
		d := LookupAI(segs[k-2])
		if d == nil {
			break
		}
		v, err := url.PathUnescape(segs[k-1])
		if err != nil {
			return nil, errorf(d.AI, segs[k-1], "bad percent-encoding in %q", clip(segs[k-1]))
		}
		if d.AI == "01" && (len(v) == 8 || len(v) == 12 || len(v) == 13) && isDigits(v) {
			v = strings.Repeat("0", 14-len(v)) + v
		}
		path = append(ElementString{{AI: d.AI, Value: v}}, path...)
		if d.DLPrimaryKey {
			key = d
			break
		}
	}
	if key == nil {
		return nil, errorf("", uri, "no GS1 Digital Link primary key (such as /01/ or /00/) in the path")
	}
	if err := checkQualifiers(key, path[1:]); err != nil {
		return nil, err
	}
	es := path
	if query != "" {
		for _, param := range strings.Split(query, "&") {
			k, v, _ := strings.Cut(param, "=")
			if !isDigits(k) {
				continue // not an AI: linkType, context and the like
			}
			d := LookupAI(k)
			if d == nil {
				return nil, errorf(k, "", "unknown Application Identifier in the query")
			}
			if !d.DLAttribute {
				return nil, errorf(k, v, "may not be a Digital Link query attribute")
			}
			dv, err := url.PathUnescape(v)
			if err != nil {
				return nil, errorf(k, v, "bad percent-encoding in %q", clip(v))
			}
			if dv == "" {
				return nil, errorf(k, "", "no value")
			}
			es = append(es, Element{AI: k, Value: dv})
		}
	}
	return es, nil
}

// checkQualifiers checks that the qualifiers after key follow one of its
// allowed sequences, in order, each at most once.
func checkQualifiers(key *AIDef, quals ElementString) error {
	if len(quals) == 0 {
		return nil
	}
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
			return nil
		}
	}
	if len(key.DLQualifiers) == 0 {
		return errorf(quals[0].AI, quals[0].Value, "AI (%s) takes no qualifiers in a Digital Link path", key.AI)
	}
	var allowed []string
	for _, seq := range key.DLQualifiers {
		allowed = append(allowed, "/"+strings.Join(seq, "/"))
	}
	return errorf(quals[0].AI, quals[0].Value, "qualifiers of AI (%s) must follow the order %s", key.AI, strings.Join(allowed, " or "))
}

// DigitalLink returns the elements as a GS1 Digital Link URI under base
// (DefaultDigitalLinkBase when empty): the primary key and its qualifiers in
// the path, the other elements as query attributes, values percent-encoded.
func (es ElementString) DigitalLink(base string) (string, error) {
	if base == "" {
		base = DefaultDigitalLinkBase
	}
	base = strings.TrimRight(base, "/")
	keyIdx := -1
	for i, e := range es {
		if d := LookupAI(e.AI); d != nil && d.DLPrimaryKey {
			keyIdx = i
			break
		}
	}
	if keyIdx < 0 {
		return "", errorf("", "", "no Digital Link primary key among the AIs")
	}
	key := LookupAI(es[keyIdx].AI)
	used := make([]bool, len(es))
	used[keyIdx] = true
	var b strings.Builder
	b.WriteString(base)
	writeSeg(&b, key.AI, es[keyIdx].Value)

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
	for _, q := range best {
		for i, e := range es {
			if !used[i] && e.AI == q {
				writeSeg(&b, e.AI, e.Value)
				used[i] = true
				break
			}
		}
	}
	sep := byte('?')
	for i, e := range es {
		if used[i] {
			continue
		}
		d := LookupAI(e.AI)
		if d == nil || !d.DLAttribute {
			return "", errorf(e.AI, e.Value, "cannot be carried by a Digital Link URI with primary key (%s)", key.AI)
		}
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(e.AI)
		b.WriteByte('=')
		b.WriteString(escapeDL(e.Value))
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
