package models

import (
	"context"
	"fmt"
	"math/bits"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// Bulk writes for capture_events. gorm's Create reflects over every row and
// reads generated ids back; a capture of thousands of events instead
// assigns ids itself (the next after the table's largest, deterministic
// because commands apply one at a time) and writes multi-row INSERTs
// straight to the transaction.

// maxBindVars keeps each statement under SQLite's limit of bound values.
const maxBindVars = 30000

// The column lists of the bulk-written tables, in the order of the row
// functions below (a test checks them against the gorm schema).
var (
	itemColumns = []string{"id", "key", "kind", "gtin", "serial", "lot", "expiry", "status", "holder", "destination",
		"parent_id", "decommissioned_by", "decommissioned_at", "decommissioned_loc", "decommissioned_seq",
		"supplied_to_public", "commissioned_seq", "seq"}
	eventColumns = []string{"id", "seq", "event_id", "event_hash", "type", "event_time", "record_time", "action", "biz_step",
		"disposition", "biz_location", "read_point", "actor", "json"}
	eventEPCColumns = []string{"key", "event_id", "roles"}
)

func itemRow(it *Item) []any {
	var decAt any
	if it.DecommissionedAt != nil {
		decAt = sqliteTime(*it.DecommissionedAt)
	}
	return []any{it.ID, it.Key, it.Kind, it.GTIN, it.Serial, it.Lot, it.Expiry, string(it.Status), it.Holder, it.Destination,
		it.ParentID, it.DecommissionedBy, decAt, it.DecommissionedLoc, int64(it.DecommissionedSeq),
		it.SuppliedToPublic, int64(it.CommissionedSeq), int64(it.Seq)}
}

// eventRow is e's column values; recordTime is e.RecordTime as sqliteTime
// formats it, the same for every event of a command.
func eventRow(e *EventRecord, recordTime string) []any {
	return []any{e.ID, int64(e.Seq), e.EventID, e.EventHash, e.Type, sqliteTime(e.EventTime), recordTime, e.Action, e.BizStep,
		e.Disposition, e.BizLocation, e.ReadPoint, e.Actor, e.JSON}
}

// sqliteTime formats t exactly as go-sqlite3 stores a bound time.Time (its
// first SQLiteTimestampFormats layout), which gorm reads back as a time.
// Bulk rows bind the text themselves so a capture formats a command's
// shared record time once, not once per row.
func sqliteTime(t time.Time) string {
	return t.Format(storedTimeLayouts[0])
}

// insertRows writes rows into table with multi-row INSERTs; suffix (an ON
// CONFLICT clause or "") ends each statement. Statements come in a few
// fixed sizes (bulkRows, then powers of two for the rest), so the
// connection pool of the apply path (raftstore's, which prepares each
// distinct statement once per node) never parses one twice, and a plain
// transaction parses at most a handful per call.
func insertRows(tx *gorm.DB, table string, cols []string, rows [][]any, suffix string) error {
	ctx := context.Background()
	per := min(bulkRows, max(1, maxBindVars/len(cols)))
	var args []any
	for len(rows) > 0 {
		n := per
		if n > len(rows) {
			n = 1 << (bits.Len(uint(len(rows))) - 1) // the largest power of two that fits
		}
		args = args[:0]
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		if _, err := tx.Statement.ConnPool.ExecContext(ctx, insertSQL(table, cols, n, suffix), args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		rows = rows[n:]
	}
	return nil
}

// bulkRows is the number of rows per INSERT statement.
const bulkRows = 256

// insertSQLs memoizes insertSQL: the apply path asks for the same few
// statements for every command, and building a 256-row statement's text
// costs more than looking it up.
var insertSQLs sync.Map // insertKey -> string

type insertKey struct {
	table, suffix string
	n             int
}

// insertSQL builds an INSERT of n rows. A table is always written with the
// same columns, so the table names the column list in the memo.
func insertSQL(table string, cols []string, n int, suffix string) string {
	key := insertKey{table: table, suffix: suffix, n: n}
	if q, ok := insertSQLs.Load(key); ok {
		return q.(string)
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = `"` + c + `"`
	}
	tuple := "(" + strings.Repeat("?,", len(cols)-1) + "?)"
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(quoted, ",") + ") VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(tuple)
	}
	b.WriteString(suffix)
	q := b.String()
	insertSQLs.Store(key, q)
	return q
}

// upsertSuffix makes an INSERT update every column of an existing row with
// the same id.
func upsertSuffix(cols []string) string {
	sets := make([]string, 0, len(cols))
	for _, c := range cols[1:] {
		sets = append(sets, `"`+c+`"=excluded."`+c+`"`)
	}
	return ` ON CONFLICT("id") DO UPDATE SET ` + strings.Join(sets, ",")
}

// nextID returns the id after the largest in table.
func nextID(tx *gorm.DB, table string) (int64, error) {
	var n int64
	if err := tx.Statement.ConnPool.QueryRowContext(context.Background(), "SELECT COALESCE(MAX(id), 0) FROM "+table).Scan(&n); err != nil {
		return 0, fmt.Errorf("next id of %s: %w", table, err)
	}
	return n + 1, nil
}
