package models

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// EPCIS 2.0 events. One Go type, Event, carries all five event types: the
// fields a type may not have stay empty (the decoder rejects them), and one
// type keeps storage, hashing and queries uniform. CBV values (bizStep,
// disposition, business transaction and source/destination types) are held
// in their bare form ("shipping"); EPCs and locations are held as given
// (EPC URN or GS1 Digital Link URI) and indexed by canonical key.

// The EPCIS event types.
const (
	ObjectEvent         = "ObjectEvent"
	AggregationEvent    = "AggregationEvent"
	TransactionEvent    = "TransactionEvent"
	TransformationEvent = "TransformationEvent"
	AssociationEvent    = "AssociationEvent"
)

// The EPCIS actions.
const (
	ActionAdd     = "ADD"
	ActionObserve = "OBSERVE"
	ActionDelete  = "DELETE"
)

// Event is one EPCIS 2.0 event of any type. Decode it with DecodeEvent (or
// json.Unmarshal, which calls the same strict decoder); encode it with
// json.Marshal, which writes EPCIS 2.0 JSON-LD with fields in a fixed order.
type Event struct {
	Type                string
	EventTime           time.Time
	EventTimeZoneOffset string // "+01:00"
	// RecordTime is set by the ledger (the capture command's time); a
	// client's value is ignored.
	RecordTime        time.Time
	EventID           string
	CertificationInfo []string
	ErrorDeclaration  *ErrorDeclaration

	EPCList       []string // ObjectEvent, TransactionEvent
	ParentID      string   // AggregationEvent, TransactionEvent, AssociationEvent
	ChildEPCs     []string // AggregationEvent, AssociationEvent
	InputEPCList  []string // TransformationEvent
	OutputEPCList []string // TransformationEvent

	QuantityList       []QuantityElement
	ChildQuantityList  []QuantityElement
	InputQuantityList  []QuantityElement
	OutputQuantityList []QuantityElement

	Action           string // ADD, OBSERVE, DELETE; none for TransformationEvent
	TransformationID string

	BizStep               string
	Disposition           string
	PersistentDisposition *PersistentDisposition
	ReadPoint             string // the readPoint's id
	BizLocation           string // the bizLocation's id
	// ReadPointExtensions and BizLocationExtensions are the user fields
	// beside the location's id ({"id": ..., "example:room": ...}), keyed by
	// their compact name and kept as given, like Extensions.
	ReadPointExtensions   map[string]json.RawMessage
	BizLocationExtensions map[string]json.RawMessage

	BizTransactionList []BizTransaction
	SourceList         []Source
	DestinationList    []Destination
	SensorElementList  []SensorElement
	ILMD               *ILMD

	// Extensions are the event's user fields, keyed by their compact name
	// ("example:myField"), kept as given.
	Extensions map[string]json.RawMessage
	// Context is the event's own @context, if it has one.
	Context json.RawMessage
}

// ErrorDeclaration marks an event as erroneous (EPCIS 2.0 §7.4.1.3).
type ErrorDeclaration struct {
	DeclarationTime    time.Time
	Reason             string // bare CBV error reason or an extension URI
	CorrectiveEventIDs []string
	Extensions         map[string]json.RawMessage
}

// QuantityElement is an amount of a class of objects (a lot, a product).
type QuantityElement struct {
	EPCClass string   `json:"epcClass"`
	Quantity *float64 `json:"quantity,omitempty"`
	UOM      string   `json:"uom,omitempty"`
}

// PersistentDisposition lists dispositions set and unset by the event.
type PersistentDisposition struct {
	Set   []string `json:"set,omitempty"`
	Unset []string `json:"unset,omitempty"`
}

// BizTransaction is a business document the event belongs to.
type BizTransaction struct {
	Type           string `json:"type,omitempty"`
	BizTransaction string `json:"bizTransaction"`
}

// Source is a party or place goods come from.
type Source struct {
	Type   string `json:"type"`
	Source string `json:"source"`
}

// Destination is a party or place goods go to; a shipment to a pharmacy
// names it here.
type Destination struct {
	Type        string `json:"type"`
	Destination string `json:"destination"`
}

// SensorElement is one sensor's metadata and reports. Their fields are the
// EPCIS 2.0 ones (sensorMetadataFields, sensorReportFields) or namespaced
// extensions, kept as JSON values.
type SensorElement struct {
	SensorMetadata map[string]json.RawMessage
	SensorReport   []map[string]json.RawMessage
	Extensions     map[string]json.RawMessage
}

// ILMD is instance/lot master data from a commissioning event: what
// Pedigree needs (lot, expiry) typed, the rest kept.
type ILMD struct {
	LotNumber string // cbvmda:lotNumber
	// ItemExpirationDate is "2006-01-02" (cbvmda:itemExpirationDate).
	ItemExpirationDate string
	Extensions         map[string]json.RawMessage
}

// sensorMetadataFields and sensorReportFields are the standard fields in
// the CBV 2.0 hash order.
var (
	sensorMetadataFields = []string{"time", "startTime", "endTime", "deviceID", "deviceMetadata",
		"rawData", "dataProcessingMethod", "bizRules"}
	sensorReportFields = []string{"type", "exception", "deviceID", "deviceMetadata", "rawData",
		"dataProcessingMethod", "time", "microorganism", "chemicalSubstance", "value", "component",
		"stringValue", "booleanValue", "hexBinaryValue", "uriValue", "minValue", "maxValue",
		"meanValue", "sDev", "percRank", "percValue", "uom", "coordinateReferenceSystem"}
)

// UnmarshalJSON decodes strictly; see DecodeEvent.
func (e *Event) UnmarshalJSON(data []byte) error {
	ev, err := DecodeEvent(data)
	if err != nil {
		return err
	}
	*e = ev
	return nil
}

// MarshalJSON writes the event as EPCIS 2.0 JSON-LD, fields in the order of
// the standard, so equal events encode to equal bytes.
func (e Event) MarshalJSON() ([]byte, error) {
	// Every node writes every captured event, so this appends to one
	// buffer by hand; encoding/json is left only for what it alone defines
	// (sensor data, a non-finite quantity's error, unusual strings).
	w := eventWriter{b: make([]byte, 0, 512)}
	w.begin()
	if len(e.Context) > 0 {
		w.raw("@context", e.Context)
	}
	w.str("type", e.Type)
	if t := e.EventTime; !t.IsZero() {
		// In the event's own offset, as the capturing client most likely
		// wrote it.
		if loc, ok := offsetLocation(e.EventTimeZoneOffset); ok {
			t = t.In(loc)
		}
		w.time("eventTime", t)
	}
	w.str("eventTimeZoneOffset", e.EventTimeZoneOffset)
	if !e.RecordTime.IsZero() {
		w.time("recordTime", e.RecordTime.UTC())
	}
	w.str("eventID", e.EventID)
	if len(e.CertificationInfo) == 1 {
		w.str("certificationInfo", e.CertificationInfo[0])
	} else if len(e.CertificationInfo) > 1 {
		w.list("certificationInfo", e.CertificationInfo)
	}
	if d := e.ErrorDeclaration; d != nil {
		w.key("errorDeclaration")
		w.begin()
		w.time("declarationTime", d.DeclarationTime)
		w.str("reason", d.Reason)
		w.list("correctiveEventIDs", d.CorrectiveEventIDs)
		w.extensions(d.Extensions)
		w.end()
	}
	w.list("epcList", e.EPCList)
	w.str("parentID", e.ParentID)
	w.list("childEPCs", e.ChildEPCs)
	w.list("inputEPCList", e.InputEPCList)
	w.list("outputEPCList", e.OutputEPCList)
	w.quantities("quantityList", e.QuantityList)
	w.quantities("childQuantityList", e.ChildQuantityList)
	w.quantities("inputQuantityList", e.InputQuantityList)
	w.quantities("outputQuantityList", e.OutputQuantityList)
	w.str("action", e.Action)
	w.str("transformationID", e.TransformationID)
	w.str("bizStep", e.BizStep)
	w.str("disposition", e.Disposition)
	if pd := e.PersistentDisposition; pd != nil {
		// As encoding/json writes the struct: both lists omitempty.
		w.key("persistentDisposition")
		w.begin()
		w.list("set", pd.Set)
		w.list("unset", pd.Unset)
		w.end()
	}
	w.location("readPoint", e.ReadPoint, e.ReadPointExtensions)
	w.location("bizLocation", e.BizLocation, e.BizLocationExtensions)
	if len(e.BizTransactionList) > 0 {
		w.key("bizTransactionList")
		w.b = append(w.b, '[')
		for i, t := range e.BizTransactionList {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.begin()
			w.str("type", t.Type)
			w.key("bizTransaction")
			w.b = AppendJSONString(w.b, t.BizTransaction)
			w.end()
		}
		w.b = append(w.b, ']')
	}
	if len(e.SourceList) > 0 {
		w.key("sourceList")
		w.b = append(w.b, '[')
		for i, s := range e.SourceList {
			w.party(i, s.Type, "source", s.Source)
		}
		w.b = append(w.b, ']')
	}
	if len(e.DestinationList) > 0 {
		w.key("destinationList")
		w.b = append(w.b, '[')
		for i, d := range e.DestinationList {
			w.party(i, d.Type, "destination", d.Destination)
		}
		w.b = append(w.b, ']')
	}
	if len(e.SensorElementList) > 0 {
		items := make([]json.RawMessage, len(e.SensorElementList))
		for i, se := range e.SensorElementList {
			// Each element is written alone, then encoding/json re-reads
			// the list, which is what defines those bytes; an element's
			// own error shows in that Marshal, so sw.err is not kept.
			sw := eventWriter{}
			sw.begin()
			if se.SensorMetadata != nil {
				sw.val("sensorMetadata", se.SensorMetadata)
			}
			if len(se.SensorReport) > 0 {
				sw.val("sensorReport", se.SensorReport)
			}
			sw.extensions(se.Extensions)
			sw.end()
			items[i] = sw.b
		}
		w.val("sensorElementList", items)
	}
	if m := e.ILMD; m != nil {
		w.key("ilmd")
		w.begin()
		w.str("cbvmda:lotNumber", m.LotNumber)
		w.str("cbvmda:itemExpirationDate", m.ItemExpirationDate)
		w.extensions(m.Extensions)
		w.end()
	}
	w.extensions(e.Extensions)
	w.end()
	return w.b, w.err
}

// eventWriter appends JSON objects to b, keys in call order, skipping empty
// values: the bytes encoding/json would write.
type eventWriter struct {
	b     []byte
	first bool // no key yet in the innermost object
	err   error
}

func (w *eventWriter) begin() {
	w.b = append(w.b, '{')
	w.first = true
}

func (w *eventWriter) end() {
	w.b = append(w.b, '}')
	w.first = false
}

func (w *eventWriter) key(k string) {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
	w.b = AppendJSONString(w.b, k)
	w.b = append(w.b, ':')
}

func (w *eventWriter) keepErr(err error) {
	if err != nil && w.err == nil {
		w.err = err
	}
}

func (w *eventWriter) str(k, v string) {
	if v != "" {
		w.key(k)
		w.b = AppendJSONString(w.b, v)
	}
}

func (w *eventWriter) raw(k string, v []byte) {
	w.key(k)
	w.b = append(w.b, v...)
}

func (w *eventWriter) time(k string, t time.Time) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = t.AppendFormat(w.b, time.RFC3339Nano)
	w.b = append(w.b, '"')
}

func (w *eventWriter) list(k string, v []string) {
	if len(v) == 0 {
		return
	}
	w.key(k)
	w.b = append(w.b, '[')
	for i, s := range v {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = AppendJSONString(w.b, s)
	}
	w.b = append(w.b, ']')
}

// location writes a readPoint or bizLocation as {"id": ...}, its user
// fields after the id.
func (w *eventWriter) location(k, id string, ext map[string]json.RawMessage) {
	if id == "" {
		return
	}
	w.key(k)
	w.begin()
	w.key("id")
	w.b = AppendJSONString(w.b, id)
	w.extensions(ext)
	w.end()
}

// party writes the i-th source or destination.
func (w *eventWriter) party(i int, typ, idField, id string) {
	if i > 0 {
		w.b = append(w.b, ',')
	}
	w.begin()
	w.key("type")
	w.b = AppendJSONString(w.b, typ)
	w.key(idField)
	w.b = AppendJSONString(w.b, id)
	w.end()
}

// quantities writes a quantity list as encoding/json writes
// []QuantityElement.
func (w *eventWriter) quantities(k string, v []QuantityElement) {
	if len(v) == 0 {
		return
	}
	for _, q := range v {
		if q.Quantity != nil && (math.IsNaN(*q.Quantity) || math.IsInf(*q.Quantity, 0)) {
			w.val(k, v) // for encoding/json's error
			return
		}
	}
	w.key(k)
	w.b = append(w.b, '[')
	for i, q := range v {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.begin()
		w.key("epcClass")
		w.b = AppendJSONString(w.b, q.EPCClass)
		if q.Quantity != nil {
			w.key("quantity")
			w.b = appendJSONFloat(w.b, *q.Quantity)
		}
		w.str("uom", q.UOM)
		w.end()
	}
	w.b = append(w.b, ']')
}

// val writes v as encoding/json does.
func (w *eventWriter) val(k string, v any) {
	b, err := json.Marshal(v)
	w.keepErr(err)
	w.raw(k, b)
}

// extensions writes user fields in sorted key order, as given.
func (w *eventWriter) extensions(m map[string]json.RawMessage) {
	if len(m) == 0 {
		return
	}
	for _, k := range sortedKeys(m) {
		w.raw(k, m[k])
	}
}

// AppendJSONString appends s as a JSON string exactly as encoding/json
// writes it, taking a fast path for the printable ASCII that EPCs, times
// and CBV values are. The API's hand-written answers use it too.
func AppendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !jsonPlainByte[s[i]] {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// jsonPlainByte marks the bytes encoding/json writes as themselves in a
// string: printable ASCII but the quote, the backslash and the HTML
// characters it escapes.
var jsonPlainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = !strings.ContainsRune(`"\<>&`, rune(c))
	}
	return t
}()

// appendJSONFloat appends f (finite) as encoding/json writes a float64:
// the shortest representation, in exponent form below 1e-6 and from 1e21
// on, with a one-digit negative exponent not padded (1e-7, not 1e-07).
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
