package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// DecodeError says which field of an EPCIS document or event is wrong.
type DecodeError struct {
	// Path names the field, e.g. "eventList[3].epcList[1]".
	Path string
	// Reason says what is wrong with it.
	Reason string
}

// Error names the field and the problem.
func (e *DecodeError) Error() string {
	if e.Path == "" {
		return "epcis: " + e.Reason
	}
	return "epcis: " + e.Path + ": " + e.Reason
}

// ErrEPCIS is wrapped by every *DecodeError, so callers can branch on
// errors.Is(err, models.ErrEPCIS) (a 400, not a 500).
var ErrEPCIS = errors.New("invalid EPCIS data")

// Unwrap makes errors.Is(err, ErrEPCIS) true.
func (e *DecodeError) Unwrap() error { return ErrEPCIS }

func derr(path, format string, args ...any) *DecodeError {
	return &DecodeError{Path: path, Reason: fmt.Sprintf(format, args...)}
}

// join builds a field path.
func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// TooManyEventsError is DecodeDocument's error for a document of more
// than MaxCaptureEvents events.
type TooManyEventsError struct {
	Events int // how many the document holds
}

func (e *TooManyEventsError) Error() string {
	return fmt.Sprintf("epcisBody.eventList: %d events; a capture holds at most %d", e.Events, MaxCaptureEvents)
}

// DecodeDocument decodes an EPCISDocument (the body of POST /capture) and
// returns its events, each decoded strictly; a document of more than
// MaxCaptureEvents is refused (TooManyEventsError) before any is decoded. Events inherit nothing from the
// document except that a document-level @context is accepted.
func DecodeDocument(data []byte) ([]Event, error) { return DecodeDocumentAt(data, RulesVersion) }

// DecodeDocumentAt is DecodeDocument as a ledger at rules version rules
// reads a document before proposing its events: from version 2 it refuses
// offsets beyond ±14:00 (but in an error declaration, which restates an
// event captured before), reads compact CBV values as the standard ones,
// and keeps the document's context with every event whose user fields or
// compact values need it; version 1 keeps it only with events that have
// user fields of their own, their ILMD's or their sensor elements', as
// before versions. The events' ids and so the capture's results depend on
// this, so a cluster reads a document by the rules it is at.
func DecodeDocumentAt(data []byte, rules int) ([]Event, error) {
	obj, err := decodeObject(data, "")
	if err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(obj) {
		switch k {
		case "@context", "id", "type", "schemaVersion", "creationDate", "epcisBody", "epcisHeader", "sender", "receiver", "instanceIdentifier":
		default:
			if !isExtensionKey(k) {
				return nil, derr(k, "unknown field of an EPCISDocument")
			}
		}
	}
	var typ string
	if err := decodeString(obj["type"], "type", &typ); err != nil {
		return nil, err
	}
	if typ != "EPCISDocument" {
		return nil, derr("type", "must be \"EPCISDocument\", not %q", typ)
	}
	if raw, ok := obj["schemaVersion"]; ok {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil || (fmt.Sprint(v) != "2.0" && fmt.Sprint(v) != "2") {
			return nil, derr("schemaVersion", "must be \"2.0\"")
		}
	}
	body, err := decodeObject(obj["epcisBody"], "epcisBody")
	if err != nil {
		return nil, err
	}
	list, ok := body["eventList"]
	if !ok {
		return nil, derr("epcisBody.eventList", "missing")
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(list, &raws); err != nil {
		return nil, derr("epcisBody.eventList", "must be an array of events")
	}
	// Before any event is decoded: a decoded event takes several times
	// its JSON's memory, and a document of small events too many to
	// capture would take a request's body limit several times over.
	if len(raws) > MaxCaptureEvents {
		return nil, &TooManyEventsError{Events: len(raws)}
	}
	events := make([]Event, len(raws))
	docContext := compactJSON(obj["@context"])
	docPrefixes := len(contextNamespaces(docContext)) > 0
	for i, r := range raws {
		path := index("epcisBody.eventList", i)
		ev, err := decodeEvent(r, path)
		if err != nil {
			return nil, err
		}
		// An event keeps the document's context, which names the
		// namespaces of its user fields and compact URIs, so it stands
		// alone once stored.
		if rules < rulesEPCISFidelity {
			if len(ev.Context) == 0 && len(docContext) > 0 && ev.hasOwnUserFields() {
				ev.Context = docContext
			}
			events[i] = ev
			continue
		}
		// What the rules refuse is refused before it is proposed.
		if ev.ErrorDeclaration == nil && !tzOffsetInRange(ev.EventTimeZoneOffset) {
			return nil, derr(join(path, "eventTimeZoneOffset"), "%q is not an offset from -14:00 to +14:00", ev.EventTimeZoneOffset)
		}
		if err := ev.readCompactValues(path); err != nil {
			return nil, err
		}
		if len(ev.Context) == 0 && len(docContext) > 0 &&
			(ev.hasUserFields() || docPrefixes && ev.hashReadsContext(docContext)) {
			ev.Context = docContext
		}
		events[i] = ev
	}
	return events, nil
}

// hasOwnUserFields reports whether the event, its ILMD or one of its
// sensor elements has user fields: rules version 1 kept the document's
// context with those events only.
func (e *Event) hasOwnUserFields() bool {
	if len(e.Extensions) > 0 || e.ILMD != nil && len(e.ILMD.Extensions) > 0 {
		return true
	}
	for _, se := range e.SensorElementList {
		if len(se.Extensions) > 0 {
			return true
		}
	}
	return false
}

// hasUserFields reports whether the event carries namespaced fields
// anywhere, whose names only the context explains (and the hash expands
// through it, but for an error declaration's, which it leaves out).
func (e *Event) hasUserFields() bool {
	if len(e.Extensions) > 0 || e.ILMD != nil && len(e.ILMD.Extensions) > 0 ||
		len(e.ReadPointExtensions) > 0 || len(e.BizLocationExtensions) > 0 ||
		e.ErrorDeclaration != nil && len(e.ErrorDeclaration.Extensions) > 0 {
		return true
	}
	for _, se := range e.SensorElementList {
		if len(se.Extensions) > 0 || hasOtherKeys(se.SensorMetadata, sensorMetadataFields) {
			return true
		}
		for _, r := range se.SensorReport {
			if hasOtherKeys(r, sensorReportFields) {
				return true
			}
		}
	}
	return false
}

// hashReadsContext reports whether e's hash depends on the prefixes ctx
// declares: a value written as a compact URI with one of them.
func (e *Event) hashReadsContext(ctx json.RawMessage) bool {
	with := *e
	with.Context = ctx
	return PreHash(with) != PreHash(*e)
}

// hasOtherKeys reports whether m has a key that standard does not list: a
// user field among a sensor's standard ones.
func hasOtherKeys(m map[string]json.RawMessage, standard []string) bool {
	for k := range m {
		if !slices.Contains(standard, k) {
			return true
		}
	}
	return false
}

// DecodeEvent decodes one EPCIS 2.0 event strictly: the type, times and
// action must be well formed, every EPC a valid EPC URI or GS1 Digital Link
// URI, CBV values standard (in any of their three spellings) or absolute
// URIs, and every field one the event type has or a namespaced extension
// ("prefix:name"). The error is a *DecodeError naming the field.
func DecodeEvent(data []byte) (Event, error) { return decodeEvent(data, "") }

// fieldsByType lists the standard fields each event type may carry, beyond
// the common ones.
var fieldsByType = map[string][]string{
	ObjectEvent:         {"epcList", "quantityList", "action", "ilmd"},
	AggregationEvent:    {"parentID", "childEPCs", "childQuantityList", "action"},
	TransactionEvent:    {"parentID", "epcList", "quantityList", "action"},
	TransformationEvent: {"inputEPCList", "inputQuantityList", "outputEPCList", "outputQuantityList", "transformationID", "ilmd"},
	AssociationEvent:    {"parentID", "childEPCs", "childQuantityList", "action"},
}

var commonFields = []string{"@context", "type", "eventTime", "eventTimeZoneOffset", "recordTime", "eventID",
	"certificationInfo", "errorDeclaration", "bizStep", "disposition", "persistentDisposition", "readPoint", "bizLocation",
	"bizTransactionList", "sourceList", "destinationList", "sensorElementList"}

func decodeEvent(data []byte, path string) (Event, error) {
	obj, err := decodeObject(data, path)
	if err != nil {
		return Event{}, err
	}
	return decodeEventObject(obj, path)
}

// decodeEventObject decodes an event from its fields, as decodeObject
// splits them.
func decodeEventObject(obj map[string]json.RawMessage, path string) (Event, error) {
	var e Event
	if err := decodeString(obj["type"], join(path, "type"), &e.Type); err != nil {
		return e, err
	}
	allowed, ok := fieldsByType[e.Type]
	if !ok {
		return e, derr(join(path, "type"), "%q is not an EPCIS event type", e.Type)
	}
	// Map order is random; the first bad key in sorted order is reported,
	// so every node rejects with the same message. The empty key is a bad
	// key too, so whether one was found is kept apart from which.
	bad, hasBad := "", false
	for k, raw := range obj {
		if slices.Contains(commonFields, k) || slices.Contains(allowed, k) {
			continue
		}
		if !isExtensionKey(k) {
			if !hasBad || k < bad {
				bad, hasBad = k, true
			}
			continue
		}
		if e.Extensions == nil {
			e.Extensions = map[string]json.RawMessage{}
		}
		e.Extensions[k] = compactJSON(raw)
	}
	if hasBad {
		return e, derr(join(path, bad), "not a field of %s", e.Type)
	}
	if c, ok := obj["@context"]; ok {
		e.Context = compactJSON(c)
	}

	// Times.
	if err := decodeTime(obj["eventTime"], join(path, "eventTime"), &e.EventTime); err != nil {
		return e, err
	}
	if err := decodeString(obj["eventTimeZoneOffset"], join(path, "eventTimeZoneOffset"), &e.EventTimeZoneOffset); err != nil {
		return e, err
	}
	if !isTZOffset(e.EventTimeZoneOffset) {
		return e, derr(join(path, "eventTimeZoneOffset"), "%q is not an offset like +01:00", e.EventTimeZoneOffset)
	}
	if raw, ok := obj["recordTime"]; ok {
		// Accepted for round trips but replaced by the ledger's record time.
		var rt time.Time
		if err := decodeTime(raw, join(path, "recordTime"), &rt); err != nil {
			return e, err
		}
	}
	if err := decodeOptString(obj, "eventID", path, &e.EventID); err != nil {
		return e, err
	}
	if e.EventID != "" && !strings.Contains(e.EventID, ":") {
		return e, derr(join(path, "eventID"), "%q is not a URI", e.EventID)
	}
	if raw, ok := obj["certificationInfo"]; ok {
		if isJSONString(raw) {
			var one string
			if err := decodeString(raw, join(path, "certificationInfo"), &one); err != nil {
				return e, err
			}
			e.CertificationInfo = []string{one}
		} else if err := decodeStrings(raw, join(path, "certificationInfo"), &e.CertificationInfo); err != nil {
			return e, err
		}
	}
	if raw, ok := obj["errorDeclaration"]; ok {
		d, err := decodeErrorDeclaration(raw, join(path, "errorDeclaration"))
		if err != nil {
			return e, err
		}
		e.ErrorDeclaration = d
	}

	// What the event is about.
	for _, f := range []struct {
		name string
		dst  *[]string
	}{{"epcList", &e.EPCList}, {"childEPCs", &e.ChildEPCs}, {"inputEPCList", &e.InputEPCList}, {"outputEPCList", &e.OutputEPCList}} {
		if raw, ok := obj[f.name]; ok {
			if err := decodeEPCs(raw, join(path, f.name), f.dst); err != nil {
				return e, err
			}
		}
	}
	if raw, ok := obj["parentID"]; ok {
		p := join(path, "parentID")
		if err := decodeString(raw, p, &e.ParentID); err != nil {
			return e, err
		}
		if err := checkInstanceEPC(e.ParentID, p); err != nil {
			return e, err
		}
	}
	for _, f := range []struct {
		name string
		dst  *[]QuantityElement
	}{{"quantityList", &e.QuantityList}, {"childQuantityList", &e.ChildQuantityList}, {"inputQuantityList", &e.InputQuantityList}, {"outputQuantityList", &e.OutputQuantityList}} {
		if raw, ok := obj[f.name]; ok {
			q, err := decodeQuantities(raw, join(path, f.name))
			if err != nil {
				return e, err
			}
			*f.dst = q
		}
	}
	if err := decodeOptString(obj, "action", path, &e.Action); err != nil {
		return e, err
	}
	if err := decodeOptString(obj, "transformationID", path, &e.TransformationID); err != nil {
		return e, err
	}

	// Why, where.
	if err := decodeVocab(obj, "bizStep", path, vocabBizStep, &e.BizStep); err != nil {
		return e, err
	}
	if err := decodeVocab(obj, "disposition", path, vocabDisposition, &e.Disposition); err != nil {
		return e, err
	}
	if raw, ok := obj["persistentDisposition"]; ok {
		pd, err := decodePersistentDisposition(raw, join(path, "persistentDisposition"))
		if err != nil {
			return e, err
		}
		e.PersistentDisposition = pd
	}
	for _, f := range []struct {
		name string
		id   *string
		ext  *map[string]json.RawMessage
	}{{"readPoint", &e.ReadPoint, &e.ReadPointExtensions}, {"bizLocation", &e.BizLocation, &e.BizLocationExtensions}} {
		if raw, ok := obj[f.name]; ok {
			id, ext, err := decodeLocation(raw, join(path, f.name))
			if err != nil {
				return e, err
			}
			*f.id, *f.ext = id, ext
		}
	}
	if raw, ok := obj["bizTransactionList"]; ok {
		if err := decodeBizTransactions(raw, join(path, "bizTransactionList"), &e.BizTransactionList); err != nil {
			return e, err
		}
	}
	if raw, ok := obj["sourceList"]; ok {
		pairs, err := decodeSourceDest(raw, join(path, "sourceList"), "source")
		if err != nil {
			return e, err
		}
		for _, p := range pairs {
			e.SourceList = append(e.SourceList, Source{Type: p[0], Source: p[1]})
		}
	}
	if raw, ok := obj["destinationList"]; ok {
		pairs, err := decodeSourceDest(raw, join(path, "destinationList"), "destination")
		if err != nil {
			return e, err
		}
		for _, p := range pairs {
			e.DestinationList = append(e.DestinationList, Destination{Type: p[0], Destination: p[1]})
		}
	}
	if raw, ok := obj["sensorElementList"]; ok {
		se, err := decodeSensorElements(raw, join(path, "sensorElementList"))
		if err != nil {
			return e, err
		}
		e.SensorElementList = se
	}
	if raw, ok := obj["ilmd"]; ok {
		m, err := decodeILMD(raw, join(path, "ilmd"))
		if err != nil {
			return e, err
		}
		e.ILMD = m
	}
	return e, checkEventShape(&e, path)
}

// checkEventShape applies the per-type rules on which fields must be
// present (EPCIS 2.0 §7.4).
func checkEventShape(e *Event, path string) error {
	switch e.Type {
	case TransformationEvent:
		if e.Action != "" {
			return derr(join(path, "action"), "a TransformationEvent has no action")
		}
		if len(e.InputEPCList)+len(e.InputQuantityList)+len(e.OutputEPCList)+len(e.OutputQuantityList) == 0 {
			return derr(path, "a TransformationEvent needs inputs or outputs")
		}
		return nil
	}
	switch e.Action {
	case ActionAdd, ActionObserve, ActionDelete:
	case "":
		return derr(join(path, "action"), "missing")
	default:
		return derr(join(path, "action"), "%q is not ADD, OBSERVE or DELETE", e.Action)
	}
	switch e.Type {
	case ObjectEvent:
		if len(e.EPCList)+len(e.QuantityList) == 0 {
			return derr(join(path, "epcList"), "an ObjectEvent needs an epcList or a quantityList")
		}
		if e.ILMD != nil && e.Action != ActionAdd {
			return derr(join(path, "ilmd"), "only an ADD event carries ILMD")
		}
	case AggregationEvent, AssociationEvent:
		if e.ParentID == "" && e.Action != ActionObserve {
			return derr(join(path, "parentID"), "missing (required for %s)", e.Action)
		}
		if e.Action == ActionAdd && len(e.ChildEPCs)+len(e.ChildQuantityList) == 0 {
			return derr(join(path, "childEPCs"), "an ADD needs children")
		}
	case TransactionEvent:
		if len(e.BizTransactionList) == 0 {
			return derr(join(path, "bizTransactionList"), "a TransactionEvent needs one")
		}
	}
	return nil
}

// isExtensionKey reports whether k is a namespaced user field ("ex:f") or a
// full IRI, which EPCIS 2.0 allows beside the standard fields.
func isExtensionKey(k string) bool {
	i := strings.IndexByte(k, ':')
	return i > 0 && i < len(k)-1 && !strings.HasPrefix(k, "@")
}

func decodeObject(raw json.RawMessage, path string) (map[string]json.RawMessage, error) {
	if raw == nil {
		return nil, derr(path, "missing")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, derr(path, "must be a JSON object")
	}
	return obj, nil
}

func decodeString(raw json.RawMessage, path string, dst *string) error {
	if raw == nil {
		return derr(path, "missing")
	}
	if v, ok := plainString(raw); ok {
		*dst = v
	} else if err := json.Unmarshal(raw, dst); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return derr(path, "must be a string")
	}
	if *dst == "" {
		return derr(path, "is empty")
	}
	return nil
}

// plainString returns the value of a JSON string that needs no unescaping:
// printable ASCII without backslashes, which EPCs, times and CBV values
// are. Anything else goes through encoding/json.
func plainString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c < 0x20 || c >= 0x7f || c == '\\' || c == '"' {
			return "", false
		}
	}
	return string(raw[1 : len(raw)-1]), true
}

// isJSONString reports whether raw (as json.Unmarshal leaves it, without
// leading space) is a JSON string.
func isJSONString(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '"'
}

func decodeOptString(obj map[string]json.RawMessage, field, path string, dst *string) error {
	raw, ok := obj[field]
	if !ok {
		return nil
	}
	return decodeString(raw, join(path, field), dst)
}

func decodeStrings(raw json.RawMessage, path string, dst *[]string) error {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return derr(path, "must be an array of strings")
	}
	out := make([]string, len(list))
	for i, r := range list {
		if err := decodeString(r, index(path, i), &out[i]); err != nil {
			return err
		}
	}
	*dst = out
	return nil
}

func decodeTime(raw json.RawMessage, path string, dst *time.Time) error {
	var s string
	if err := decodeString(raw, path, &s); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return derr(path, "%q is not an RFC 3339 date-time with offset", s)
	}
	if y := t.UTC().Year(); !eventYearOK(y) {
		return derr(path, "%q: year %d is out of range", s, y)
	}
	*dst = t
	return nil
}

// parseEventTime parses a time as decodeTime accepts it, for the one-pass
// decoder.
func parseEventTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil && eventYearOK(t.UTC().Year())
}

// eventYearOK bounds years: far-off ones would not survive being rewritten
// in another offset (year 0000 becomes -0001), and no supply chain event
// has one.
func eventYearOK(y int) bool { return y >= 1000 && y <= 9000 }

// decodeEPCs decodes a list of EPC instance identifiers.
func decodeEPCs(raw json.RawMessage, path string, dst *[]string) error {
	if err := decodeStrings(raw, path, dst); err != nil {
		return err
	}
	seen := make(map[string]bool, len(*dst))
	for i, s := range *dst {
		p := index(path, i)
		if err := checkInstanceEPC(s, p); err != nil {
			return err
		}
		if seen[s] {
			return derr(p, "%q is listed twice", s)
		}
		seen[s] = true
	}
	return nil
}

// checkInstanceEPC checks that s names one object (a pack or a logistic
// unit), as epcList, childEPCs and parentID must.
func checkInstanceEPC(s, path string) error {
	epc, err := parseEPC(s)
	if err != nil {
		return derr(path, "%v", err)
	}
	if epc.Kind != gs1.EPCSGTIN && epc.Kind != gs1.EPCSSCC {
		return derr(path, "%q is a %s, not an SGTIN or SSCC", s, epc.Kind)
	}
	return nil
}

// compactJSON removes insignificant white space so stored JSON is
// canonical; raw is known to be valid JSON.
func compactJSON(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

// isTZOffset reports whether s is written as a time zone offset like
// +01:00, from -14:59 to +14:59, as the regexp ^[+-](0\d|1[0-4]):[0-5]\d$
// would match (TestIsTZOffsetMatchesRegexp), without a regexp run per
// event. The decoder takes these, as rules version 1 did; from version 2
// the rules refuse those beyond ±14:00 (tzOffsetInRange).
func isTZOffset(s string) bool {
	if len(s) != 6 || s[0] != '+' && s[0] != '-' || s[3] != ':' {
		return false
	}
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	switch s[1] {
	case '0':
		if !digit(s[2]) {
			return false
		}
	case '1':
		if s[2] < '0' || s[2] > '4' {
			return false
		}
	default:
		return false
	}
	return s[4] >= '0' && s[4] <= '5' && digit(s[5])
}

// tzOffsetInRange reports whether s is an offset the EPCIS 2.0 XSD and
// JSON schema allow: -14:00 to +14:00, so hours 00 to 13 with any
// minutes, or exactly 14:00. No zone is further than 14 hours from UTC
// (Kiribati, +14:00).
func tzOffsetInRange(s string) bool {
	return isTZOffset(s) && (s[1:3] != "14" || s[4:] == "00")
}

// offsetLocations caches the fixed zones of the offsets seen, so writing
// an event's time does not build a zone per event.
var offsetLocations sync.Map // string -> *time.Location

// offsetLocation turns "+01:00" into a fixed time zone.
func offsetLocation(offset string) (*time.Location, bool) {
	if loc, ok := offsetLocations.Load(offset); ok {
		return loc.(*time.Location), true
	}
	if !isTZOffset(offset) {
		return nil, false
	}
	h, _ := strconv.Atoi(offset[1:3])
	m, _ := strconv.Atoi(offset[4:6])
	secs := h*3600 + m*60
	if offset[0] == '-' {
		secs = -secs
	}
	// At most 2 × 15 × 60 valid offsets, so the cache stays small.
	loc, _ := offsetLocations.LoadOrStore(offset, time.FixedZone(offset, secs))
	return loc.(*time.Location), true
}
