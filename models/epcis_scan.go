package models

import (
	"bytes"
	"strconv"
	"strings"
	"time"
)

// The one-pass decoder of a capture payload, {"events":[{...},...]}. Every
// node decodes every capture command, so this is on the ledger's hot path:
// one scan over the bytes straight into []Event, with no intermediate maps
// and no json.RawMessage per field.
//
// Invariant: it never decides anything the strict decoder
// ((*CaptureEventsPayload).decodeStrict) would decide differently. It only
// reads the shapes it handles with certainty: the standard fields of the
// hot events, strings of printable ASCII without escapes, a field at most
// once. An event with anything else (an extension, @context, an error
// declaration, sensor data, an escape, a duplicate key, null) is handed
// whole to decodeEvent, the strict per-event decoder, exactly as the
// strict path would do; any doubt about the payload itself, or any error,
// makes the whole pass give up (ok=false) so the strict path finds the
// error and words it. The fast path's validations call the same helpers
// as the strict ones.
// FuzzDecodeFastMatchesStrict holds it to that.

// scanField names the event fields the scanner reads itself.
type scanField uint8

const (
	sfType scanField = iota
	sfEventTime
	sfEventTimeZoneOffset
	sfRecordTime
	sfEventID
	sfEPCList
	sfParentID
	sfChildEPCs
	sfInputEPCList
	sfOutputEPCList
	sfQuantityList
	sfChildQuantityList
	sfInputQuantityList
	sfOutputQuantityList
	sfAction
	sfTransformationID
	sfBizStep
	sfDisposition
	sfReadPoint
	sfBizLocation
	sfBizTransactionList
	sfSourceList
	sfDestinationList
	sfILMD
	numScanFields
)

// scanFieldNames are the JSON names of the scanned fields.
var scanFieldNames = [numScanFields]string{"type", "eventTime", "eventTimeZoneOffset", "recordTime", "eventID",
	"epcList", "parentID", "childEPCs", "inputEPCList", "outputEPCList",
	"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList",
	"action", "transformationID", "bizStep", "disposition", "readPoint", "bizLocation",
	"bizTransactionList", "sourceList", "destinationList", "ilmd"}

// scanEventTypes are the event types, in the order of scanAllowed.
var scanEventTypes = [...]string{ObjectEvent, AggregationEvent, TransactionEvent, TransformationEvent, AssociationEvent}

// scanAllowed[i] has bit f set when an event of type scanEventTypes[i] may
// carry field f: derived from commonFields and fieldsByType, so the two
// decoders cannot disagree on it.
var scanAllowed = func() (m [len(scanEventTypes)]uint32) {
	for i, typ := range scanEventTypes {
		for f, name := range scanFieldNames {
			for _, ok := range [][]string{commonFields, fieldsByType[typ]} {
				for _, n := range ok {
					if n == name {
						m[i] |= 1 << f
					}
				}
			}
		}
	}
	return m
}()

// scanFieldOf returns the scanned field named key (a switch, which the
// compiler turns into a search; TestScanFieldOf checks it against
// scanFieldNames).
func scanFieldOf(key []byte) (scanField, bool) {
	switch string(key) {
	case "type":
		return sfType, true
	case "eventTime":
		return sfEventTime, true
	case "eventTimeZoneOffset":
		return sfEventTimeZoneOffset, true
	case "recordTime":
		return sfRecordTime, true
	case "eventID":
		return sfEventID, true
	case "epcList":
		return sfEPCList, true
	case "parentID":
		return sfParentID, true
	case "childEPCs":
		return sfChildEPCs, true
	case "inputEPCList":
		return sfInputEPCList, true
	case "outputEPCList":
		return sfOutputEPCList, true
	case "quantityList":
		return sfQuantityList, true
	case "childQuantityList":
		return sfChildQuantityList, true
	case "inputQuantityList":
		return sfInputQuantityList, true
	case "outputQuantityList":
		return sfOutputQuantityList, true
	case "action":
		return sfAction, true
	case "transformationID":
		return sfTransformationID, true
	case "bizStep":
		return sfBizStep, true
	case "disposition":
		return sfDisposition, true
	case "readPoint":
		return sfReadPoint, true
	case "bizLocation":
		return sfBizLocation, true
	case "bizTransactionList":
		return sfBizTransactionList, true
	case "sourceList":
		return sfSourceList, true
	case "destinationList":
		return sfDestinationList, true
	case "ilmd":
		return sfILMD, true
	}
	return 0, false
}

// scanner reads JSON from data at pos.
type scanner struct {
	data []byte
	pos  int
	memo scanMemo
}

// memoStr remembers the last raw value of a field and what it decoded to:
// the events of one capture mostly repeat their times, places and steps,
// and a value decodes the same every time, so the repeat costs a compare
// instead of an allocation and a validation.
type memoStr struct {
	raw []byte
	val string
}

func (m *memoStr) get(raw []byte) (string, bool) {
	if m.raw != nil && bytes.Equal(raw, m.raw) {
		return m.val, true
	}
	return "", false
}

func (m *memoStr) put(raw []byte, v string) { m.raw, m.val = raw, v }

// scanMemo holds the memos of one decode.
type scanMemo struct {
	eventTimeRaw  []byte
	eventTime     time.Time
	recordTimeRaw []byte
	tzOffset      memoStr
	bizStep       memoStr
	disposition   memoStr
	location      [2]memoStr // readPoint, bizLocation
	lot, expiry   memoStr
	uom           memoStr
	btType        memoStr
	sdType        memoStr
	partyID       memoStr
}

// ws skips JSON white space (RFC 8259 §2: no other).
func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// eat consumes c, after white space, if it comes next.
func (s *scanner) eat(c byte) bool {
	if s.peek() == c {
		s.pos++
		return true
	}
	return false
}

// str reads a string of printable ASCII without escapes and returns its
// bytes, which are then its value; anything else is left to the strict
// decoder.
func (s *scanner) str() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start, i := s.pos, s.pos
	for i < len(s.data) && plainByte[s.data[i]] {
		i++
	}
	if i == len(s.data) || s.data[i] != '"' {
		return nil, false
	}
	s.pos = i + 1
	return s.data[start:i], true
}

// plainByte marks the bytes str reads as themselves: printable ASCII but
// the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// nonEmpty reads a string that must not be empty, as decodeString wants.
func (s *scanner) nonEmpty() ([]byte, bool) {
	raw, ok := s.str()
	return raw, ok && len(raw) > 0
}

// key reads an object key and its colon.
func (s *scanner) key() ([]byte, bool) {
	k, ok := s.str()
	return k, ok && s.eat(':')
}

// more reads what follows a member or element: true after a comma, false
// after the closing bracket; ok is false for anything else.
func (s *scanner) more(closing byte) (more, ok bool) {
	switch s.peek() {
	case ',':
		s.pos++
		return true, true
	case closing:
		s.pos++
		return false, true
	}
	return false, false
}

// array reads a JSON array, each element by a call of elem; [] reads as
// well.
func (s *scanner) array(elem func() bool) bool {
	if !s.eat('[') {
		return false
	}
	if s.eat(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if more, ok := s.more(']'); !ok || !more {
			return ok
		}
	}
}

// object reads a JSON object, each member by a call of member with its
// key, which reads the value; {} reads as well, so a caller that needs a
// member checks for it.
func (s *scanner) object(member func(key []byte) bool) bool {
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	for {
		k, ok := s.key()
		if !ok || !member(k) {
			return false
		}
		if more, ok := s.more('}'); !ok || !more {
			return ok
		}
	}
}

// decodeCaptureFast is the one pass. ok is false when it cannot decide.
func decodeCaptureFast(data []byte) (events []Event, ok bool) {
	s := scanner{data: data}
	if !s.eat('{') {
		return nil, false
	}
	if k, ok := s.key(); !ok || string(k) != "events" {
		return nil, false
	}
	events = make([]Event, 0, len(data)/384+1) // a typical event is 400-500 bytes
	if !s.array(func() bool {
		if s.peek() != '{' {
			return false
		}
		start := s.pos
		events = append(events, Event{})
		e := &events[len(events)-1]
		if s.event(e) {
			return true
		}
		// Not a shape the scanner reads: the strict per-event decoder
		// gets the event's bytes, as on the strict path. It gets no path:
		// an error only makes this pass give up, and the strict path
		// words it, so paths built for every field would be wasted.
		end := skipValue(data, start)
		if end < 0 {
			return false
		}
		ev, err := decodeEvent(data[start:end], "")
		*e, s.pos = ev, end
		return err == nil
	}) || !s.eat('}') {
		return nil, false
	}
	s.ws()
	if s.pos != len(data) {
		return nil, false
	}
	return events, true
}

// skipValue returns the end of the object or array at data[i], judging by
// brackets outside strings alone; the caller validates what it skipped.
// It returns -1 when the data ends first.
func skipValue(data []byte, i int) int {
	depth := 0
	for ; i < len(data); i++ {
		switch data[i] {
		case '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// event reads one event object into e. It returns false, with e in any
// state, when the event has anything it does not read or any error.
func (s *scanner) event(e *Event) bool {
	var seen uint32
	if !s.object(func(k []byte) bool {
		f, ok := scanFieldOf(k)
		if !ok || seen&(1<<f) != 0 {
			return false
		}
		seen |= 1 << f
		return s.field(f, e)
	}) {
		return false
	}
	const required = 1<<sfType | 1<<sfEventTime | 1<<sfEventTimeZoneOffset
	if seen&required != required {
		return false
	}
	t := -1
	for i, typ := range scanEventTypes {
		if e.Type == typ {
			t = i
		}
	}
	if t < 0 || seen&^scanAllowed[t] != 0 {
		return false
	}
	return checkEventShape(e, "") == nil
}

// field reads the value of field f into e.
func (s *scanner) field(f scanField, e *Event) bool {
	m := &s.memo
	switch f {
	case sfType:
		raw, ok := s.str()
		if !ok {
			return false
		}
		for _, typ := range scanEventTypes {
			if string(raw) == typ {
				e.Type = typ
				return true
			}
		}
		return false
	case sfEventTime:
		raw, ok := s.nonEmpty()
		if !ok {
			return false
		}
		if m.eventTimeRaw == nil || !bytes.Equal(raw, m.eventTimeRaw) {
			t, ok := parseEventTime(string(raw))
			if !ok {
				return false
			}
			m.eventTimeRaw, m.eventTime = raw, t
		}
		e.EventTime = m.eventTime
		return true
	case sfEventTimeZoneOffset:
		raw, ok := s.nonEmpty()
		if !ok {
			return false
		}
		v, ok := m.tzOffset.get(raw)
		if !ok {
			if v = string(raw); !isTZOffset(v) {
				return false
			}
			m.tzOffset.put(raw, v)
		}
		e.EventTimeZoneOffset = v
		return true
	case sfRecordTime:
		// Checked, then replaced by the ledger's record time.
		raw, ok := s.nonEmpty()
		if !ok {
			return false
		}
		if m.recordTimeRaw == nil || !bytes.Equal(raw, m.recordTimeRaw) {
			if _, ok := parseEventTime(string(raw)); !ok {
				return false
			}
			m.recordTimeRaw = raw
		}
		return true
	case sfEventID:
		raw, ok := s.nonEmpty()
		if !ok || bytes.IndexByte(raw, ':') < 0 {
			return false
		}
		e.EventID = string(raw)
		return true
	case sfEPCList:
		return s.epcs(&e.EPCList)
	case sfChildEPCs:
		return s.epcs(&e.ChildEPCs)
	case sfInputEPCList:
		return s.epcs(&e.InputEPCList)
	case sfOutputEPCList:
		return s.epcs(&e.OutputEPCList)
	case sfParentID:
		raw, ok := s.nonEmpty()
		if !ok {
			return false
		}
		e.ParentID = string(raw)
		return checkInstanceEPC(e.ParentID, "") == nil
	case sfQuantityList:
		return s.quantities(&e.QuantityList)
	case sfChildQuantityList:
		return s.quantities(&e.ChildQuantityList)
	case sfInputQuantityList:
		return s.quantities(&e.InputQuantityList)
	case sfOutputQuantityList:
		return s.quantities(&e.OutputQuantityList)
	case sfAction:
		// checkEventShape accepts no other value.
		raw, ok := s.str()
		for _, a := range [...]string{ActionAdd, ActionObserve, ActionDelete} {
			if ok && string(raw) == a {
				e.Action = a
				return true
			}
		}
		return false
	case sfTransformationID:
		raw, ok := s.nonEmpty()
		e.TransformationID = string(raw)
		return ok
	case sfBizStep:
		return s.vocab(&e.BizStep, vocabBizStep, &m.bizStep)
	case sfDisposition:
		return s.vocab(&e.Disposition, vocabDisposition, &m.disposition)
	case sfReadPoint:
		return s.location(&e.ReadPoint, &m.location[0])
	case sfBizLocation:
		return s.location(&e.BizLocation, &m.location[1])
	case sfBizTransactionList:
		return s.bizTransactions(&e.BizTransactionList)
	case sfSourceList:
		return s.parties("source", func(typ, id string) { e.SourceList = append(e.SourceList, Source{Type: typ, Source: id}) })
	case sfDestinationList:
		return s.parties("destination", func(typ, id string) {
			e.DestinationList = append(e.DestinationList, Destination{Type: typ, Destination: id})
		})
	case sfILMD:
		return s.ilmd(e)
	}
	return false
}

// epcs reads a list of instance EPCs as decodeEPCs does: an empty list is
// an empty, non-nil slice; an EPC listed twice is an error.
func (s *scanner) epcs(dst *[]string) bool {
	out := []string{}
	if !s.array(func() bool {
		raw, ok := s.nonEmpty()
		if !ok {
			return false
		}
		epc := string(raw)
		out = append(out, epc)
		return checkInstanceEPC(epc, "") == nil
	}) {
		return false
	}
	if len(out) <= 16 {
		for i := 1; i < len(out); i++ {
			for j := 0; j < i; j++ {
				if out[i] == out[j] {
					return false
				}
			}
		}
	} else {
		seen := make(map[string]bool, len(out))
		for _, epc := range out {
			if seen[epc] {
				return false
			}
			seen[epc] = true
		}
	}
	*dst = out
	return true
}

// vocab reads a CBV value as decodeVocab does.
func (s *scanner) vocab(dst *string, v *cbvVocab, m *memoStr) bool {
	raw, ok := s.nonEmpty()
	if !ok {
		return false
	}
	if n, ok := m.get(raw); ok {
		*dst = n
		return true
	}
	n, err := v.normalize(string(raw))
	if err != nil {
		return false
	}
	m.put(raw, n)
	*dst = n
	return true
}

// location reads a readPoint or bizLocation as decodeLocation does: a
// string or {"id": ...} (an object with extensions is left to it).
func (s *scanner) location(dst *string, m *memoStr) bool {
	var raw []byte
	var ok bool
	switch s.peek() {
	case '"':
		raw, ok = s.nonEmpty()
	case '{':
		s.pos++
		var k []byte
		if k, ok = s.key(); !ok || string(k) != "id" {
			return false
		}
		raw, ok = s.nonEmpty()
		ok = ok && s.eat('}')
	}
	if !ok {
		return false
	}
	if id, ok := m.get(raw); ok {
		*dst = id
		return true
	}
	id := string(raw)
	if checkLocationID(id, "") != nil {
		return false
	}
	m.put(raw, id)
	*dst = id
	return true
}

// quantities reads a quantity list as decodeQuantities does: an empty
// list is an empty, non-nil slice.
func (s *scanner) quantities(dst *[]QuantityElement) bool {
	out := []QuantityElement{}
	if !s.array(func() bool {
		q, ok := s.quantity()
		out = append(out, q)
		return ok
	}) {
		return false
	}
	*dst = out
	return true
}

func (s *scanner) quantity() (q QuantityElement, ok bool) {
	var uom bool
	ok = s.object(func(k []byte) bool {
		switch string(k) {
		case "epcClass":
			raw, ok := s.nonEmpty()
			if !ok || q.EPCClass != "" {
				return false
			}
			q.EPCClass = string(raw)
			return checkClassEPC(q.EPCClass, "") == nil
		case "quantity":
			f, ok := s.number()
			if !ok || f < 0 || q.Quantity != nil {
				return false
			}
			q.Quantity = &f
			return true
		case "uom":
			raw, ok := s.nonEmpty()
			if !ok || uom {
				return false
			}
			if q.UOM, ok = s.memo.uom.get(raw); !ok {
				q.UOM = string(raw)
				s.memo.uom.put(raw, q.UOM)
			}
			uom = true
			return true
		}
		return false
	})
	// decodeQuantities wants the class, and a quantity with a uom.
	return q, ok && q.EPCClass != "" && (!uom || q.Quantity != nil)
}

// number reads a JSON number (RFC 8259 §6) and converts it as
// encoding/json does for a float64.
func (s *scanner) number() (float64, bool) {
	s.ws()
	d, start := s.data, s.pos
	i := start
	digits := func() bool {
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		digits()
	default:
		return 0, false
	}
	if i < len(d) && d[i] == '.' {
		i++
		if !digits() {
			return 0, false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if !digits() {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(d[start:i]), 64)
	if err != nil {
		return 0, false
	}
	s.pos = i
	return f, true
}

// bizTransactions reads a bizTransactionList as decodeBizTransactions
// does: an empty list leaves it nil.
func (s *scanner) bizTransactions(dst *[]BizTransaction) bool {
	return s.array(func() bool {
		var bt BizTransaction
		var seen [2]bool
		ok := s.object(func(k []byte) bool {
			switch string(k) {
			case "bizTransaction":
				raw, ok := s.nonEmpty()
				if !ok || seen[0] {
					return false
				}
				seen[0] = true
				bt.BizTransaction = string(raw)
				return true
			case "type":
				if seen[1] || !s.vocab(&bt.Type, vocabBizTransactionType, &s.memo.btType) {
					return false
				}
				seen[1] = true
				return true
			}
			return false
		})
		if !ok || !seen[0] {
			return false
		}
		*dst = append(*dst, bt)
		return true
	})
}

// parties reads a sourceList or destinationList as decodeSourceDest does,
// handing each (type, id) to add: an empty list adds nothing.
func (s *scanner) parties(idField string, add func(typ, id string)) bool {
	return s.array(func() bool {
		var typ, id string
		ok := s.object(func(k []byte) bool {
			switch string(k) {
			case "type":
				return typ == "" && s.vocab(&typ, vocabSourceDestType, &s.memo.sdType)
			case idField:
				raw, ok := s.nonEmpty()
				if !ok || id != "" {
					return false
				}
				if id, ok = s.memo.partyID.get(raw); !ok {
					if id = string(raw); !strings.Contains(id, ":") {
						return false
					}
					s.memo.partyID.put(raw, id)
				}
				return true
			}
			return false
		})
		if !ok || typ == "" || id == "" {
			return false
		}
		add(typ, id)
		return true
	})
}

// ilmd reads an ILMD of lot and expiry alone as decodeILMD does (one with
// extensions is left to it).
func (s *scanner) ilmd(e *Event) bool {
	m := &ILMD{}
	e.ILMD = m
	return s.object(func(k []byte) bool {
		switch string(k) {
		case ilmdLotKeys[0], ilmdLotKeys[1], ilmdLotKeys[2]:
			raw, ok := s.nonEmpty()
			if !ok || m.LotNumber != "" {
				return false
			}
			if m.LotNumber, ok = s.memo.lot.get(raw); !ok {
				m.LotNumber = string(raw)
				s.memo.lot.put(raw, m.LotNumber)
			}
			return true
		case ilmdExpiryKeys[0], ilmdExpiryKeys[1], ilmdExpiryKeys[2]:
			raw, ok := s.nonEmpty()
			if !ok || m.ItemExpirationDate != "" {
				return false
			}
			if m.ItemExpirationDate, ok = s.memo.expiry.get(raw); !ok {
				m.ItemExpirationDate = string(raw)
				if _, err := time.Parse(time.DateOnly, m.ItemExpirationDate); err != nil {
					return false
				}
				s.memo.expiry.put(raw, m.ItemExpirationDate)
			}
			return true
		}
		return false
	})
}
