package models

import (
	"context"
	"database/sql"
	"fmt"

	"gorm.io/gorm"
)

// TokenRevocationSeq returns the ledger seq of the newest token revocation
// in the projection, 0 if none. Revocations are never undone, so the value
// only grows as a node applies the log: a node caches authenticated tokens
// for as long as it is unchanged, and a revocation takes effect the moment
// the node has applied it. It goes straight to the connection pool because
// servers call it after every applied batch.
func TokenRevocationSeq(db *gorm.DB) (uint64, error) {
	ctx := db.Statement.Context
	if ctx == nil {
		ctx = context.Background()
	}
	var seq sql.NullInt64
	err := db.Statement.ConnPool.QueryRowContext(ctx, `SELECT max(revoked_seq) FROM tokens`).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("models: token revocation seq: %w", err)
	}
	return uint64(seq.Int64), nil
}
