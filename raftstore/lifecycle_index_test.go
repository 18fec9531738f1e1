package raftstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
	"github.com/pedigree-ledger/pedigree/models"
)

// lifecycleState is a ledger's lifecycle rows (without ids) and mark.
type lifecycleState struct {
	rows []models.LifecycleRecord
	mark uint64
}

func readLifecycle(t *testing.T, l *ledger) lifecycleState {
	t.Helper()
	var s lifecycleState
	if err := l.db.Order("item_id, seq").Find(&s.rows).Error; err != nil {
		t.Fatal(err)
	}
	for i := range s.rows {
		s.rows[i].ID = 0
		s.rows[i].RecordTime = s.rows[i].RecordTime.UTC()
	}
	if err := l.sqlDB.QueryRow(`SELECT COALESCE((SELECT value FROM raftstore_meta WHERE key = ?), 0)`, metaLifecycleIndexed).Scan(&s.mark); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestALedgerWritesTheLifecycleRowsItsEntriesLack: a node writes the
// lifecycle rows of a decommission and its undo as it applies them, and
// its mark follows the ledger. A ledger that lacks them (made before the
// rows existed, or whose node ran an older binary for a while: the mark
// behind) gets them when it opens, the same rows, none twice, a page of
// entries a transaction (here one entry a page, bounded by entries or by
// the packs they name).
func TestALedgerWritesTheLifecycleRowsItsEntriesLack(t *testing.T) {
	defer func(p, k int) { lifecyclePage, lifecyclePageKeys = p, k }(lifecyclePage, lifecyclePageKeys)
	for _, bound := range []struct{ entries, keys int }{{1, 1000}, {1000, 1}} {
		lifecyclePage, lifecyclePageKeys = bound.entries, bound.keys
		t.Run(fmt.Sprintf("pages of %d entries, %d packs", bound.entries, bound.keys), testLifecycleRowsEntriesLack)
	}
}

func testLifecycleRowsEntriesLack(t *testing.T) {
	path := filepath.Join(t.TempDir(), ledgerFile)
	l, err := openLedger(path, "node1", 0, 0, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	net, err := demo.New(3, 4, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	at := net.Start
	apply := fsmApplier(t, l, func() time.Time { at = at.Add(time.Minute); return at })
	n := 0
	cmd := func(kind models.CommandKind, actor string, payload any) models.Command {
		t.Helper()
		n++
		c, err := models.NewCommand(fmt.Sprintf("cmd-%d", n), kind, actor, time.Time{}, payload)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	capture := func(actor string, e demo.Event) models.Command {
		payload, err := json.Marshal(map[string]any{"events": []demo.Event{e}})
		if err != nil {
			t.Fatal(err)
		}
		return cmd(models.KindCaptureEvents, actor, json.RawMessage(payload))
	}
	for _, o := range net.Orgs() {
		apply(cmd(models.KindRegisterOrganisation, "", models.RegisterOrganisationPayload{ID: o.GLN, Name: o.Name, Role: o.Role, Prefixes: o.Prefixes}))
	}
	m, ph, p := net.Manufacturer.GLN, net.Pharmacy1.GLN, net.Packs[0]
	epcs := []string{demo.PackEPC(p.GTIN, p.Serial)}
	apply(cmd(models.KindRegisterProduct, m, net.Products[0]))
	apply(capture(m, demo.Commission(at, m, epcs, p.Lot, p.Expiry)), capture(m, demo.Ship(at, m, ph, epcs)))
	apply(capture(ph, demo.Receive(at, ph, epcs)))
	apply(cmd(models.KindDecommission, ph, models.DecommissionPayload{EPCs: epcs, Status: models.StatusLocked}))
	apply(cmd(models.KindUndoDecommission, ph, models.UndoDecommissionPayload{EPCs: epcs}))
	size, _, _ := l.committed()

	applied := readLifecycle(t, l)
	if len(applied.rows) != 2 || applied.mark != size || applied.rows[0].Status != models.StatusLocked || applied.rows[1].Status != models.StatusActive {
		t.Fatalf("after apply: mark %d (ledger %d), rows %+v", applied.mark, size, applied.rows)
	}
	var logged bytes.Buffer
	reopen := func() {
		t.Helper()
		l.close()
		logged.Reset()
		if l, err = openLedger(path, "node1", 0, 0, slog.New(slog.NewTextHandler(&logged, nil))); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		older string // what a ledger without the rows, or behind, looks like
		pages int    // the pages written before the last
	}{
		{"a ledger older than the rows", `DELETE FROM lifecycle_records; DELETE FROM raftstore_meta WHERE key = 'lifecycle_indexed'`, 1},
		{"the undo applied by an older binary", fmt.Sprintf(`DELETE FROM lifecycle_records WHERE seq = %d; UPDATE raftstore_meta SET value = %d WHERE key = 'lifecycle_indexed'`,
			size, size-1), 0},
		{"the mark behind, the rows there", `UPDATE raftstore_meta SET value = 0 WHERE key = 'lifecycle_indexed'`, 1},
	} {
		if _, err := l.sqlDB.Exec(tc.older); err != nil {
			t.Fatal(err)
		}
		reopen()
		if got := readLifecycle(t, l); !reflect.DeepEqual(got, applied) {
			t.Fatalf("%s, reopened:\n got %+v\nwant %+v", tc.name, got, applied)
		}
		// Two entries, one a page: the first page leaves the mark short.
		if pages := strings.Count(logged.String(), "recording the lifecycle"); tc.pages != pages {
			t.Fatalf("%s, reopened: %d pages before the last, want %d:\n%s", tc.name, pages, tc.pages, logged.String())
		}
	}
	// An entry whose rows cannot be written is passed over: the node
	// opens, with the other entries' rows.
	if _, err := l.sqlDB.Exec(fmt.Sprintf(`DELETE FROM lifecycle_records; UPDATE raftstore_meta SET value = 0 WHERE key = 'lifecycle_indexed';
		UPDATE ledger_entries SET payload = '{"epcs": 7}' WHERE seq = %d`, size)); err != nil {
		t.Fatal(err)
	}
	reopen()
	if got := readLifecycle(t, l); !reflect.DeepEqual(got.rows, applied.rows[:1]) || got.mark != size {
		t.Fatalf("an unreadable undo, reopened: %+v", got)
	}
	l.close()
}
