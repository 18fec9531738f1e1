package models

import (
	"bytes"
	"encoding/json"
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
	var o objWriter
	if len(e.Context) > 0 {
		o.raw("@context", e.Context)
	}
	o.str("type", e.Type)
	if !e.EventTime.IsZero() {
		o.str("eventTime", formatEventTime(e.EventTime, e.EventTimeZoneOffset))
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
		var od objWriter
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
	if e.ReadPoint != "" {
		o.val("readPoint", map[string]string{"id": e.ReadPoint})
	}
	if e.BizLocation != "" {
		o.val("bizLocation", map[string]string{"id": e.BizLocation})
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
			var os objWriter
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
		var om objWriter
		om.str("cbvmda:lotNumber", m.LotNumber)
		om.str("cbvmda:itemExpirationDate", m.ItemExpirationDate)
		om.extensions(m.Extensions)
		o.raw("ilmd", om.bytes())
	}
	o.extensions(e.Extensions)
	return o.bytes(), o.err
}

// formatEventTime writes t in the event's own time zone offset, the way the
// capturing client most likely wrote it.
func formatEventTime(t time.Time, offset string) string {
	if loc, ok := offsetLocation(offset); ok {
		t = t.In(loc)
	}
	return t.Format(time.RFC3339Nano)
}

// objWriter writes a JSON object with keys in call order, skipping empty
// values.
type objWriter struct {
	buf bytes.Buffer
	err error
}

func (o *objWriter) key(k string) {
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
func (o *objWriter) string(s string) {
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

func (o *objWriter) raw(k string, v []byte) {
	o.key(k)
	o.buf.Write(v)
}

func (o *objWriter) str(k, v string) {
	if v != "" {
		o.key(k)
		o.string(v)
	}
}

func (o *objWriter) list(k string, v []string) {
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

func (o *objWriter) quantities(k string, v []QuantityElement) {
	if len(v) > 0 {
		o.val(k, v)
	}
}

func (o *objWriter) val(k string, v any) {
	b, err := json.Marshal(v)
	if err != nil && o.err == nil {
		o.err = err
	}
	o.raw(k, b)
}

// extensions writes user fields in sorted key order.
func (o *objWriter) extensions(m map[string]json.RawMessage) {
	for _, k := range sortedKeys(m) {
		o.raw(k, m[k])
	}
}

func (o *objWriter) bytes() []byte {
	if o.buf.Len() == 0 {
		return []byte("{}")
	}
	o.buf.WriteByte('}')
	return o.buf.Bytes()
}
