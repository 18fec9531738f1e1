package models

// Frozen copies of the event hash and of Event.MarshalJSON as they were
// before the allocation-free rewrites (commit 0d356f0), kept as test-only
// references: the rewrites must give the same bytes for every event. The
// helpers the rewrites left as they were (EPC, string, value, sensor and
// extension canonicalization) are the live ones, not copies. Rule changes
// made since are written into both, each in its own style, so the copies
// still check the rewrites: a location's user fields; business transactions
// and transformation ids that are GS1 identifiers; compact URIs.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// refEventHashID returns the CBV 2.0 hash id of e.
func refEventHashID(e Event) string {
	sum := sha256.Sum256([]byte(refPreHash(e)))
	return "ni:///sha-256;" + hex.EncodeToString(sum[:]) + "?ver=CBV2.0"
}

// refPreHash returns the canonical pre-hash string of e.
func refPreHash(e Event) string {
	ns := contextNamespaces(e.Context)
	hns := &hashNS{ctx: e.Context}
	var b strings.Builder
	b.WriteString("eventType=" + e.Type)
	b.WriteString("eventTime=" + refHashTime(e.EventTime))
	b.WriteString("eventTimeZoneOffset=" + e.EventTimeZoneOffset)
	epcs := func(name string, list []string) {
		if len(list) == 0 {
			return
		}
		b.WriteString(name)
		b.WriteString(refSortedJoin(list, func(s string) string { return "epc=" + hashEPC(s) }))
	}
	quantities := func(name string, list []QuantityElement) {
		if len(list) == 0 {
			return
		}
		b.WriteString(name)
		b.WriteString(refSortedJoin(list, func(q QuantityElement) string {
			s := "quantityElementepcClass=" + hashEPC(q.EPCClass)
			if q.Quantity != nil {
				s += "quantity=" + refHashNumber(*q.Quantity)
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
	field("transformationID", refHashID(e.TransformationID, ns))
	field("bizStep", refWebURI(vocabBizStep, e.BizStep, ns))
	field("disposition", refWebURI(vocabDisposition, e.Disposition, ns))
	if pd := e.PersistentDisposition; pd != nil && len(pd.Set)+len(pd.Unset) > 0 {
		b.WriteString("persistentDisposition")
		disp := func(name string) func(string) string {
			return func(s string) string { return name + "=" + refWebURI(vocabDisposition, s, ns) }
		}
		b.WriteString(refSortedJoin(pd.Set, disp("set")))
		b.WriteString(refSortedJoin(pd.Unset, disp("unset")))
	}
	if e.ReadPoint != "" {
		b.WriteString("readPointid=" + refHashID(e.ReadPoint, ns))
		b.WriteString(strings.Join(genericFields(e.ReadPointExtensions, hns), ""))
	}
	if e.BizLocation != "" {
		b.WriteString("bizLocationid=" + refHashID(e.BizLocation, ns))
		b.WriteString(strings.Join(genericFields(e.BizLocationExtensions, hns), ""))
	}
	if len(e.BizTransactionList) > 0 {
		b.WriteString("bizTransactionList")
		b.WriteString(refSortedJoin(e.BizTransactionList, func(t BizTransaction) string {
			s := "bizTransaction=" + refHashID(t.BizTransaction, ns)
			if t.Type != "" {
				s += "type=" + refWebURI(vocabBizTransactionType, t.Type, ns)
			}
			return s
		}))
	}
	if len(e.SourceList) > 0 {
		b.WriteString("sourceList")
		b.WriteString(refSortedJoin(e.SourceList, func(s Source) string {
			return "source=" + refHashID(s.Source, ns) + "type=" + refWebURI(vocabSourceDestType, s.Type, ns)
		}))
	}
	if len(e.DestinationList) > 0 {
		b.WriteString("destinationList")
		b.WriteString(refSortedJoin(e.DestinationList, func(d Destination) string {
			return "destination=" + refHashID(d.Destination, ns) + "type=" + refWebURI(vocabSourceDestType, d.Type, ns)
		}))
	}
	if len(e.SensorElementList) > 0 {
		b.WriteString("sensorElementList")
		b.WriteString(refSortedJoin(e.SensorElementList, func(se SensorElement) string { return hashSensorElement(se, hns) }))
	}
	// ILMD and user extensions are written generically, sorted, after the
	// ordered fields.
	var rest []string
	if m := e.ILMD; m != nil {
		var parts []string
		if m.LotNumber != "" {
			parts = append(parts, refCbvmdaNS+"lotNumber="+m.LotNumber)
		}
		if m.ItemExpirationDate != "" {
			parts = append(parts, refCbvmdaNS+"itemExpirationDate="+m.ItemExpirationDate)
		}
		parts = append(parts, genericFields(m.Extensions, hns)...)
		slices.Sort(parts)
		rest = append(rest, "ilmd"+strings.Join(parts, ""))
	}
	rest = append(rest, genericFields(e.Extensions, hns)...)
	slices.Sort(rest)
	b.WriteString(strings.Join(rest, ""))
	return b.String()
}

// refHashID writes an identifier: a GS1 identifier as its Digital Link
// URI, else a compact URI expanded, else as given.
func refHashID(id string, ns map[string]string) string {
	if h := hashEPC(id); h != id {
		return h
	}
	if iri, local, ok := expandCURIE(id, ns); ok {
		return iri + local
	}
	return id
}

// refWebURI writes a vocabulary value: a standard one as its Web URI, else
// a compact URI expanded, else as given.
func refWebURI(v *cbvVocab, bare string, ns map[string]string) string {
	if v.values[bare] {
		return v.webURI(bare)
	}
	if iri, local, ok := expandCURIE(bare, ns); ok {
		return iri + local
	}
	return bare
}

// refCbvmdaNS is how the hash writes the CBV master data namespace of the
// ILMD fields: {namespace}name, as the reference implementation and
// epcis2.js write namespaced elements.
const refCbvmdaNS = "{urn:epcglobal:cbv:mda}"

// refSortedJoin renders each item and concatenates the results in lexical
// order, as the hash requires for unordered lists.
func refSortedJoin[T any](items []T, render func(T) string) string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = render(it)
	}
	slices.Sort(out)
	return strings.Join(out, "")
}

// refHashTime writes t in UTC with exactly three fractional digits, rounding
// to the nearest millisecond.
func refHashTime(t time.Time) string {
	return t.UTC().Round(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
}

// refHashNumber writes a number without trailing zeros (26, 0.1, 12.1).
func refHashNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// refBuiltinNamespaces are prefixes the EPCIS 2.0 context defines, written as
// the reference implementation writes them.
var refBuiltinNamespaces = map[string]string{"cbvmda": "urn:epcglobal:cbv:mda"}

// MarshalJSON writes the event as EPCIS 2.0 JSON-LD, fields in the order of
// the standard, so equal events encode to equal bytes.
func refMarshalJSON(e Event) ([]byte, error) {
	var o refObjWriter
	if len(e.Context) > 0 {
		o.raw("@context", e.Context)
	}
	o.str("type", e.Type)
	if !e.EventTime.IsZero() {
		o.str("eventTime", refFormatEventTime(e.EventTime, e.EventTimeZoneOffset))
	}
	o.str("eventTimeZoneOffset", e.EventTimeZoneOffset)
	if !e.RecordTime.IsZero() {
		o.str("recordTime", e.RecordTime.UTC().Format(time.RFC3339Nano))
	}
	o.str("eventID", e.EventID)
	if len(e.CertificationInfo) == 1 {
		o.str("certificationInfo", e.CertificationInfo[0])
	} else if len(e.CertificationInfo) > 1 {
		o.val("certificationInfo", e.CertificationInfo)
	}
	if d := e.ErrorDeclaration; d != nil {
		var od refObjWriter
		od.str("declarationTime", d.DeclarationTime.Format(time.RFC3339Nano))
		od.str("reason", d.Reason)
		if len(d.CorrectiveEventIDs) > 0 {
			od.val("correctiveEventIDs", d.CorrectiveEventIDs)
		}
		od.extensions(d.Extensions)
		o.raw("errorDeclaration", od.bytes())
	}
	o.list("epcList", e.EPCList)
	o.str("parentID", e.ParentID)
	o.list("childEPCs", e.ChildEPCs)
	o.list("inputEPCList", e.InputEPCList)
	o.list("outputEPCList", e.OutputEPCList)
	o.quantities("quantityList", e.QuantityList)
	o.quantities("childQuantityList", e.ChildQuantityList)
	o.quantities("inputQuantityList", e.InputQuantityList)
	o.quantities("outputQuantityList", e.OutputQuantityList)
	o.str("action", e.Action)
	o.str("transformationID", e.TransformationID)
	o.str("bizStep", e.BizStep)
	o.str("disposition", e.Disposition)
	if e.PersistentDisposition != nil {
		o.val("persistentDisposition", e.PersistentDisposition)
	}
	for _, l := range []struct {
		name, id string
		ext      map[string]json.RawMessage
	}{{"readPoint", e.ReadPoint, e.ReadPointExtensions}, {"bizLocation", e.BizLocation, e.BizLocationExtensions}} {
		if l.id != "" {
			var ol refObjWriter
			ol.str("id", l.id)
			ol.extensions(l.ext)
			o.raw(l.name, ol.bytes())
		}
	}
	if len(e.BizTransactionList) > 0 {
		o.val("bizTransactionList", e.BizTransactionList)
	}
	if len(e.SourceList) > 0 {
		o.val("sourceList", e.SourceList)
	}
	if len(e.DestinationList) > 0 {
		o.val("destinationList", e.DestinationList)
	}
	if len(e.SensorElementList) > 0 {
		items := make([]json.RawMessage, len(e.SensorElementList))
		for i, se := range e.SensorElementList {
			var os refObjWriter
			if se.SensorMetadata != nil {
				os.val("sensorMetadata", se.SensorMetadata)
			}
			if len(se.SensorReport) > 0 {
				os.val("sensorReport", se.SensorReport)
			}
			os.extensions(se.Extensions)
			items[i] = os.bytes()
		}
		o.val("sensorElementList", items)
	}
	if m := e.ILMD; m != nil {
		var om refObjWriter
		om.str("cbvmda:lotNumber", m.LotNumber)
		om.str("cbvmda:itemExpirationDate", m.ItemExpirationDate)
		om.extensions(m.Extensions)
		o.raw("ilmd", om.bytes())
	}
	o.extensions(e.Extensions)
	return o.bytes(), o.err
}

// refFormatEventTime writes t in the event's own time zone offset, the way the
// capturing client most likely wrote it.
func refFormatEventTime(t time.Time, offset string) string {
	if loc, ok := offsetLocation(offset); ok {
		t = t.In(loc)
	}
	return t.Format(time.RFC3339Nano)
}

// refObjWriter writes a JSON object with keys in call order, skipping empty
// values.
type refObjWriter struct {
	buf bytes.Buffer
	err error
}

func (o *refObjWriter) key(k string) {
	if o.buf.Len() == 0 {
		o.buf.WriteByte('{')
	} else {
		o.buf.WriteByte(',')
	}
	o.string(k)
	o.buf.WriteByte(':')
}

// string writes s as a JSON string exactly as encoding/json would, taking
// a fast path for the printable ASCII that EPCs, times and CBV values are.
func (o *refObjWriter) string(s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			o.buf.Write(b)
			return
		}
	}
	o.buf.WriteByte('"')
	o.buf.WriteString(s)
	o.buf.WriteByte('"')
}

func (o *refObjWriter) raw(k string, v []byte) {
	o.key(k)
	o.buf.Write(v)
}

func (o *refObjWriter) str(k, v string) {
	if v != "" {
		o.key(k)
		o.string(v)
	}
}

func (o *refObjWriter) list(k string, v []string) {
	if len(v) == 0 {
		return
	}
	o.key(k)
	o.buf.WriteByte('[')
	for i, s := range v {
		if i > 0 {
			o.buf.WriteByte(',')
		}
		o.string(s)
	}
	o.buf.WriteByte(']')
}

func (o *refObjWriter) quantities(k string, v []QuantityElement) {
	if len(v) > 0 {
		o.val(k, v)
	}
}

func (o *refObjWriter) val(k string, v any) {
	b, err := json.Marshal(v)
	if err != nil && o.err == nil {
		o.err = err
	}
	o.raw(k, b)
}

// extensions writes user fields in sorted key order.
func (o *refObjWriter) extensions(m map[string]json.RawMessage) {
	for _, k := range sortedKeys(m) {
		o.raw(k, m[k])
	}
}

func (o *refObjWriter) bytes() []byte {
	if o.buf.Len() == 0 {
		return []byte("{}")
	}
	o.buf.WriteByte('}')
	return o.buf.Bytes()
}
