package models

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pedigree-ledger/pedigree/models/gs1"
	"gorm.io/gorm"
)

// capture_events: applying a batch of EPCIS events. The batch is applied
// in memory against the items its events name, loaded with a few bulk IN
// queries, and written back with batched inserts and upserts, so a
// 1,000-event batch costs a handful of statements, not thousands. Moving a
// whole container (shipping, receiving) is one recursive SQL update over its
// subtree, after the in-memory state is flushed so SQL sees it.

// MaxCaptureEvents is the most events one capture_events command may carry
// (advertised as GS1-EPCIS-Capture-Limit).
const MaxCaptureEvents = 10000

// sqlChunk bounds the number of bound variables per IN list.
const sqlChunk = 5000

// itemState is one item being changed by a capture.
type itemState struct {
	Item
	parentKey string // canonical key of the container holding it, or ""
	dirty     bool
}

// capture carries a capture_events command's working state; a Batch's
// pending capture carries that of a run of consecutive captures, until
// Flush writes it.
type capture struct {
	a *applier
	// batch is the Batch the capture belongs to; its flushes report the
	// pack rows they write to it, for the verify index.
	batch *Batch
	items map[string]*itemState // by key; a nil entry is known not to exist
	// idKeys are the keys of items in memory by id, for load to name
	// containers. An entry may be stale (an undone command's new item,
	// whose id a later one reuses): keyOfID checks it against items.
	idKeys   map[int64]string
	products map[string]*Product // by GTIN; nil entry: known to be absent
	orgs     map[string]bool     // registered organisations looked up so far
	prefixes []string            // the actor's company prefixes
	pending  []pendingEvent
	ids      []string
	// lastEventID is the database id of the last event flushed.
	lastEventID int64
	// event is the index in its capture of the event being applied,
	// goneClaims what the capture's events said that must hold by its
	// end, and reached the statuses each pack an event named was left in,
	// when an event may say packs left the supply chain (rules version 3:
	// dispositionHolds, checkGoneClaims).
	event      int
	goneClaims []goneClaim
	reached    map[string][]Status
	// nextItemID is the id the next new item gets (0: not yet looked up).
	nextItemID int64

	// For a Batch's pending capture, which outlives one command:
	// pendingIDs are the event ids applied but not yet written, and the
	// rest is the current command's journal, so a rejection can be undone.
	pendingIDs map[string]bool
	// absentIDs are event ids Batch.Prefetch found not stored; an id
	// leaves the set when a command makes it pending, written or not.
	absentIDs map[string]bool
	journal   map[string]journaled // pre-images of the items the command reached
	newIDs    []string             // event ids the command added to pendingIDs
	mark      struct {
		pending    int
		nextItemID int64
	}
}

// journaled is an item as it was before the current command reached it.
type journaled struct {
	it   *itemState // nil: known absent
	copy itemState
}

// newCapture returns an empty capture reading products and organisations
// through b.
func newCapture(b *Batch) *capture {
	return &capture{batch: b, items: map[string]*itemState{}, idKeys: map[int64]string{}, products: b.products, orgs: b.orgs, pendingIDs: map[string]bool{}}
}

// put makes it the in-memory item with its key.
func (c *capture) put(it *itemState) {
	c.items[it.Key] = it
	c.idKeys[it.ID] = it.Key
}

// keyOfID is the key of the in-memory item with id, if there is one.
func (c *capture) keyOfID(id int64) (string, bool) {
	k, ok := c.idKeys[id]
	if !ok {
		return "", false
	}
	if it := c.items[k]; it != nil && it.ID == id {
		return k, true
	}
	return "", false
}

// begin starts a command on a pending capture.
func (c *capture) begin() {
	c.journal = map[string]journaled{}
	c.newIDs = c.newIDs[:0]
	c.mark.pending, c.mark.nextItemID = len(c.pending), c.nextItemID
}

// undo forgets everything the current command did.
func (c *capture) undo() {
	for key, j := range c.journal {
		c.items[key] = j.it
		if j.it != nil {
			*j.it = j.copy
		}
	}
	c.pending = c.pending[:c.mark.pending]
	c.nextItemID = c.mark.nextItemID
	for _, id := range c.newIDs {
		delete(c.pendingIDs, id)
	}
	c.journal = nil
}

// keep ends the current command, keeping what it did.
func (c *capture) keep() { c.journal = nil }

// clean reports whether nothing waits to be written.
func (c *capture) clean() bool {
	if len(c.pending) > 0 {
		return false
	}
	for _, it := range c.items {
		if it != nil && it.dirty {
			return false
		}
	}
	return true
}

// needSQL stops a command running in memory at a step that reads or
// writes the database directly.
func (c *capture) needSQL() error {
	if c.a.batch.inMemory {
		return errNeedSQL
	}
	return nil
}

// pendingEvent is an event record not yet written, with the identifiers
// it names and their roles.
type pendingEvent struct {
	rec  EventRecord
	keys []keyRoles
}

func (a *applier) captureEvents(p CaptureEventsPayload) (any, error) {
	if a.isCluster() {
		return nil, reject(CodeForbidden, "events are captured by an organisation")
	}
	if len(p.Events) == 0 {
		return nil, reject(CodeBadPayload, "no events")
	}
	if len(p.Events) > MaxCaptureEvents {
		return nil, reject(CodeBadPayload, "%d events; at most %d per capture", len(p.Events), MaxCaptureEvents)
	}
	// In a Batch, consecutive captures share one pending capture, written
	// later; otherwise the capture is written before the command ends.
	c := a.batch.pending
	if !a.batch.inMemory {
		c = newCapture(a.batch)
	}
	c.a, c.ids, c.goneClaims, c.reached = a, nil, nil, nil
	if a.rules >= rulesEPCISFidelity {
		if err := readEPCIS2(p.Events); err != nil {
			return nil, err
		}
	}
	// After readEPCIS2, which reads cbv:Disp-dispensed as dispensed.
	if a.rules >= rulesCaptureConsistency && mayClaimGone(p.Events) {
		c.reached = map[string][]Status{}
	}
	if err := c.assignIDs(p.Events); err != nil {
		return nil, err
	}
	c.prefixes = strings.Fields(a.actor.Prefixes)
	if err := c.preload(p.Events); err != nil {
		return nil, err
	}
	for i := range p.Events {
		c.event = i
		if err := c.apply(&p.Events[i]); err != nil {
			var rej *Rejection
			if errors.As(err, &rej) {
				rej.Message = fmt.Sprintf("event %d (%s): %s", i, p.Events[i].EventID, rej.Message)
			}
			return nil, err
		}
	}
	if err := c.checkGoneClaims(); err != nil {
		return nil, err
	}
	if !a.batch.inMemory {
		if err := c.flush(); err != nil {
			return nil, err
		}
	}
	return CaptureResult{EventIDs: c.ids}, nil
}

// readEPCIS2 applies to captured events what rules version 2 reads
// otherwise than version 1 (rulesEPCISFidelity): it refuses a time zone
// offset beyond ±14:00 (but in an error declaration), and reads a CBV value written as a compact URI
// (cbv:BizStep-shipping) as the standard value. It may run twice on the
// same events.
func readEPCIS2(events []Event) error {
	for i := range events {
		e := &events[i]
		// An error declaration restates an event captured before, by
		// whatever rules were in force then.
		if e.ErrorDeclaration == nil && !tzOffsetInRange(e.EventTimeZoneOffset) {
			return reject(CodeBadPayload, "event %d: eventTimeZoneOffset %q is not an offset from -14:00 to +14:00", i, e.EventTimeZoneOffset)
		}
		if err := e.readCompactValues(""); err != nil {
			return reject(CodeBadPayload, "event %d: %v", i, err)
		}
	}
	return nil
}

// assignIDs fills in hash ids for events without an eventID and rejects an
// id seen before, in this batch or in the ledger.
func (c *capture) assignIDs(events []Event) error {
	seen := make(map[string]int, len(events))
	var fresh []string // ids of new events, which must not exist yet
	for i := range events {
		e := &events[i]
		if e.EventID == "" {
			e.EventID = eventHashID(e, c.a.rules)
		}
		if j, ok := seen[e.EventID]; ok {
			return reject(CodeConflict, "events %d and %d have the same eventID %s", j, i, e.EventID)
		}
		seen[e.EventID] = i
		c.ids = append(c.ids, e.EventID)
		if e.ErrorDeclaration == nil {
			fresh = append(fresh, e.EventID)
		}
	}
	for chunk := range slices.Chunk(fresh, sqlChunk) {
		// Chunks are cut the same way whatever Prefetch knows, so the
		// duplicate a rejection names does not depend on the batch.
		var dup string
		if ask := c.notKnownAbsent(chunk); len(ask) > 0 {
			var err error
			if dup, err = anyEventID(c.a.tx, ask); err != nil {
				return fmt.Errorf("look up event ids: %w", err)
			}
		}
		for _, id := range chunk { // applied earlier in the batch, not yet written
			if c.pendingIDs[id] && (dup == "" || id < dup) {
				dup = id
			}
		}
		if dup != "" {
			return reject(CodeConflict, "event %s was already captured", dup)
		}
	}
	if c.a.batch.inMemory {
		for _, id := range fresh {
			c.pendingIDs[id] = true
			delete(c.absentIDs, id)
		}
		c.newIDs = append(c.newIDs, fresh...)
	}
	return nil
}

// notKnownAbsent returns the ids that Prefetch did not find absent: those
// the database must be asked about.
func (c *capture) notKnownAbsent(ids []string) []string {
	if len(c.absentIDs) == 0 {
		return ids
	}
	var ask []string
	for _, id := range ids {
		if !c.absentIDs[id] {
			ask = append(ask, id)
		}
	}
	return ask
}

// declareError applies an event carrying an errorDeclaration (EPCIS 2.0
// §7.4.1.3): a restatement, under the same eventID, of an event its
// capturer now declares erroneous. The stored event takes the declaration;
// packs are not changed, since the corrective events (correctiveEventIDs)
// say what really happened.
func (c *capture) declareError(e *Event) error {
	if err := c.needSQL(); err != nil {
		return err
	}
	var orig EventRecord
	err := c.a.tx.Where("event_hash = ? AND event_id = ?", EventIDHash(e.EventID), e.EventID).Take(&orig).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return reject(CodeNotFound, "the error declaration names event %s, which was never captured", e.EventID)
	}
	if err != nil {
		return fmt.Errorf("look up declared event: %w", err)
	}
	if orig.Actor != c.a.actorID() {
		return reject(CodeForbidden, "event %s was captured by %s; only it may declare it erroneous", e.EventID, orig.Actor)
	}
	stored, err := DecodeEvent([]byte(orig.JSON))
	if err != nil {
		return fmt.Errorf("decode stored event %s: %w", e.EventID, err)
	}
	same, err := c.restates(e, &stored, orig.Seq)
	if err != nil {
		return err
	}
	if !same {
		return reject(CodeBadPayload, "the error declaration must restate event %s unchanged", e.EventID)
	}
	js, err := c.storedJSON(e, orig.RecordTime)
	if err != nil {
		return err
	}
	if err := c.a.tx.Model(&EventRecord{}).Where("id = ?", orig.ID).Update("json", js).Error; err != nil {
		return fmt.Errorf("store error declaration: %w", err)
	}
	// A later declaration of the same event replaces the JSON, and so
	// the entry it names.
	sum := sha256.Sum256([]byte(js))
	if err := c.a.tx.Exec(`INSERT INTO event_declarations (event_record_id, seq, json_hash) VALUES (?, ?, ?)
		ON CONFLICT (event_record_id) DO UPDATE SET seq = excluded.seq, json_hash = excluded.json_hash`, orig.ID, int64(c.a.seq), sum[:]).Error; err != nil {
		return fmt.Errorf("store error declaration: %w", err)
	}
	return nil
}

// instanceKeys returns the canonical keys of the objects an event names
// (not classes): its epcList, parentID, childEPCs, inputs and outputs.
func instanceKeys(e *Event) []string {
	var keys []string
	for _, list := range [][]string{e.EPCList, e.ChildEPCs, e.InputEPCList, e.OutputEPCList} {
		for _, s := range list {
			keys = append(keys, keyOf(s))
		}
	}
	if e.ParentID != "" {
		keys = append(keys, keyOf(e.ParentID))
	}
	return keys
}

// preload loads, in bulk, every item the events name, their containers,
// and the products of commissioned GTINs.
func (c *capture) preload(events []Event) error {
	var keys []string
	gtins := map[string]bool{}
	for i := range events {
		keys = append(keys, instanceKeys(&events[i])...)
		if events[i].Type == ObjectEvent && events[i].Action == ActionAdd {
			for _, s := range events[i].EPCList {
				if epc, err := parseEPC(s); err == nil && epc.Kind == gs1.EPCSGTIN {
					gtins[epc.SGTIN.GTIN] = true
				}
			}
		}
	}
	if err := c.load(keys); err != nil {
		return err
	}
	for g := range gtins {
		if _, known := c.products[g]; known {
			delete(gtins, g)
		}
	}
	list := sortedKeys(gtins)
	for _, g := range list {
		c.products[g] = nil // known absent unless loaded below
	}
	for chunk := range slices.Chunk(list, sqlChunk) {
		ps, err := findProducts(c.a.tx, chunk)
		if err != nil {
			return fmt.Errorf("load products: %w", err)
		}
		for i := range ps {
			c.products[ps[i].GTIN] = &ps[i]
		}
	}
	return nil
}

// load brings the items with the given keys (and their containers) into
// memory, skipping those already there.
func (c *capture) load(keys []string) error {
	var missing []string
	for _, k := range keys {
		if _, ok := c.items[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	missing = slices.Compact(missing)
	var loaded []Item
	for chunk := range slices.Chunk(missing, sqlChunk) {
		part, err := findItems(c.a.tx, "key", chunk)
		if err != nil {
			return fmt.Errorf("load items: %w", err)
		}
		loaded = append(loaded, part...)
	}
	// Containers of the loaded items, to know their keys: loaded with
	// them, in memory already, or read now. (Looking up only these ids,
	// not listing every item in memory, keeps a batch of many small
	// captures from costing the square of its size.)
	byID := map[int64]string{}
	var parentIDs []int64
	for _, it := range loaded {
		byID[it.ID] = it.Key
	}
	for _, it := range loaded {
		if it.ParentID == 0 {
			continue
		}
		if _, ok := byID[it.ParentID]; ok {
			continue
		}
		if k, ok := c.keyOfID(it.ParentID); ok {
			byID[it.ParentID] = k
			continue
		}
		parentIDs = append(parentIDs, it.ParentID)
	}
	slices.Sort(parentIDs)
	parentIDs = slices.Compact(parentIDs)
	var parents []Item
	for chunk := range slices.Chunk(parentIDs, sqlChunk) {
		part, err := findItems(c.a.tx, "id", chunk)
		if err != nil {
			return fmt.Errorf("load containers: %w", err)
		}
		parents = append(parents, part...)
	}
	for _, it := range parents {
		byID[it.ID] = it.Key
	}
	for _, k := range missing {
		c.items[k] = nil // known absent unless loaded below
	}
	for _, it := range append(loaded, parents...) {
		if c.items[it.Key] != nil {
			continue
		}
		st := &itemState{Item: it}
		if it.ParentID != 0 {
			st.parentKey = byID[it.ParentID]
		}
		c.put(st)
	}
	return nil
}

// item returns the in-memory item with key, loading it if needed; nil if
// it does not exist.
func (c *capture) item(key string) (*itemState, error) {
	it, ok := c.items[key]
	if !ok {
		if err := c.load([]string{key}); err != nil {
			return nil, err
		}
		it = c.items[key]
	}
	// Every change a rule makes goes through a pointer from here, so this
	// is where a pending capture's command journals what it may change.
	if c.journal != nil {
		if _, seen := c.journal[key]; !seen {
			j := journaled{it: it}
			if it != nil {
				j.copy = *it
			}
			c.journal[key] = j
		}
	}
	return it, nil
}

// touch marks an item changed by the current command.
func (c *capture) touch(it *itemState) {
	it.dirty = true
	it.Seq = c.a.seq
}

// flush writes new and changed items and pending events, so the database
// matches memory.
func (c *capture) flush() error {
	var rows [][]any
	for _, k := range sortedKeys(c.items) {
		it := c.items[k]
		if it == nil || !it.dirty {
			continue
		}
		it.ParentID = 0
		if it.parentKey != "" {
			parent := c.items[it.parentKey]
			if parent == nil {
				return fmt.Errorf("container %s of %s not in memory", it.parentKey, it.Key)
			}
			it.ParentID = parent.ID
		}
		it.dirty = false
		rows = append(rows, itemRow(&it.Item))
		c.batch.wrote(&it.Item)
	}
	if err := insertRows(c.a.tx, "items", itemColumns, rows, upsertSuffix(itemColumns)); err != nil {
		return err
	}
	return c.flushEvents()
}

// newItemID allocates the id of an item created by this command.
func (c *capture) newItemID() (int64, error) {
	if c.nextItemID == 0 {
		id, err := nextID(c.a.tx, "items")
		if err != nil {
			return 0, err
		}
		c.nextItemID = id
	}
	c.nextItemID++
	return c.nextItemID - 1, nil
}

func (c *capture) flushEvents() error {
	if len(c.pending) == 0 {
		return nil
	}
	id, err := nextID(c.a.tx, "event_records")
	if err != nil {
		return err
	}
	rows := make([][]any, len(c.pending))
	var idx [][]any
	var at time.Time
	var recordTime string // formatted once per command's record time
	for i := range c.pending {
		pe := &c.pending[i]
		pe.rec.ID = id
		id++
		if i == 0 || !pe.rec.RecordTime.Equal(at) {
			at, recordTime = pe.rec.RecordTime, sqliteTime(pe.rec.RecordTime)
		}
		rows[i] = eventRow(&pe.rec, recordTime)
		for _, k := range pe.keys {
			idx = append(idx, []any{k.key, pe.rec.ID, k.roles})
		}
	}
	if err := insertRows(c.a.tx, "event_records", eventColumns, rows, ""); err != nil {
		return err
	}
	if err := insertRows(c.a.tx, "event_epcs", eventEPCColumns, idx, ""); err != nil {
		return err
	}
	c.lastEventID = c.pending[len(c.pending)-1].rec.ID
	c.pending = c.pending[:0]
	return nil
}

// record queues the event's record and index rows.
func (c *capture) record(e *Event) error {
	js, err := c.storedJSON(e, c.a.at)
	if err != nil {
		return err
	}
	rec := EventRecord{
		Seq: c.a.seq, EventID: e.EventID, EventHash: EventIDHash(e.EventID), Type: e.Type, EventTime: e.EventTime.UTC(), RecordTime: c.a.at,
		Action: e.Action, BizStep: e.BizStep, Disposition: e.Disposition,
		Actor: c.a.actorID(), JSON: js,
	}
	if e.BizLocation != "" {
		rec.BizLocation = keyOf(e.BizLocation)
	}
	if e.ReadPoint != "" {
		rec.ReadPoint = keyOf(e.ReadPoint)
	}
	c.pending = append(c.pending, pendingEvent{rec: rec, keys: eventKeyRoles(e)})
	return nil
}

// storedJSON is e as the projection stores it, recorded at at. Rules
// version 1 stored no user fields of readPoint and bizLocation (its decoder
// dropped them): a ledger at 1 stores what every node at 1 stores,
// whichever binary it runs, since an error declaration is later compared
// with what is stored.
func (c *capture) storedJSON(e *Event, at time.Time) (string, error) {
	ev := *e
	ev.RecordTime = at
	if c.a.rules < rulesEPCISFidelity {
		ev.ReadPointExtensions, ev.BizLocationExtensions = nil, nil
	}
	js, err := ev.MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("encode event: %w", err)
	}
	return string(js), nil
}

// restates reports whether the error declaration e restates the stored
// event captured at seq. Both are named as the ledger's rules name them.
// From version 2 an event captured by older rules matches too when it
// does by those rules, and a stored event without a context is read with
// the declaration's: a document's context was kept with fewer events
// before, and version 1 stored no location user fields.
func (c *capture) restates(e, stored *Event, seq uint64) (bool, error) {
	rules := c.a.rules
	if eventHashID(e, rules) == eventHashID(stored, rules) {
		return true, nil
	}
	if rules < rulesEPCISFidelity {
		return false, nil
	}
	then, err := rulesAt(c.a.tx, seq)
	if err != nil {
		return false, err
	}
	read := *stored
	if len(read.Context) == 0 {
		read.Context = e.Context
	}
	return eventHashID(e, rules) == eventHashID(&read, rules) || eventHashID(e, then) == eventHashID(&read, then), nil
}

// subtreeSQL selects the ids of a container and everything inside it.
const subtreeSQL = `WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL SELECT items.id FROM items JOIN sub ON items.parent_id = sub.id)`

// moveContainer applies a shipping-like change to a container and
// everything in it in two passes over its subtree: it flushes memory,
// updates every item not in a state the move refuses (bad is an SQL
// condition on items), indexes the event for everything inside, and
// rejects the command when fewer items moved than the subtree holds (the
// command's savepoint undoes the partial move). It then empties the cache
// so later events reload fresh state.
func (c *capture) moveContainer(root *itemState, bad string, badArgs []any, what string, set map[string]any) error {
	if err := c.needSQL(); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		return err
	}
	tx := c.a.tx
	set["seq"] = c.a.seq
	cols := sortedKeys(set)
	sql := subtreeSQL + ` UPDATE items SET `
	args := []any{root.ID}
	for i, col := range cols {
		if i > 0 {
			sql += ", "
		}
		sql += col + " = ?"
		args = append(args, set[col])
	}
	sql += ` WHERE id IN (SELECT id FROM sub) AND NOT (` + bad + `)`
	moved := tx.Exec(sql, append(args, badArgs...)...)
	if moved.Error != nil {
		return fmt.Errorf("move container: %w", moved.Error)
	}
	c.batch.wroteInSQL(c.a.seq)
	// The event, the last one flushed, is indexed for the contents too.
	// It is new, so every item inside gets a row: this counts them.
	indexed := tx.Exec(subtreeSQL+` INSERT OR IGNORE INTO event_epcs ("key", event_id, roles) SELECT `+contentsKeySQL(`"key"`)+`, ?, 0 FROM items WHERE id IN (SELECT id FROM sub) AND id <> ?`,
		root.ID, c.lastEventID, root.ID)
	if indexed.Error != nil {
		return fmt.Errorf("index container contents: %w", indexed.Error)
	}
	if total := indexed.RowsAffected + 1; moved.RowsAffected < total {
		return reject(CodeInactive, "%d items inside %s %s", total-moved.RowsAffected, root.Key, what)
	}
	clear(c.items)
	return nil
}

// knownOrg reports whether id is a registered organisation.
func (c *capture) knownOrg(id string) (bool, error) {
	if ok, seen := c.orgs[id]; seen {
		return ok, nil
	}
	var n int64
	if err := c.a.tx.Model(&Organisation{}).Where("id = ?", id).Count(&n).Error; err != nil {
		return false, fmt.Errorf("look up organisation: %w", err)
	}
	c.orgs[id] = n > 0
	return n > 0, nil
}

// product returns the registered product with gtin, or nil.
func (c *capture) product(gtin string) (*Product, error) {
	if p, ok := c.products[gtin]; ok {
		return p, nil
	}
	var p Product
	err := c.a.tx.Where("gtin = ?", gtin).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		c.products[gtin] = nil
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load product: %w", err)
	}
	c.products[gtin] = &p
	return &p, nil
}
