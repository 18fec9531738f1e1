package models

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// The CBV 2.0 event hash (CBV 2.0 §8.9): an event without an eventID is
// named ni:///sha-256;<hex>?ver=CBV2.0, the SHA-256 of a canonical pre-hash
// string. The string is the event's fields in a fixed order, each written
// name=value with no separators; list members are sorted; times are UTC at
// millisecond precision; GS1 identifiers (EPCs, locations, parties,
// business transactions, transformation ids, sensor devices) become
// canonical GS1 Digital Link URIs on id.gs1.org; CBV values become GS1 Web
// URIs; compact URIs (gs1:Temperature) are expanded. recordTime,
// eventID, certificationInfo and errorDeclaration are left out, so the same
// event captured twice, in XML or JSON, gets the same id, and so does its
// later error declaration, which restates it under the same id.

// The hash id's text around the hex digest.
const (
	hashIDPrefix = "ni:///sha-256;"
	hashIDSuffix = "?ver=CBV2.0"
)

// EventHashID returns the CBV 2.0 hash id of e, as the newest rules
// write it.
func EventHashID(e Event) string { return eventHashID(&e, RulesVersion) }

// EventHashIDAt returns the hash id of e as a ledger at rules version
// rules names it.
func EventHashIDAt(e Event, rules int) string { return eventHashID(&e, rules) }

// eventHashID returns the hash id of e as the rules of version rules write
// it: the rules name an event without an id by its hash, so its id is
// part of what the ledger records, and a node replaying an entry must
// hash as the entry's rules did.
func eventHashID(e *Event, rules int) string {
	// Every node hashes every event without an id, so the pre-hash string
	// is built in a pooled buffer and the id in a fixed array: one
	// allocation, the returned string, for a typical event.
	bp := preHashBufs.Get().(*[]byte)
	b := appendPreHash((*bp)[:0], e, rules < rulesEPCISFidelity)
	sum := sha256.Sum256(b)
	putPreHashBuf(bp, b)
	var id [len(hashIDPrefix) + 2*sha256.Size + len(hashIDSuffix)]byte
	copy(id[:], hashIDPrefix)
	hex.Encode(id[len(hashIDPrefix):], sum[:])
	copy(id[len(hashIDPrefix)+2*sha256.Size:], hashIDSuffix)
	return string(id[:])
}

// PreHash returns the canonical pre-hash string of e, as the newest rules
// write it.
func PreHash(e Event) string {
	bp := preHashBufs.Get().(*[]byte)
	b := appendPreHash((*bp)[:0], &e, false)
	s := string(b)
	putPreHashBuf(bp, b)
	return s
}

// preHashBufs holds pre-hash buffers for reuse.
var preHashBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// putPreHashBuf returns a buffer to the pool, unless one huge event grew it.
func putPreHashBuf(bp *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		preHashBufs.Put(bp)
	}
}

// appendPreHash appends the pre-hash string of e to b; v1 writes it as
// rules version 1 did (see hashNS).
func appendPreHash(b []byte, e *Event, v1 bool) []byte {
	// Only user fields and values that may be compact URIs need the
	// context's namespaces, so they are read on first use.
	ns := hashNS{ctx: e.Context, v1: v1}
	b = append(b, "eventType="...)
	b = append(b, e.Type...)
	b = append(b, "eventTime="...)
	b = appendHashTime(b, e.EventTime)
	b = append(b, "eventTimeZoneOffset="...)
	b = append(b, e.EventTimeZoneOffset...)
	b = appendHashEPCs(b, "epcList", e.EPCList, v1)
	if e.ParentID != "" {
		b = append(b, "parentID="...)
		b = appendHashEPC(b, e.ParentID, v1)
	}
	b = appendHashEPCs(b, "inputEPCList", e.InputEPCList, v1)
	b = appendHashEPCs(b, "childEPCs", e.ChildEPCs, v1)
	b = appendHashQuantities(b, "quantityList", e.QuantityList, v1)
	b = appendHashQuantities(b, "childQuantityList", e.ChildQuantityList, v1)
	b = appendHashQuantities(b, "inputQuantityList", e.InputQuantityList, v1)
	b = appendHashEPCs(b, "outputEPCList", e.OutputEPCList, v1)
	b = appendHashQuantities(b, "outputQuantityList", e.OutputQuantityList, v1)
	b = appendHashField(b, "action=", e.Action)
	if v1 {
		b = appendHashField(b, "transformationID=", e.TransformationID)
	} else if e.TransformationID != "" {
		b = appendHashID(append(b, "transformationID="...), e.TransformationID, &ns)
	}
	if e.BizStep != "" {
		b = append(b, "bizStep="...)
		b = vocabBizStep.appendWebURI(b, e.BizStep, &ns)
	}
	if e.Disposition != "" {
		b = append(b, "disposition="...)
		b = vocabDisposition.appendWebURI(b, e.Disposition, &ns)
	}
	if pd := e.PersistentDisposition; pd != nil && len(pd.Set)+len(pd.Unset) > 0 {
		b = append(b, "persistentDisposition"...)
		for _, l := range []struct {
			name string
			list []string
		}{{"set=", pd.Set}, {"unset=", pd.Unset}} {
			b = appendSorted(b, len(l.list), func(b []byte, i int) []byte {
				return vocabDisposition.appendWebURI(append(b, l.name...), l.list[i], &ns)
			})
		}
	}
	// A location's user fields follow its id (CBV 2.0 §8.9: extensions of
	// a standard field come at the end of its regular fields).
	if e.ReadPoint != "" {
		b = append(b, "readPointid="...)
		b = appendHashID(b, e.ReadPoint, &ns)
		b = appendGenericFields(b, e.ReadPointExtensions, &ns)
	}
	if e.BizLocation != "" {
		b = append(b, "bizLocationid="...)
		b = appendHashID(b, e.BizLocation, &ns)
		b = appendGenericFields(b, e.BizLocationExtensions, &ns)
	}
	if list := e.BizTransactionList; len(list) > 0 {
		b = append(b, "bizTransactionList"...)
		b = appendSorted(b, len(list), func(b []byte, i int) []byte {
			b = append(b, "bizTransaction="...)
			if v1 {
				b = append(b, list[i].BizTransaction...)
			} else {
				b = appendHashID(b, list[i].BizTransaction, &ns)
			}
			if list[i].Type != "" {
				b = append(b, "type="...)
				b = vocabBizTransactionType.appendWebURI(b, list[i].Type, &ns)
			}
			return b
		})
	}
	if list := e.SourceList; len(list) > 0 {
		b = append(b, "sourceList"...)
		b = appendSorted(b, len(list), func(b []byte, i int) []byte {
			b = appendHashID(append(b, "source="...), list[i].Source, &ns)
			return vocabSourceDestType.appendWebURI(append(b, "type="...), list[i].Type, &ns)
		})
	}
	if list := e.DestinationList; len(list) > 0 {
		b = append(b, "destinationList"...)
		b = appendSorted(b, len(list), func(b []byte, i int) []byte {
			b = appendHashID(append(b, "destination="...), list[i].Destination, &ns)
			return vocabSourceDestType.appendWebURI(append(b, "type="...), list[i].Type, &ns)
		})
	}
	// generic: the event or its ILMD has user fields, which are written
	// generically below (a sensor element's are written with it).
	generic := len(e.Extensions) > 0 || e.ILMD != nil && len(e.ILMD.Extensions) > 0
	if len(e.SensorElementList) > 0 {
		b = append(b, "sensorElementList"...)
		b = append(b, sortedJoin(e.SensorElementList, func(se SensorElement) string { return hashSensorElement(se, &ns) })...)
	}
	// ILMD and user extensions are written generically, sorted, after the
	// ordered fields.
	if !generic {
		// Only the ILMD, if any: its lot and expiry, which sort
		// itemExpirationDate first.
		if m := e.ILMD; m != nil {
			b = append(b, "ilmd"...)
			b = appendHashField(b, cbvmdaNS+"itemExpirationDate=", m.ItemExpirationDate)
			b = appendHashField(b, cbvmdaNS+"lotNumber=", m.LotNumber)
		}
		return b
	}
	var rest []string
	if m := e.ILMD; m != nil {
		var parts []string
		if m.LotNumber != "" {
			parts = append(parts, cbvmdaNS+"lotNumber="+m.LotNumber)
		}
		if m.ItemExpirationDate != "" {
			parts = append(parts, cbvmdaNS+"itemExpirationDate="+m.ItemExpirationDate)
		}
		parts = append(parts, genericFields(m.Extensions, &ns)...)
		slices.Sort(parts)
		rest = append(rest, "ilmd"+strings.Join(parts, ""))
	}
	rest = append(rest, genericFields(e.Extensions, &ns)...)
	slices.Sort(rest)
	for _, r := range rest {
		b = append(b, r...)
	}
	return b
}

// hashNS is what the pre-hash of an event needs beside the event: the
// namespaces of its @context, read once when first needed, and whether it
// is written as rules version 1 wrote it. Version 1 wrote identifiers
// other than the EPCs Pedigree parses (SGTIN, SSCC, SGLN, PGLN, GIAI,
// LGTIN) as given, and bizTransaction and transformationID values as
// given; it expanded no compact URI and left out locations' user fields.
type hashNS struct {
	ctx  json.RawMessage
	ns   map[string]string
	read bool
	v1   bool
}

func (h *hashNS) get() map[string]string {
	if !h.read {
		h.ns, h.read = contextNamespaces(h.ctx), true
	}
	return h.ns
}

// appendGenericFields appends user fields as genericFields writes them,
// sorted.
func appendGenericFields(b []byte, m map[string]json.RawMessage, ns *hashNS) []byte {
	if len(m) == 0 || ns.v1 {
		return b
	}
	for _, f := range genericFields(m, ns) {
		b = append(b, f...)
	}
	return b
}

// appendHashField appends name (with its "=") and value, if value is set.
func appendHashField(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	return append(append(b, name...), value...)
}

// appendHashEPCs appends a list of EPCs, sorted, after its name.
func appendHashEPCs(b []byte, name string, list []string, v1 bool) []byte {
	if len(list) == 0 {
		return b
	}
	b = append(b, name...)
	return appendSorted(b, len(list), func(b []byte, i int) []byte {
		return appendHashEPC(append(b, "epc="...), list[i], v1)
	})
}

// appendHashQuantities appends a quantity list, sorted, after its name.
func appendHashQuantities(b []byte, name string, list []QuantityElement, v1 bool) []byte {
	if len(list) == 0 {
		return b
	}
	b = append(b, name...)
	return appendSorted(b, len(list), func(b []byte, i int) []byte {
		q := &list[i]
		b = appendHashEPC(append(b, "quantityElementepcClass="...), q.EPCClass, v1)
		if q.Quantity != nil {
			b = appendHashNumber(append(b, "quantity="...), *q.Quantity)
		}
		return appendHashField(b, "uom=", q.UOM)
	})
}

// appendSorted appends the n items render writes, in byte order, as the
// hash requires for unordered lists: sorting the rendered strings, without
// making them strings.
func appendSorted(b []byte, n int, render func(b []byte, i int) []byte) []byte {
	switch n {
	case 0:
		return b
	case 1:
		return render(b, 0)
	}
	type span struct{ start, end int }
	scratch := make([]byte, 0, 128*n)
	spans := make([]span, n)
	for i := range spans {
		start := len(scratch)
		scratch = render(scratch, i)
		spans[i] = span{start, len(scratch)}
	}
	slices.SortFunc(spans, func(x, y span) int {
		return bytes.Compare(scratch[x.start:x.end], scratch[y.start:y.end])
	})
	for _, s := range spans {
		b = append(b, scratch[s.start:s.end]...)
	}
	return b
}

// appendWebURI appends the GS1 Web URI form of a normalized value, the
// form the event hash uses (see webURI); a value outside the vocabulary is
// appended with a compact URI expanded.
func (v *cbvVocab) appendWebURI(b []byte, bare string, ns *hashNS) []byte {
	if v.values[bare] {
		return append(append(b, v.web...), bare...)
	}
	if ns.v1 {
		return append(b, bare...)
	}
	return appendCURIE(b, bare, ns)
}

// curiePrefixes are the compact URI prefixes CBV 2.0 §8.9 expands whatever
// a context says: the GS1 Web vocabulary, the CBV and EPCIS.
var curiePrefixes = map[string]string{"gs1": "https://gs1.org/voc/", "cbv": "https://ref.gs1.org/cbv/", "epcis": "https://ref.gs1.org/epcis/"}

// expandCURIE splits a compact URI such as gs1:Temperature into its
// prefix's IRI and its local part: ok when the prefix is one of
// curiePrefixes or, failing that, one the event's context declares (ns).
// "scheme://..." is an IRI, not a compact URI.
func expandCURIE(s string, ns map[string]string) (iri, local string, ok bool) {
	i := strings.IndexByte(s, ':')
	if i <= 0 || strings.HasPrefix(s[i+1:], "//") {
		return "", "", false
	}
	if iri, ok := curiePrefixes[s[:i]]; ok {
		return iri, s[i+1:], true
	}
	if iri, ok := ns[s[:i]]; ok {
		return iri, s[i+1:], true
	}
	return "", "", false
}

// appendCURIE appends s, expanded if it is a compact URI.
func appendCURIE(b []byte, s string, ns *hashNS) []byte {
	if iri, local, ok := expandCURIE(s, ns.get()); ok {
		return append(append(b, iri...), local...)
	}
	return append(b, s...)
}

// appendHashID appends an identifier as the hash writes it: a GS1
// identifier as its canonical Digital Link URI, a compact URI expanded,
// anything else as given. A GS1 identifier is never read as a compact URI,
// whatever prefixes a context declares.
func appendHashID(b []byte, id string, ns *hashNS) []byte {
	if ns.v1 {
		return appendHashEPC(b, id, true)
	}
	n := len(b)
	b = appendHashEPC(b, id, false)
	if string(b[n:]) != id {
		return b
	}
	return appendCURIE(b[:n], id, ns)
}

// hashTimeLayout is UTC with exactly three fractional digits.
const hashTimeLayout = "2006-01-02T15:04:05.000Z"

// appendHashTime appends t as hashTime writes it.
func appendHashTime(b []byte, t time.Time) []byte {
	return t.UTC().Round(time.Millisecond).AppendFormat(b, hashTimeLayout)
}

// appendHashEPC appends hashEPC(uri). The identifiers events carry by the
// thousand (packs, cases, locations) are written straight into b in the
// canonical Digital Link form, which for them is fixed: the key, then the
// one qualifier, each value as is when it needs no percent-encoding
// (TestAppendHashEPCMatchesDigitalLink and FuzzAppendHashEPC compare with
// gs1's DigitalLink). Anything else goes through hashEPC.
//
// v1 writes it as rules version 1 did (hashEPCv1).
func appendHashEPC(b []byte, uri string, v1 bool) []byte {
	e, err := parseEPC(uri)
	if err != nil {
		if v1 {
			return append(b, uri...)
		}
		return append(b, canonicalID(uri)...)
	}
	switch e.Kind {
	case gs1.EPCSGTIN:
		if dlPlain(e.SGTIN.GTIN) && dlPlain(e.SGTIN.Serial) {
			b = append(append(b, dlBase...), "/01/"...)
			b = append(append(b, e.SGTIN.GTIN...), "/21/"...)
			return append(b, e.SGTIN.Serial...)
		}
	case gs1.EPCSSCC:
		if dlPlain(string(e.SSCC)) {
			return append(append(append(b, dlBase...), "/00/"...), e.SSCC...)
		}
	case gs1.EPCSGLN:
		if dlPlain(string(e.SGLN.GLN)) && (e.SGLN.Extension == "" || dlPlain(e.SGLN.Extension)) {
			b = append(append(append(b, dlBase...), "/414/"...), e.SGLN.GLN...)
			if e.SGLN.Extension != "" {
				b = append(append(b, "/254/"...), e.SGLN.Extension...)
			}
			return b
		}
	}
	if v1 {
		return append(b, hashEPCv1(uri)...)
	}
	return append(b, hashEPC(uri)...)
}

// dlBase is the Digital Link base the hash uses, without a final slash.
var dlBase = strings.TrimRight(gs1.DefaultDigitalLinkBase, "/")

// dlPlain reports whether a Digital Link writes v as is: not empty, and
// only RFC 3986 unreserved characters.
func dlPlain(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return v != ""
}

// appendHashNumber appends hashNumber(f).
func appendHashNumber(b []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// cbvmdaNS is how the hash writes the CBV master data namespace of the
// ILMD fields: {namespace}name, as the reference implementation and
// epcis2.js write namespaced elements.
const cbvmdaNS = "{urn:epcglobal:cbv:mda}"

// sortedJoin renders each item and concatenates the results in lexical
// order, as the hash requires for unordered lists.
func sortedJoin[T any](items []T, render func(T) string) string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = render(it)
	}
	slices.Sort(out)
	return strings.Join(out, "")
}

// hashTime writes t in UTC with exactly three fractional digits, rounding
// to the nearest millisecond.
func hashTime(t time.Time) string {
	return t.UTC().Round(time.Millisecond).Format(hashTimeLayout)
}

// hashEPC writes a GS1 identifier as its constrained canonical Digital
// Link URI (CBV 2.0 §8.9) and anything else as given.
func hashEPC(uri string) string {
	if strings.HasPrefix(uri, "urn:epc:") {
		// The EPC URIs Pedigree reads itself convert as they always did,
		// through the parses it remembers.
		if e, err := parseEPC(uri); err == nil {
			if es := elementsOf(e); es != nil {
				if dl, err := es.DigitalLink(gs1.DefaultDigitalLinkBase); err == nil {
					return dl
				}
			}
		}
	}
	return canonicalID(uri)
}

// hashEPCv1 is hashEPC as rules version 1 wrote identifiers: the EPCs
// Pedigree parses as their Digital Link URIs, anything else as given.
func hashEPCv1(uri string) string {
	e, err := parseEPC(uri)
	if err != nil {
		return uri
	}
	dl, err := elementsOf(e).DigitalLink(gs1.DefaultDigitalLinkBase)
	if err != nil {
		return uri
	}
	return dl
}

// canonicalID writes any GS1 identifier, an EPC URI of any scheme with a
// GS1 key (a sensor's GIAI, a GDTI naming a document) or a Digital Link URI
// on any domain, as its constrained canonical Digital Link URI, and
// anything else as given.
func canonicalID(uri string) string {
	if strings.HasPrefix(uri, "urn:epc:") || hasPrefixFold(uri, "https://") || hasPrefixFold(uri, "http://") {
		if dl, err := gs1.CanonicalDigitalLink(uri); err == nil {
			return dl
		}
	}
	return uri
}

// hasPrefixFold reports whether s starts with prefix, ignoring case, as a
// URI's scheme may be written (RFC 3986 §3.1).
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// hashNumber writes a number without trailing zeros (26, 0.1, 12.1).
func hashNumber(f float64) string {
	var buf [32]byte
	return string(appendHashNumber(buf[:0], f))
}

// hashValue writes a JSON scalar: numbers canonical, strings trimmed with
// the URI and vocabulary normalizations, booleans as given.
func hashValue(raw json.RawMessage, ns *hashNS) string {
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		return hashNumber(f)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return hashString(strings.TrimSpace(s), ns)
	}
	return strings.TrimSpace(string(raw))
}

// hashString canonicalizes a string value: a number written as a string
// becomes canonical, a CBV URN its Web URI, a timestamp UTC milliseconds, a
// GS1 identifier its Digital Link URI, a compact URI its expansion.
func hashString(s string, ns *hashNS) string {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return hashNumber(f)
	}
	for _, v := range []*cbvVocab{vocabBizStep, vocabDisposition, vocabBizTransactionType, vocabSourceDestType, vocabErrorReason} {
		if strings.HasPrefix(s, v.urn) {
			return v.web + s[len(v.urn):]
		}
	}
	if strings.HasPrefix(s, "urn:epcglobal:cbv:inchikey:") {
		return "https://identifiers.org/inchikey:" + s[len("urn:epcglobal:cbv:inchikey:"):]
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return hashTime(t)
	}
	if ns.v1 {
		return hashEPCv1(s)
	}
	if h := hashEPC(s); h != s {
		return h
	}
	if iri, local, ok := expandCURIE(s, ns.get()); ok {
		return iri + local
	}
	return s
}

func hashSensorElement(se SensorElement, ns *hashNS) string {
	var b strings.Builder
	b.WriteString("sensorElement")
	if len(se.SensorMetadata) > 0 {
		b.WriteString("sensorMetadata")
		b.WriteString(orderedSensorFields(se.SensorMetadata, sensorMetadataFields, ns))
	}
	b.WriteString(sortedJoin(se.SensorReport, func(r map[string]json.RawMessage) string {
		return "sensorReport" + orderedSensorFields(r, sensorReportFields, ns)
	}))
	b.WriteString(strings.Join(genericFields(se.Extensions, ns), ""))
	return b.String()
}

// orderedSensorFields writes the standard fields in hash order, then any
// extensions sorted.
func orderedSensorFields(m map[string]json.RawMessage, order []string, ns *hashNS) string {
	var b strings.Builder
	ext := make(map[string]json.RawMessage)
	for k, v := range m {
		if !slices.Contains(order, k) {
			ext[k] = v
		}
	}
	for _, k := range order {
		v, ok := m[k]
		if !ok {
			continue
		}
		val := hashValue(v, ns)
		if k == "type" && !strings.Contains(val, ":") {
			val = "https://gs1.org/voc/" + val // a bare measurement type
		}
		b.WriteString(k + "=" + val)
	}
	b.WriteString(strings.Join(genericFields(ext, ns), ""))
	return b.String()
}

// genericFields renders user fields: name=value for a scalar, name plus its
// sorted children for an object, one entry per member for an array. A
// name whose prefix the context defines is written {namespace}local.
func genericFields(m map[string]json.RawMessage, ns *hashNS) []string {
	var out []string
	for _, k := range sortedKeys(m) {
		out = append(out, genericField(expandName(k, ns.get()), m[k], ns)...)
	}
	slices.Sort(out)
	return out
}

func genericField(name string, raw json.RawMessage, ns *hashNS) []string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil && obj != nil {
		return []string{name + strings.Join(genericFields(obj, ns), "")}
	}
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) == nil {
		var out []string
		for _, a := range arr {
			out = append(out, genericField(name, a, ns)...)
		}
		return out
	}
	return []string{name + "=" + hashValue(raw, ns)}
}

// builtinNamespaces are prefixes the EPCIS 2.0 context defines, written as
// the reference implementation writes them.
var builtinNamespaces = map[string]string{"cbvmda": "urn:epcglobal:cbv:mda"}

// expandName writes prefix:local as {namespace}local when the prefix is
// known; other names stay as given.
func expandName(name string, ns map[string]string) string {
	i := strings.IndexByte(name, ':')
	if i <= 0 {
		return name
	}
	prefix := name[:i]
	if iri, ok := ns[prefix]; ok {
		return "{" + iri + "}" + name[i+1:]
	}
	if iri, ok := builtinNamespaces[prefix]; ok {
		return "{" + iri + "}" + name[i+1:]
	}
	return name
}

// contextNamespaces reads the prefix definitions of a JSON-LD @context: a
// string (a remote context, not fetched), an object of prefix: IRI, or an
// array of those.
func contextNamespaces(ctx json.RawMessage) map[string]string {
	if len(ctx) == 0 {
		return nil
	}
	ns := map[string]string{}
	var add func(raw json.RawMessage)
	add = func(raw json.RawMessage) {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) == nil {
			for _, r := range list {
				add(r)
			}
			return
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return
		}
		for k, v := range obj {
			var iri string
			if json.Unmarshal(v, &iri) == nil && strings.Contains(iri, ":") {
				ns[k] = iri
			}
		}
	}
	add(ctx)
	return ns
}
