package models

import (
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
