package models

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

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
	eventColumns = []string{"id", "seq", "event_id", "type", "event_time", "record_time", "action", "biz_step",
		"disposition", "biz_location", "read_point", "actor", "json"}
	eventEPCColumns = []string{"key", "event_id", "direct"}
)

func itemRow(it *Item) []any {
	var decAt any
	if it.DecommissionedAt != nil {
		decAt = *it.DecommissionedAt
	}
	return []any{it.ID, it.Key, it.Kind, it.GTIN, it.Serial, it.Lot, it.Expiry, string(it.Status), it.Holder, it.Destination,
		it.ParentID, it.DecommissionedBy, decAt, it.DecommissionedLoc, int64(it.DecommissionedSeq),
		it.SuppliedToPublic, int64(it.CommissionedSeq), int64(it.Seq)}
}

func eventRow(e *EventRecord) []any {
	return []any{e.ID, int64(e.Seq), e.EventID, e.Type, e.EventTime, e.RecordTime, e.Action, e.BizStep,
		e.Disposition, e.BizLocation, e.ReadPoint, e.Actor, e.JSON}
}

// insertRows writes rows into table, up to bulkRows per statement; suffix
// (an ON CONFLICT clause or "") ends each statement. The full-size
// statement is prepared once, so SQLite parses at most two statements
// however many rows there are.
func insertRows(tx *gorm.DB, table string, cols []string, rows [][]any, suffix string) error {
	if len(rows) == 0 {
		return nil
	}
	ctx := context.Background()
	per := min(bulkRows, max(1, maxBindVars/len(cols)))
	var full *sql.Stmt
	for chunk := range slices.Chunk(rows, per) {
		args := make([]any, 0, len(chunk)*len(cols))
		for _, r := range chunk {
			args = append(args, r...)
		}
		var err error
		if len(chunk) == per {
			if full == nil {
				if full, err = tx.Statement.ConnPool.PrepareContext(ctx, insertSQL(table, cols, per, suffix)); err != nil {
					return fmt.Errorf("insert into %s: %w", table, err)
				}
				defer full.Close()
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.Statement.ConnPool.ExecContext(ctx, insertSQL(table, cols, len(chunk), suffix), args...)
		}
		if err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	return nil
}

// bulkRows is the number of rows per INSERT statement.
const bulkRows = 200

// insertSQL builds an INSERT of n rows.
func insertSQL(table string, cols []string, n int, suffix string) string {
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
	return b.String()
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
