package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// Checking a chain of custody against the ledger. Its events are read
// from this node's projection (event_records): a copy the node keeps of
// what the ledger's entries did, which an edit of its database changes
// without touching the Merkle tree. The inclusion proofs served beside
// the events cover the committed entries, not those rows. So each event
// is checked against the entry at its seq before it is served: the entry
// hashes to its leaf in the tree, is an accepted capture of an event of
// that id, by that actor at that record time; the row's summary columns
// are that event's as Apply read it (models.Event.AsApplied); and its
// stored JSON is that event as Apply stored it or, once a later entry
// declared it erroneous, that entry's restatement with its
// errorDeclaration, checked against that entry in turn (the projection
// names it: models.EventDeclaration). A rewritten row is refused
// (projection_mismatch), never shown beside a proof as if proven.
//
// The stored JSON is compared byte for byte with the event as Apply
// would store it; failing that (a ledger written by older rules, whose
// stored form this binary may not rebuild to the byte), by the CBV 2.0
// event hash (models.EventHashIDAt), the canonical form the rules
// themselves compare a declaration with, which leaves out recordTime,
// eventID, certificationInfo and errorDeclaration: those are compared on
// their own.
//
// Not checked: a declaration recorded before the projection named its
// entry (no EventDeclaration row; the event is then served without
// declared_in, and only its restatement's hash is held to the captured
// event), and which events a chain lists: that is this node's index, and
// an event left out of it leaves nothing an inclusion proof could show.

// capturedEvents is what one committed capture entry holds: its events'
// JSON as committed, decoded only when a chain lists them (a capture may
// hold 10,000 events, and a pack's chain one of them).
type capturedEvents struct {
	entry raftstore.Entry
	rules int // the rules version the entry was applied by
	raw   []json.RawMessage
	byID  map[string]int
}

// eventChecker checks the events of one answer. A chain lists events in
// ledger order, so those of one capture come together: it keeps the few
// entries read last (a capture may be 4 MB, and a chain of 2,000 events
// name as many), not every one.
type eventChecker struct {
	ledger   proofSource
	adoption []models.RulesAdoption
	entries  recentEntries[*capturedEvents]
}

// maxCheckedEntries bounds the entries a checker keeps: the capture of
// the events at hand and the declarations of some of them.
const maxCheckedEntries = 4

// recentEntries keeps the maxCheckedEntries entries of one answer used
// last, by seq, the least recently used going first: an entry that
// declared many of a chain's events stays while their captures come and
// go.
type recentEntries[T any] struct {
	bySeq map[uint64]T
	used  []uint64 // least recently used first
}

// get returns the entry kept for seq, and makes it the most recently used.
func (r *recentEntries[T]) get(seq uint64) (T, bool) {
	v, ok := r.bySeq[seq]
	if ok {
		i := slices.Index(r.used, seq)
		r.used = append(slices.Delete(r.used, i, i+1), seq)
	}
	return v, ok
}

// put keeps v for seq, which get did not find.
func (r *recentEntries[T]) put(seq uint64, v T) {
	if r.bySeq == nil {
		r.bySeq = map[uint64]T{}
	}
	if len(r.bySeq) >= maxCheckedEntries {
		delete(r.bySeq, r.used[0])
		r.used = r.used[1:]
	}
	r.bySeq[seq] = v
	r.used = append(r.used, seq)
}

func newEventChecker(l proofSource, adoptions []models.RulesAdoption) *eventChecker {
	return &eventChecker{ledger: l, adoption: adoptions}
}

// projectionMismatch is the error of an event whose row the committed
// entry at seq contradicts. It is the node's fault, not the client's, and
// another node's copy may well be sound.
func projectionMismatch(seq uint64, eventID, what string) error {
	return recordMismatch(seq, "event "+eventID, what)
}

// rulesAt is the rules version an entry at seq was applied by: the newest
// adopted before it, 1 before any.
func (k *eventChecker) rulesAt(seq uint64) int {
	v := 1
	for _, a := range k.adoption {
		if a.Seq < seq && a.Version > v {
			v = a.Version
		}
	}
	return v
}

// capture reads and decodes the entry at seq once per answer.
func (k *eventChecker) capture(seq uint64, eventID string) (*capturedEvents, error) {
	if ce, ok := k.entries.get(seq); ok {
		return ce, nil
	}
	e, err := acceptedEntry(k.ledger, seq, models.KindCaptureEvents, "event "+eventID)
	if err != nil {
		return nil, err
	}
	ce := &capturedEvents{entry: e, rules: k.rulesAt(seq)}
	if ce.raw, err = rawArray(e.Command.Payload, "events"); err != nil {
		return nil, fmt.Errorf("split the capture at seq %d: %w", seq, err)
	}
	// The result names the events in order, hash ids filled in for those
	// the client sent without one, as Apply named them.
	var ids []json.RawMessage
	if len(e.Result.Data) > 0 {
		if ids, err = rawArray(e.Result.Data, "event_ids"); err != nil {
			return nil, fmt.Errorf("split the capture result at seq %d: %w", seq, err)
		}
	}
	ce.byID = make(map[string]int, len(ce.raw))
	for i := range ce.raw {
		var id string
		if len(ids) == len(ce.raw) {
			id, err = jsonString(ids[i])
		} else {
			// An entry whose result does not name them: as Apply did.
			var ev models.Event
			if ev, err = models.DecodeEvent(ce.raw[i]); err == nil {
				if id = ev.EventID; id == "" {
					var applied models.Event
					if applied, err = ev.AsApplied(ce.rules); err == nil {
						id = models.EventHashIDAt(applied, ce.rules)
					}
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("event %d of the capture at seq %d: %w", i, seq, err)
		}
		ce.byID[id] = i
	}
	k.entries.put(seq, ce)
	return ce, nil
}

// check checks one event of a chain of custody against its entry, and
// against the entry that declared it erroneous when the projection names
// one; declaredIn is that entry's seq, 0 when none was checked.
func (k *eventChecker) check(r models.HistoryEntry) (declaredIn uint64, err error) {
	ce, err := k.capture(r.Seq, r.EventID)
	if err != nil {
		return 0, err
	}
	i, ok := ce.byID[r.EventID]
	if !ok {
		return 0, projectionMismatch(r.Seq, r.EventID, "the entry captured no event of that id")
	}
	// Each event of a capture is decoded strictly by itself, as Apply
	// decoded it (models.CaptureEventsPayload).
	committed, err := models.DecodeEvent(ce.raw[i])
	if err != nil {
		return 0, fmt.Errorf("decode event %d of the capture at seq %d: %w", i, r.Seq, err)
	}
	applied, err := committed.AsApplied(ce.rules)
	if err != nil {
		return 0, fmt.Errorf("event %d of the capture at seq %d: %w", i, r.Seq, err)
	}
	cmd := ce.entry.Command
	// The summary columns were written at capture and never change, a
	// declaration notwithstanding.
	switch {
	case r.Actor != cmd.Actor:
		return 0, projectionMismatch(r.Seq, r.EventID, "actor")
	case !r.RecordTime.Equal(cmd.Time):
		return 0, projectionMismatch(r.Seq, r.EventID, "record time")
	case r.Type != applied.Type || !r.EventTime.Equal(applied.EventTime) || r.Action != applied.Action ||
		r.BizStep != applied.BizStep || r.Disposition != applied.Disposition || r.BizLocation != locationKey(applied.BizLocation):
		return 0, projectionMismatch(r.Seq, r.EventID, "its summary differs from the committed event")
	}
	// The stored JSON is the captured event or, declared, the declaring
	// entry's restatement, as Apply stored it (with the capture's record
	// time either way).
	want, wantRules, from := applied, ce.rules, r.Seq
	if r.DeclaredSeq != 0 {
		if want, err = k.declaration(r); err != nil {
			return 0, err
		}
		wantRules, from = k.rulesAt(r.DeclaredSeq), r.DeclaredSeq
	}
	want.EventID, want.RecordTime = r.EventID, cmd.Time.UTC()
	if b, err := want.MarshalJSON(); err == nil && bytes.Equal(b, r.Event) {
		return r.DeclaredSeq, nil
	}
	if what := storedAs(r, want, wantRules, r.DeclaredSeq == 0); what != "" {
		return 0, projectionMismatch(from, r.EventID, what)
	}
	return r.DeclaredSeq, nil
}

// declaration is the error declaration of r's event that the entry the
// projection names for it committed, as Apply read it.
func (k *eventChecker) declaration(r models.HistoryEntry) (models.Event, error) {
	if r.DeclaredSeq <= r.Seq {
		return models.Event{}, projectionMismatch(r.DeclaredSeq, r.EventID, "a declaration must come after the capture it declares")
	}
	de, err := k.capture(r.DeclaredSeq, r.EventID)
	if err != nil {
		return models.Event{}, err
	}
	j, ok := de.byID[r.EventID]
	if !ok {
		return models.Event{}, projectionMismatch(r.DeclaredSeq, r.EventID, "the entry declared no event of that id")
	}
	decl, err := models.DecodeEvent(de.raw[j])
	if err != nil {
		return models.Event{}, fmt.Errorf("decode event %d of the capture at seq %d: %w", j, r.DeclaredSeq, err)
	}
	if decl.ErrorDeclaration == nil {
		return models.Event{}, projectionMismatch(r.DeclaredSeq, r.EventID, "the entry declared no event of that id")
	}
	return decl.AsApplied(de.rules)
}

// storedAs compares the stored event of r with want, the event as Apply
// read it, by what the rules compare events by; it says how they differ,
// "" when they do not. undeclared says r's declaration, if it has one, is
// not known to any entry: only the event it restates is compared.
func storedAs(r models.HistoryEntry, want models.Event, rules int, undeclared bool) (what string) {
	stored, err := models.DecodeEvent(r.Event)
	// The decoder leaves recordTime, which no client may set, unread.
	var recorded struct {
		RecordTime time.Time `json:"recordTime"`
	}
	if err == nil {
		err = json.Unmarshal(r.Event, &recorded)
	}
	switch {
	case err != nil:
		return "its stored event does not decode"
	case !recorded.RecordTime.Equal(want.RecordTime):
		return "record time"
	case stored.EventID != r.EventID:
		return "eventID"
	case undeclared && stored.ErrorDeclaration != nil:
		// A declaration the projection names no entry for (recorded
		// before it did): its restatement must be the captured event by
		// the rules' own comparison, and nothing more is known of it.
		if !sameEvent(want, stored, rules) {
			return "the stored event differs from the committed one"
		}
		return ""
	case !slices.Equal(stored.CertificationInfo, want.CertificationInfo):
		return "certificationInfo"
	case !sameDeclaration(stored.ErrorDeclaration, want.ErrorDeclaration):
		return "errorDeclaration"
	case !sameEvent(want, stored, rules):
		return "the stored event differs from the committed one"
	}
	return ""
}

// sameDeclaration reports whether two error declarations say the same:
// times by instant, user fields byte for byte as decoded.
func sameDeclaration(a, b *models.ErrorDeclaration) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.DeclarationTime.Equal(b.DeclarationTime) && a.Reason == b.Reason &&
		slices.Equal(a.CorrectiveEventIDs, b.CorrectiveEventIDs) &&
		maps.EqualFunc(a.Extensions, b.Extensions, func(x, y json.RawMessage) bool { return bytes.Equal(x, y) })
}

// sameEvent reports whether stored is want by the CBV 2.0 event hash of
// both at the entry's rules, reading a stored event without a context
// with want's or, declared, the declaration's with the stored one's.
func sameEvent(want, stored models.Event, rules int) bool {
	if models.EventHashIDAt(want, rules) == models.EventHashIDAt(stored, rules) {
		return true
	}
	if len(want.Context) == 0 {
		want.Context = stored.Context
	}
	if len(stored.Context) == 0 {
		stored.Context = want.Context
	}
	return models.EventHashIDAt(want, rules) == models.EventHashIDAt(stored, rules) ||
		models.EventHashIDAt(want, models.RulesVersion) == models.EventHashIDAt(stored, models.RulesVersion)
}

// locationKey is the projection's key of a location URI, as Apply writes
// it: the canonical GS1 key, or the URI itself when it names no GS1
// identifier (a geo: URI).
func locationKey(uri string) string {
	if uri == "" {
		return ""
	}
	if e, err := gs1.ParseEPC(uri); err == nil {
		return models.EPCKey(e)
	}
	return uri
}

// rawArray returns the elements, as they are, of the array that is the
// only member, key, of the JSON object data: a capture's payload
// ({"events":[...]}) or result ({"event_ids":[...]}). A capture holds up to
// 10,000 events (4 MB and more): one pass over the bytes splits it, where
// encoding/json would scan and copy every event, and only the events a
// chain lists are then decoded. data was committed, so it is valid JSON;
// anything else than that shape is read by encoding/json.
func rawArray(data []byte, key string) ([]json.RawMessage, error) {
	if out, ok := splitArray(data, key); ok {
		return out, nil
	}
	var obj map[string][]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, err
	}
	if len(obj) != 1 || obj[key] == nil {
		return nil, fmt.Errorf("not an object of one array %q", key)
	}
	return obj[key], nil
}

// splitArray is rawArray's one pass; false when data is not
// {"<key>":[...]} with plain JSON space.
func splitArray(data []byte, key string) ([]json.RawMessage, bool) {
	i := skipSpace(data, 0)
	head := `"` + key + `"`
	if i >= len(data) || data[i] != '{' {
		return nil, false
	}
	i = skipSpace(data, i+1)
	if !bytes.HasPrefix(data[i:], []byte(head)) {
		return nil, false
	}
	i = skipSpace(data, i+len(head))
	if i >= len(data) || data[i] != ':' {
		return nil, false
	}
	i = skipSpace(data, i+1)
	if i >= len(data) || data[i] != '[' {
		return nil, false
	}
	var out []json.RawMessage
	i = skipSpace(data, i+1)
	for i < len(data) && data[i] != ']' {
		end, ok := skipValue(data, i)
		if !ok {
			return nil, false
		}
		out = append(out, json.RawMessage(data[i:end]))
		i = skipSpace(data, end)
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
		} else if i >= len(data) || data[i] != ']' {
			return nil, false
		}
	}
	if i >= len(data) {
		return nil, false
	}
	i = skipSpace(data, i+1)
	if i >= len(data) || data[i] != '}' || skipSpace(data, i+1) != len(data) {
		return nil, false
	}
	return out, true
}

// skipValue returns the end of the JSON value at i (valid JSON assumed,
// but never read past data).
func skipValue(data []byte, i int) (int, bool) {
	depth := 0
	for ; i < len(data); i++ {
		switch data[i] {
		case '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
			if i >= len(data) {
				return 0, false
			}
			if depth == 0 {
				return i + 1, true
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i, true // the end of a scalar at the end of its array
			}
			if depth--; depth == 0 {
				return i + 1, true
			}
		case ',', ' ', '\t', '\r', '\n':
			if depth == 0 {
				return i, true
			}
		}
	}
	if depth == 0 {
		return i, true
	}
	return 0, false
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n') {
		i++
	}
	return i
}

// jsonString reads a JSON string as it is when it holds no escape.
func jsonString(raw json.RawMessage) (string, error) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}
