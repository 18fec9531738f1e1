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
// so a node applying capture batches cannot spend less per event than
// this, and three nodes sharing two cores cannot commit more than
// 2 s / (3 × this) events per second. b.N counts events. The cost per
// event grows with b.N: the more leaf pages an index has, the more of them
// a commit's random keys land on, and the commit writes each one whole.
func BenchmarkSQLiteFloorCapture1000(b *testing.B) {
	benchSQLiteFloor(b, 1000)
}

// BenchmarkSQLiteFloorSingleEvents is the same floor for single-event
// writes, 64 to a transaction as BenchmarkFSMApplySingleEvents applies
// them.
func BenchmarkSQLiteFloorSingleEvents(b *testing.B) {
	benchSQLiteFloor(b, 64)
}

func benchSQLiteFloor(b *testing.B, batch int) {
	_, db, err := openSQLite(filepath.Join(b.TempDir(), "floor.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`
		CREATE TABLE items (id INTEGER PRIMARY KEY, "key" TEXT NOT NULL UNIQUE, gtin TEXT, lot TEXT, expiry TEXT,
			status TEXT, holder TEXT, seq INTEGER);
		CREATE TABLE events (id INTEGER PRIMARY KEY, seq INTEGER, event_id TEXT NOT NULL, event_hash INTEGER NOT NULL,
			json TEXT NOT NULL);
		CREATE INDEX events_hash ON events(event_hash);
		CREATE TABLE event_epcs ("key" TEXT NOT NULL, event_id INTEGER NOT NULL, roles INTEGER NOT NULL,
			PRIMARY KEY ("key", event_id)) WITHOUT ROWID;`); err != nil {
		b.Fatal(err)
	}
	// Statements are prepared once per row count, outside the measured
	// time, as the ledger's statement pool prepares them once per node.
	prepared := map[string]*sql.Stmt{}
	insert := func(table string, cols, rows int) *sql.Stmt {
		tuple := "(" + strings.Repeat("?,", cols-1) + "?)"
		q := "INSERT INTO " + table + " VALUES " + strings.Repeat(tuple+",", rows-1) + tuple
		if prepared[q] == nil {
			if prepared[q], err = db.Prepare(q); err != nil {
				b.Fatal(err)
			}
		}
		return prepared[q]
	}
	stored := storedEventJSON(b)
	var cpu time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		b.StopTimer()
		var itemRows, eventRows, epcRows []any
		for j := done; j < min(done+batch, b.N); j++ {
			key := "(01)04012345000009(21)" + randomisedSerial(j)
			sum := sha256.Sum256([]byte(fmt.Sprint("event", j)))
			eventID := fmt.Sprintf("ni:///sha-256;%x?ver=CBV2.0", sum)
			id, seq := j+1, j/batch+1
			itemRows = append(itemRows, id, key, "04012345000009", "L1", "2028-12-31", "active", "4012345000009", seq)
			eventRows = append(eventRows, id, seq, eventID, models.EventIDHash(eventID), stored)
			epcRows = append(epcRows, key, id, models.RoleEPCList)
		}
		n := min(batch, b.N-done)
		inserts := []struct {
			stmt *sql.Stmt
			args []any
		}{{insert("items", 8, n), itemRows}, {insert("events", 5, n), eventRows}, {insert("event_epcs", 3, n), epcRows}}
		b.StartTimer()
		cpu0 := processCPU()
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		for _, in := range inserts {
			if _, err := tx.Stmt(in.stmt).Exec(in.args...); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - cpu0
	}
	reportEventRate(b, b.Elapsed(), cpu)
}

// storedEventJSON is a commissioning event as the capture rule stores it,
// so the floor writes as many bytes per event as the ledger does.
func storedEventJSON(b *testing.B) string {
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
