package models

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// Raw SQL for the lookups every command makes (the actor) and the capture
// rule makes per batch (event ids, items, products, next ids). They go
// straight to the transaction's connection pool: gorm's reflection and
// statement building cost more than the query itself for these small,
// fixed shapes, and under raftstore the pool reuses one prepared statement
// per query text. The column lists name the schema's columns explicitly, so
// they must follow schema.go.

// queryRows runs query on tx's connection and calls scan for each row.
func queryRows(tx *gorm.DB, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := tx.Statement.ConnPool.QueryContext(context.Background(), query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// queryAll is queryRows collecting what scan makes of each row.
func queryAll[T any](tx *gorm.DB, query string, args []any, scan func(*sql.Rows) (T, error)) ([]T, error) {
	var out []T
	err := queryRows(tx, query, args, func(r *sql.Rows) error {
		v, err := scan(r)
		out = append(out, v)
		return err
	})
	return out, err
}

// inList is the placeholder list for vals, and vals as arguments.
func inList(vals []string) (string, []any) {
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	return placeholders(len(vals)), args
}

// placeholders is "(?,?,...)" with n (at least 1) placeholders: an SQL IN
// list of n bound values.
func placeholders(n int) string {
	return "(?" + strings.Repeat(",?", n-1) + ")"
}

// findOrganisation loads the organisation with id; ok is false when there
// is none.
func findOrganisation(tx *gorm.DB, id string) (org Organisation, ok bool, err error) {
	err = queryRows(tx, `SELECT "id", "name", "role", "prefixes", "seq", "record_time" FROM "organisations" WHERE "id" = ? LIMIT 1`,
		[]any{id}, func(r *sql.Rows) error {
			var prefixes sql.NullString
			var seq int64
			if err := r.Scan(&org.ID, &org.Name, &org.Role, &prefixes, &seq, &org.RecordTime); err != nil {
				return err
			}
			org.Prefixes, org.Seq, ok = prefixes.String, uint64(seq), true
			return nil
		})
	return org, ok, err
}

// findProducts loads the products with the given GTINs.
func findProducts(tx *gorm.DB, gtins []string) ([]Product, error) {
	in, args := inList(gtins)
	return queryAll(tx, productSelect+`WHERE "gtin" IN `+in, args, scanProduct)
}

// itemSelect selects the columns scanItem reads.
const itemSelect = `SELECT "id", "key", "kind", "gtin", "serial", "lot", "expiry", "status", "holder", "destination", "parent_id",
	"decommissioned_by", "decommissioned_at", "decommissioned_loc", "decommissioned_seq", "supplied_to_public", "commissioned_seq", "seq" FROM "items" `

// findItems loads the items whose column col ("key" or "id") is in vals.
func findItems[T string | int64](tx *gorm.DB, col string, vals []T) ([]Item, error) {
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	return queryAll(tx, itemSelect+`WHERE "`+col+`" IN `+placeholders(len(vals)), args, scanItem)
}

func scanItem(r *sql.Rows) (Item, error) {
	var it Item
	var gtin, serial, lot, expiry, dest, decBy, decLoc sql.NullString
	var parent, decSeq, comSeq, seq sql.NullInt64
	var supplied sql.NullBool
	var decAt sql.NullTime
	if err := r.Scan(&it.ID, &it.Key, &it.Kind, &gtin, &serial, &lot, &expiry, &it.Status, &it.Holder, &dest, &parent,
		&decBy, &decAt, &decLoc, &decSeq, &supplied, &comSeq, &seq); err != nil {
		return it, fmt.Errorf("scan item: %w", err)
	}
	it.GTIN, it.Serial, it.Lot, it.Expiry, it.Destination = gtin.String, serial.String, lot.String, expiry.String, dest.String
	it.ParentID, it.DecommissionedBy, it.DecommissionedLoc = parent.Int64, decBy.String, decLoc.String
	if decAt.Valid {
		t := decAt.Time
		it.DecommissionedAt = &t
	}
	it.DecommissionedSeq, it.SuppliedToPublic = uint64(decSeq.Int64), supplied.Bool
	it.CommissionedSeq, it.Seq = uint64(comSeq.Int64), uint64(seq.Int64)
	return it, nil
}

// storedEventIDs returns those of ids that stored events have.
func storedEventIDs(tx *gorm.DB, ids []string) ([]string, error) {
	where, args := eventIDsWhere(ids)
	var found []string
	err := queryRows(tx, `SELECT "event_id" FROM "event_records" WHERE `+where, args, func(r *sql.Rows) error {
		var id string
		if err := r.Scan(&id); err != nil {
			return err
		}
		found = append(found, id)
		return nil
	})
	return found, err
}

// anyEventID returns the least of ids that is already a stored event's id,
// or "". The least, so that which duplicate a rejection names does not
// depend on whether the earlier event is stored or pending (see Batch).
func anyEventID(tx *gorm.DB, ids []string) (string, error) {
	where, args := eventIDsWhere(ids)
	var found sql.NullString
	err := queryRows(tx, `SELECT MIN("event_id") FROM "event_records" WHERE `+where, args, func(r *sql.Rows) error {
		return r.Scan(&found)
	})
	return found.String, err
}

// eventIDsWhere is the condition on event_records that selects the events
// with one of ids: found by the hash index, then checked by the id itself.
func eventIDsWhere(ids []string) (string, []any) {
	args := make([]any, 0, 2*len(ids))
	for _, h := range eventIDHashes(ids) {
		args = append(args, h)
	}
	for _, id := range ids {
		args = append(args, id)
	}
	list := placeholders(len(ids))
	return `"event_hash" IN ` + list + ` AND "event_id" IN ` + list, args
}
