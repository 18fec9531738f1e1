package raftstore

import (
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
	"github.com/pedigree-ledger/pedigree/models"
)

// BenchmarkSQLiteFloorCapture1000 runs no Pedigree code: it is SQLite,
// opened as the ledger opens it, inserting for each event only the three
// rows that any per-event projection answering the read paths needs: the
// pack under its unique key, the event with its id hash and stored JSON,
// and the event-EPC row that finds the event from the pack. 1,000 events
// per transaction, serials and event ids random as real ones are, and
// no other index. No rule, Raft, Merkle log or ledger entry is paid for,
// so a node committing 1,000 events a transaction cannot spend less per
// event than this, and three nodes sharing two cores cannot then commit
// more than 2 s / (3 × this) events per second (larger transactions cost
// less per event). b.N counts events. The cost per
// event grows with b.N: the more leaf pages an index has, the more of them
// a commit's random keys land on, and the commit writes each one whole.
func BenchmarkSQLiteFloorCapture1000(b *testing.B) {
	benchSQLiteFloor(b, 1000, 1000, minimalFloorSchema(b))
}

// BenchmarkSQLiteFloorSingleEvents is the same floor for single-event
// writes, 64 to a transaction as BenchmarkFSMApplySingleEvents applies
// them.
func BenchmarkSQLiteFloorSingleEvents(b *testing.B) {
	benchSQLiteFloor(b, 64, 1, minimalFloorSchema(b))
}

// BenchmarkSQLiteSchemaFloorCapture1000 is BenchmarkSQLiteFloorCapture1000
// on the ledger's own schema: the database opened and migrated as a node
// opens it, so each row also pays the indexes the read paths use (a lot's
// packs, a holder's stock, a container's contents, the verify index's
// changed items; events by ledger position, event time, location, actor
// and the actor's sites). Besides the three rows per event, with every
// column a commissioning capture fills, each command writes what the
// issue itself asks of every entry: its row, found by command id for
// idempotency, and its Merkle leaf with the tree nodes it completes. All
// rows are built beforehand: no rule, Raft, decoding or hashing is paid
// for.
func BenchmarkSQLiteSchemaFloorCapture1000(b *testing.B) {
	benchSQLiteFloor(b, 1000, 1000, ledgerFloorSchema(b))
}

// BenchmarkSQLiteSchemaFloorSingleEvents is the schema floor for
// single-event writes: 64 commands of one event to a transaction.
func BenchmarkSQLiteSchemaFloorSingleEvents(b *testing.B) {
	benchSQLiteFloor(b, 64, 1, ledgerFloorSchema(b))
}

// floorSchema is a database and the rows one event writes to it.
type floorSchema struct {
	db *sql.DB
	// columns names, per table, the columns the rows fill.
	columns map[string]string
	rows    func(id, seq int, key, eventID string) (item, event, epc []any)
	// entries says whether each command also writes its ledger entry and
	// Merkle nodes.
	entries bool
}

// minimalFloorSchema is the three tables with no index beyond each
// row's lookup key.
func minimalFloorSchema(b testing.TB) floorSchema {
	_, db, err := openSQLite(filepath.Join(b.TempDir(), "floor.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`
		CREATE TABLE items (id INTEGER PRIMARY KEY, "key" TEXT NOT NULL UNIQUE, gtin TEXT, lot TEXT, expiry TEXT,
			status TEXT, holder TEXT, seq INTEGER);
		CREATE TABLE event_records (id INTEGER PRIMARY KEY, seq INTEGER, event_id TEXT NOT NULL, event_hash INTEGER NOT NULL,
			json TEXT NOT NULL);
		CREATE INDEX events_hash ON event_records(event_hash);
		CREATE TABLE event_epcs ("key" TEXT NOT NULL, event_id INTEGER NOT NULL, roles INTEGER NOT NULL,
			PRIMARY KEY ("key", event_id)) WITHOUT ROWID;`); err != nil {
		b.Fatal(err)
	}
	stored := storedEventJSON(b)
	return floorSchema{db: db, columns: map[string]string{
		"items":         `id, "key", gtin, lot, expiry, status, holder, seq`,
		"event_records": `id, seq, event_id, event_hash, json`,
		"event_epcs":    `"key", event_id, roles`,
	}, rows: func(id, seq int, key, eventID string) (item, event, epc []any) {
		return []any{id, key, "04012345000009", "L1", "2028-12-31", string(models.StatusActive), "4012345000009", seq},
			[]any{id, seq, eventID, models.EventIDHash(eventID), stored},
			[]any{key, id, models.RoleEPCList}
	}}
}

// ledgerFloorSchema is the ledger's database, every column a
// commissioning capture fills, with the values it stores.
func ledgerFloorSchema(b testing.TB) floorSchema {
	l, err := openLedger(filepath.Join(b.TempDir(), ledgerFile), "floor", 0, 0, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.close() })
	stored := storedEventJSON(b)
	e, err := models.DecodeEvent([]byte(stored))
	if err != nil {
		b.Fatal(err)
	}
	const gln, site = "4012345000009", "(414)4012345000009"
	// Times as go-sqlite3 stores a bound time.Time, as the rule binds them.
	const layout = "2006-01-02 15:04:05.999999999-07:00"
	eventTime, recordTime := e.EventTime.UTC().Format(layout), e.RecordTime.UTC().Format(layout)
	// The columns the capture rule writes (models' itemColumns and
	// eventColumns), in the order the rows below give them.
	return floorSchema{db: l.sqlDB, columns: map[string]string{
		"items": `id, "key", kind, gtin, serial, lot, expiry, status, holder, destination, parent_id,
			decommissioned_by, decommissioned_at, decommissioned_loc, decommissioned_seq, supplied_to_public,
			commissioned_seq, seq`,
		"event_records": `id, seq, event_id, event_hash, type, event_time, record_time, action, biz_step,
			disposition, biz_location, read_point, actor, json`,
		"event_epcs":     `"key", event_id, roles`,
		"ledger_entries": `seq, command_id, kind, actor, time, payload, accepted, code, message, data, raft_index`,
		"merkle_nodes":   `level, idx, hash`,
	}, entries: true, rows: func(id, seq int, key, eventID string) (item, event, epc []any) {
		serial := key[strings.LastIndex(key, ")")+1:]
		return []any{id, key, models.ItemPack, "04012345000009", serial, "L1", "2028-12-31", string(models.StatusActive), gln, "",
				0, "", nil, "", 0, false, seq, seq},
			[]any{id, seq, eventID, models.EventIDHash(eventID), e.Type, eventTime, recordTime, e.Action, e.BizStep,
				e.Disposition, site, site, gln, stored},
			[]any{key, id, models.RoleEPCList}
	}}
}

func benchSQLiteFloor(b *testing.B, perTx, perCommand int, schema floorSchema) {
	db := schema.db
	// One connection, so a transaction runs the statements prepared on it
	// rather than preparing them again.
	db.SetMaxOpenConns(1)
	// Statements are prepared once per row count, outside the measured
	// time, as the ledger's statement pool prepares them once per node.
	prepared := map[string]*sql.Stmt{}
	stored := storedEventJSON(b)
	var cpu time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += perTx {
		b.StopTimer()
		inserts := schema.inserts(b, prepared, done, min(done+perTx, b.N), perCommand, b.N, stored)
		b.StartTimer()
		cpu0 := processCPU()
		if err := inserts.exec(db); err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - cpu0
	}
	reportEventRate(b, b.Elapsed(), cpu)
}

// floorInserts are the statements of one transaction, in order, each with
// its arguments.
type floorInserts []struct {
	stmt *sql.Stmt
	args []any
}

func (ins floorInserts) exec(db *sql.DB) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	for _, in := range ins {
		if _, err := tx.Stmt(in.stmt).Exec(in.args...); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// inserts builds the statements writing events [from, to) of a run of
// total events, perCommand to a command, preparing each statement text
// once in prepared.
func (s floorSchema) inserts(tb testing.TB, prepared map[string]*sql.Stmt, from, to, perCommand, total int, stored string) floorInserts {
	rows := map[string][]any{}
	count := map[string]int{}
	add := func(table string, row ...any) {
		rows[table] = append(rows[table], row...)
		count[table]++
	}
	for j := from; j < to; j++ {
		key := "(01)04012345000009(21)" + randomisedSerial(j)
		sum := sha256.Sum256([]byte(fmt.Sprint("event", j)))
		eventID := fmt.Sprintf("ni:///sha-256;%x?ver=CBV2.0", sum)
		seq := j/perCommand + 1
		item, event, epc := s.rows(j+1, seq, key, eventID)
		add("items", item...)
		add("event_records", event...)
		add("event_epcs", epc...)
		if !s.entries || (j+1)%perCommand != 0 && j+1 != total {
			continue
		}
		// The command's last event: its entry, its leaf, and the nodes
		// whose subtrees the leaf completes.
		events := j%perCommand + 1
		payload := `{"events":[` + strings.Repeat(stored+",", events-1) + stored + `]}`
		add("ledger_entries", seq, benchCommandID("capture", j), models.KindCaptureEvents, "4012345000009",
			"2026-01-01T00:00:00Z", []byte(payload), 1, "", "", []byte(fmt.Sprintf(`{"events":%d}`, events)), seq+3)
		leaf := sha256.Sum256([]byte(payload))
		for level, idx := 0, seq-1; ; level, idx = level+1, idx>>1 {
			add("merkle_nodes", level, idx, leaf[:])
			if idx&1 == 0 {
				break
			}
		}
	}
	var ins floorInserts
	for _, table := range []string{"items", "event_records", "event_epcs", "ledger_entries", "merkle_nodes"} {
		if count[table] == 0 {
			continue
		}
		cols := s.columns[table]
		tuple := "(" + strings.Repeat("?,", strings.Count(cols, ",")) + "?)"
		q := "INSERT INTO " + table + " (" + cols + ") VALUES " + strings.Repeat(tuple+",", count[table]-1) + tuple
		if prepared[q] == nil {
			stmt, err := s.db.Prepare(q)
			if err != nil {
				tb.Fatal(err)
			}
			prepared[q] = stmt
		}
		ins = append(ins, struct {
			stmt *sql.Stmt
			args []any
		}{prepared[q], rows[table]})
	}
	return ins
}

// storedEventJSON is a commissioning event as the capture rule stores it,
// so the floor writes as many bytes per event as the ledger does.
func storedEventJSON(b testing.TB) string {
	raw, err := json.Marshal(demo.Commission(time.Now(), "4012345000009",
		[]string{demo.PackEPC("04012345000009", randomisedSerial(0))}, "L1", "2028-12-31"))
	if err != nil {
		b.Fatal(err)
	}
	e, err := models.DecodeEvent(raw)
	if err != nil {
		b.Fatal(err)
	}
	e.RecordTime = time.Now()
	stored, err := e.MarshalJSON()
	if err != nil {
		b.Fatal(err)
	}
	return string(stored)
}

// TestTheSchemaFloorWritesWhatACaptureWrites keeps the schema floor
// honest as the schema changes: per table it inserts as many rows as
// commissioning captures make the FSM write, and fills every column of
// each table with a value of the same SQLite type (NULL where the FSM
// leaves NULL), so it pays for the same index entries.
func TestTheSchemaFloorWritesWhatACaptureWrites(t *testing.T) {
	const events, perCommand = 10, 5
	captured, err := openLedger(filepath.Join(t.TempDir(), ledgerFile), "real", 0, 0, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer captured.close()
	apply := fsmApplier(t, captured, func() time.Time { return time.Now().UTC() })
	capture := captureMaker(t, apply)
	before := floorTableCounts(t, captured.sqlDB)
	for from := 0; from < events; from += perCommand {
		apply(capture(benchCommandID("capture", from), from, from+perCommand))
	}
	after := floorTableCounts(t, captured.sqlDB)

	floor := ledgerFloorSchema(t)
	floor.db.SetMaxOpenConns(1)
	empty := floorTableCounts(t, floor.db)
	if err := floor.inserts(t, map[string]*sql.Stmt{}, 0, events, perCommand, events, storedEventJSON(t)).exec(floor.db); err != nil {
		t.Fatal(err)
	}
	written := floorTableCounts(t, floor.db)

	for table := range after {
		if got, want := written[table]-empty[table], after[table]-before[table]; got != want {
			t.Errorf("%s: the floor writes %d rows, the captures %d", table, got, want)
		}
	}
	for _, table := range []string{"items", "event_records", "event_epcs", "ledger_entries"} {
		if got, want := floorLastRowTypes(t, floor.db, table), floorLastRowTypes(t, captured.sqlDB, table); got != want {
			t.Errorf("%s: the floor's last row has column types\n%s\nthe captures'\n%s", table, got, want)
		}
	}
}

// floorTableCounts counts the rows of the tables a capture writes to;
// Merkle nodes count leaves only, as the nodes above them depend on where
// in the tree a leaf falls.
func floorTableCounts(t *testing.T, db *sql.DB) map[string]int {
	counts := map[string]int{}
	for table, query := range map[string]string{
		"items":          `SELECT count(*) FROM items`,
		"event_records":  `SELECT count(*) FROM event_records`,
		"event_epcs":     `SELECT count(*) FROM event_epcs`,
		"ledger_entries": `SELECT count(*) FROM ledger_entries`,
		"merkle leaves":  `SELECT count(*) FROM merkle_nodes WHERE level = 0`,
	} {
		var n int
		if err := db.QueryRow(query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[table] = n
	}
	return counts
}

// floorLastRowTypes is "column type" per line for every column of the
// table's last row (by rowid, or by key where it has none).
func floorLastRowTypes(t *testing.T, db *sql.DB, table string) string {
	cols := mustStrings(t, db, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
	types := make([]string, len(cols))
	dest := make([]any, len(cols))
	for i, c := range cols {
		types[i] = fmt.Sprintf(`'%s ' || typeof("%s")`, c, c)
	}
	last := "rowid DESC"
	if table == "event_epcs" {
		last = "event_id DESC"
	}
	for i := range dest {
		dest[i] = &types[i]
	}
	query := `SELECT ` + strings.Join(types, ", ") + ` FROM ` + table + ` ORDER BY ` + last + ` LIMIT 1`
	if err := db.QueryRow(query).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return strings.Join(types, "\n")
}
