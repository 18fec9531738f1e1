package models

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// The CBV 2.0 event hash (CBV 2.0 §8.9): an event without an eventID is
// named ni:///sha-256;<hex>?ver=CBV2.0, the SHA-256 of a canonical pre-hash
// string. The string is the event's fields in a fixed order, each written
// name=value with no separators; list members are sorted; times are UTC at
// millisecond precision; EPCs and locations become canonical GS1 Digital
// Link URIs on id.gs1.org; CBV values become GS1 Web URIs. recordTime,
// eventID, certificationInfo and errorDeclaration are left out, so the same
// event captured twice, in XML or JSON, gets the same id, and so does its
// later error declaration, which restates it under the same id.

// EventHashID returns the CBV 2.0 hash id of e.
func EventHashID(e Event) string {
	sum := sha256.Sum256([]byte(PreHash(e)))
	return "ni:///sha-256;" + hex.EncodeToString(sum[:]) + "?ver=CBV2.0"
}

// PreHash returns the canonical pre-hash string of e.
func PreHash(e Event) string {
	ns := contextNamespaces(e.Context)
	var b strings.Builder
	b.WriteString("eventType=" + e.Type)
	b.WriteString("eventTime=" + hashTime(e.EventTime))
	b.WriteString("eventTimeZoneOffset=" + e.EventTimeZoneOffset)
	epcs := func(name string, list []string) {
		if len(list) == 0 {
			return
		}
		b.WriteString(name)
		b.WriteString(sortedJoin(list, func(s string) string { return "epc=" + hashEPC(s) }))
	}
	quantities := func(name string, list []QuantityElement) {
		if len(list) == 0 {
			return
		}
		b.WriteString(name)
		b.WriteString(sortedJoin(list, func(q QuantityElement) string {
			s := "quantityElementepcClass=" + hashEPC(q.EPCClass)
			if q.Quantity != nil {
				s += "quantity=" + hashNumber(*q.Quantity)
			}
			if q.UOM != "" {
				s += "uom=" + q.UOM
			}
			return s
		}))
	}
	field := func(name, value string) {
		if value != "" {
			b.WriteString(name + "=" + value)
		}
	}
	epcs("epcList", e.EPCList)
	if e.ParentID != "" {
		field("parentID", hashEPC(e.ParentID))
	}
	epcs("inputEPCList", e.InputEPCList)
	epcs("childEPCs", e.ChildEPCs)
	quantities("quantityList", e.QuantityList)
	quantities("childQuantityList", e.ChildQuantityList)
	quantities("inputQuantityList", e.InputQuantityList)
	epcs("outputEPCList", e.OutputEPCList)
	quantities("outputQuantityList", e.OutputQuantityList)
	field("action", e.Action)
	field("transformationID", e.TransformationID)
	field("bizStep", vocabBizStep.webURI(e.BizStep))
	field("disposition", vocabDisposition.webURI(e.Disposition))
	if pd := e.PersistentDisposition; pd != nil && len(pd.Set)+len(pd.Unset) > 0 {
		b.WriteString("persistentDisposition")
		disp := func(name string) func(string) string {
			return func(s string) string { return name + "=" + vocabDisposition.webURI(s) }
		}
		b.WriteString(sortedJoin(pd.Set, disp("set")))
		b.WriteString(sortedJoin(pd.Unset, disp("unset")))
	}
	if e.ReadPoint != "" {
		b.WriteString("readPointid=" + hashEPC(e.ReadPoint))
	}
	if e.BizLocation != "" {
		b.WriteString("bizLocationid=" + hashEPC(e.BizLocation))
	}
	if len(e.BizTransactionList) > 0 {
		b.WriteString("bizTransactionList")
		b.WriteString(sortedJoin(e.BizTransactionList, func(t BizTransaction) string {
			s := "bizTransaction=" + t.BizTransaction
			if t.Type != "" {
				s += "type=" + vocabBizTransactionType.webURI(t.Type)
			}
			return s
		}))
	}
	if len(e.SourceList) > 0 {
		b.WriteString("sourceList")
		b.WriteString(sortedJoin(e.SourceList, func(s Source) string {
			return "source=" + hashEPC(s.Source) + "type=" + vocabSourceDestType.webURI(s.Type)
		}))
	}
	if len(e.DestinationList) > 0 {
		b.WriteString("destinationList")
		b.WriteString(sortedJoin(e.DestinationList, func(d Destination) string {
			return "destination=" + hashEPC(d.Destination) + "type=" + vocabSourceDestType.webURI(d.Type)
		}))
	}
	if len(e.SensorElementList) > 0 {
		b.WriteString("sensorElementList")
		b.WriteString(sortedJoin(e.SensorElementList, func(se SensorElement) string { return hashSensorElement(se, ns) }))
	}
	// ILMD and user extensions are written generically, sorted, after the
	// ordered fields.
	var rest []string
	if m := e.ILMD; m != nil {
		var parts []string
		if m.LotNumber != "" {
			parts = append(parts, cbvmdaNS+"lotNumber="+m.LotNumber)
		}
		if m.ItemExpirationDate != "" {
			parts = append(parts, cbvmdaNS+"itemExpirationDate="+m.ItemExpirationDate)
		}
		parts = append(parts, genericFields(m.Extensions, ns)...)
		slices.Sort(parts)
		rest = append(rest, "ilmd"+strings.Join(parts, ""))
	}
	rest = append(rest, genericFields(e.Extensions, ns)...)
	slices.Sort(rest)
	b.WriteString(strings.Join(rest, ""))
	return b.String()
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
	return t.UTC().Round(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
}

// hashEPC writes a GS1 identifier as its canonical Digital Link URI and
// anything else as given.
func hashEPC(uri string) string {
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

// hashNumber writes a number without trailing zeros (26, 0.1, 12.1).
func hashNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// hashValue writes a JSON scalar: numbers canonical, strings trimmed with
// the URI and vocabulary normalizations, booleans as given.
func hashValue(raw json.RawMessage) string {
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		return hashNumber(f)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return hashString(strings.TrimSpace(s))
	}
	return strings.TrimSpace(string(raw))
}

// hashString canonicalizes a string value: a number written as a string
// becomes canonical, a CBV URN its Web URI, a GS1 identifier its Digital
// Link URI, a timestamp UTC milliseconds.
func hashString(s string) string {
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
	return hashEPC(s)
}

func hashSensorElement(se SensorElement, ns map[string]string) string {
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
func orderedSensorFields(m map[string]json.RawMessage, order []string, ns map[string]string) string {
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
		val := hashValue(v)
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
func genericFields(m map[string]json.RawMessage, ns map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(m) {
		out = append(out, genericField(expandName(k, ns), m[k], ns)...)
	}
	slices.Sort(out)
	return out
}

func genericField(name string, raw json.RawMessage, ns map[string]string) []string {
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
	return []string{name + "=" + hashValue(raw)}
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
