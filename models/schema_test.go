package models

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm/schema"
)

// TestBulkColumnsMatchSchema keeps the bulk writers' column lists in step
// with the gorm models they write.
func TestBulkColumnsMatchSchema(t *testing.T) {
	for _, tc := range []struct {
		model any
		table string
		cols  []string
	}{
		{&Item{}, "items", itemColumns},
		{&EventRecord{}, "event_records", eventColumns},
		{&EventEPC{}, "event_epcs", eventEPCColumns},
	} {
		s, err := schema.Parse(tc.model, &sync.Map{}, schema.NamingStrategy{})
		if err != nil {
			t.Fatal(err)
		}
		if s.Table != tc.table {
			t.Errorf("table %s, bulk writer uses %s", s.Table, tc.table)
		}
		if !slices.Equal(s.DBNames, tc.cols) {
			t.Errorf("%s columns %v, bulk writer uses %v", s.Table, s.DBNames, tc.cols)
		}
	}
	if got := len(itemRow(&Item{})); got != len(itemColumns) {
		t.Errorf("itemRow has %d values for %d columns", got, len(itemColumns))
	}
	if got := len(eventRow(&EventRecord{}, "")); got != len(eventColumns) {
		t.Errorf("eventRow has %d values for %d columns", got, len(eventColumns))
	}
}

// TestMigrateTwice checks that migrating an existing projection changes
// nothing, the hand-made event_epcs table included.
func TestMigrateTwice(t *testing.T) {
	l := newLedger(t)
	l.network()
	l.supplyChain("M1")
	if err := Migrate(l.db); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := l.db.Model(&EventEPC{}).Count(&n).Error; err != nil || n == 0 {
		t.Fatalf("event_epcs after a second Migrate: %d rows, %v", n, err)
	}
	var ddl string
	l.db.Raw(`SELECT sql FROM sqlite_master WHERE name = 'event_epcs'`).Scan(&ddl)
	if !strings.Contains(ddl, "WITHOUT ROWID") {
		t.Fatalf("event_epcs was rebuilt: %s", ddl)
	}
}

// TestMigrateHashesStoredEventIDs migrates a projection made before events
// had an EventHash (a unique index on the id's text instead): the stored
// events get their hashes, the old index goes, and a stored event is found
// again by its id, both by a query and as the duplicate a capture repeats.
func TestMigrateHashesStoredEventIDs(t *testing.T) {
	l := newLedger(t)
	l.network()
	commission := l.commissionEv("L1", "2028-12-31", sgtinDL(gtinA, "M1"))
	l.capture(glnMaker, commission)
	// Events enough for the migration to hash them a page at a time.
	var more [][]any
	for i := range 2500 {
		id := fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", i)
		more = append(more, eventRow(&EventRecord{ID: int64(1000 + i), Seq: 1, EventID: id, Type: ObjectEvent, JSON: "{}"}, ""))
	}
	if err := insertRows(l.db, "event_records", eventColumns, more, ""); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP INDEX idx_event_records_event_hash`,
		`ALTER TABLE event_records DROP COLUMN event_hash`,
		`CREATE UNIQUE INDEX idx_event_records_event_id ON event_records(event_id)`,
	} {
		if err := l.db.Exec(q).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	if err := Migrate(l.db); err != nil {
		t.Fatal(err)
	}
	if l.db.Migrator().HasIndex(&EventRecord{}, "idx_event_records_event_id") {
		t.Error("the index on event ids' text survived the migration")
	}
	var stored []EventRecord
	if err := l.db.Select("event_id", "event_hash").Find(&stored).Error; err != nil || len(stored) <= len(more) {
		t.Fatalf("stored events: %d, %v", len(stored), err)
	}
	for _, e := range stored {
		if e.EventHash != EventIDHash(e.EventID) {
			t.Errorf("event %s has hash %d, want %d", e.EventID, e.EventHash, EventIDHash(e.EventID))
		}
	}
	id := EventHashID(commission)
	page, err := QueryEvents(l.db, EventQuery{EventID: []string{id}})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("query by eventID after migration: %d events, %v", len(page.Events), err)
	}
	l.captureReject(CodeConflict, glnMaker, commission)
}

// TestEventIDLookupComparesTheID gives a stored event the hash of another
// event's id, as a collision would: the other event is neither found by a
// query nor taken for a duplicate when captured.
func TestEventIDLookupComparesTheID(t *testing.T) {
	l := newLedger(t)
	l.network()
	first := l.commissionEv("L1", "2028-12-31", sgtinDL(gtinA, "M1"))
	second := l.commissionEv("L1", "2028-12-31", sgtinDL(gtinA, "M2"))
	l.capture(glnMaker, first)
	collide := l.db.Model(&EventRecord{}).Where("event_id = ?", EventHashID(first)).
		Update("event_hash", EventIDHash(EventHashID(second)))
	if collide.Error != nil || collide.RowsAffected != 1 {
		t.Fatalf("give the first event the second's hash: %d rows, %v", collide.RowsAffected, collide.Error)
	}
	page, err := QueryEvents(l.db, EventQuery{EventID: []string{EventHashID(second)}})
	if err != nil || len(page.Events) != 0 {
		t.Fatalf("query for an event never captured: %d events, %v", len(page.Events), err)
	}
	l.capture(glnMaker, second)
}

// TestMigrateIndexesTheRolesOfStoredEvents migrates an event-EPC index
// made before it recorded roles, when a row said only whether the event
// named the identifier itself: the rebuilt index holds the very rows and
// roles that applying the events writes today, with more events than
// the migration reads at once, and an event a container move indexed for
// its contents.
func TestMigrateIndexesTheRolesOfStoredEvents(t *testing.T) {
	l, _ := matchFixture(t)
	var epcs []string
	for i := range 1200 {
		epcs = append(epcs, sgtinDL(gtinC, fmt.Sprintf("R%d", i)))
	}
	var many []Event
	for _, epc := range epcs {
		many = append(many, l.commissionEv("L3", "2028-12-31", epc))
	}
	l.capture(glnMaker, many...)
	want := eventEPCRows(t, l)
	if !strings.Contains(want, `"Roles":0`) || !strings.Contains(want, fmt.Sprintf(`"Roles":%d`, RoleParentID)) {
		t.Fatal("the fixture has no container contents or no parent to migrate")
	}
	for _, q := range []string{
		`CREATE TABLE old_event_epcs ("key" text NOT NULL, event_id integer NOT NULL, direct numeric,
			PRIMARY KEY ("key", event_id)) WITHOUT ROWID`,
		// The old index held container contents under the items' own keys.
		`INSERT INTO old_event_epcs SELECT CASE WHEN roles = 0 THEN substr("key", 2) ELSE "key" END, event_id, roles <> 0 FROM event_epcs`,
		`DROP TABLE event_epcs`,
		`ALTER TABLE old_event_epcs RENAME TO event_epcs`,
	} {
		if err := l.db.Exec(q).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	if err := Migrate(l.db); err != nil {
		t.Fatal(err)
	}
	if got := eventEPCRows(t, l); got != want {
		t.Fatalf("migrated index differs from the applied one:\n got %.300s\nwant %.300s", got, want)
	}
	var ddl string
	l.db.Raw(`SELECT sql FROM sqlite_master WHERE name = 'event_epcs'`).Scan(&ddl)
	if !strings.Contains(ddl, "WITHOUT ROWID") || strings.Contains(ddl, "direct") {
		t.Fatalf("migrated table: %s", ddl)
	}
}

// eventEPCRows is the whole event-EPC index as JSON, in key order.
func eventEPCRows(t *testing.T, l *ledger) string {
	t.Helper()
	var rows []EventEPC
	if err := l.db.Order(`"key", event_id`).Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMigrateAfterAnOlderBinaryAddedDirectBack: in a mixed cluster an
// older binary that installs a snapshot of this version's projection adds
// its direct column back (gorm adds missing columns), and the rows this
// version wrote have none. When this version opens the projection again,
// its rebuild keeps every row, container contents included, as applying
// the events wrote them.
func TestMigrateAfterAnOlderBinaryAddedDirectBack(t *testing.T) {
	l, _ := matchFixture(t)
	want := eventEPCRows(t, l)
	if err := l.db.Exec(`ALTER TABLE event_epcs ADD COLUMN direct numeric`).Error; err != nil {
		t.Fatal(err)
	}
	if err := Migrate(l.db); err != nil {
		t.Fatal(err)
	}
	if got := eventEPCRows(t, l); got != want {
		t.Fatalf("rebuilt index differs:\n got %.300s\nwant %.300s", got, want)
	}
}
