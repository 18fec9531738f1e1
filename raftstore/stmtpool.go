package raftstore

import (
	"context"
	"database/sql"
	"errors"
)

// stmtPool is the gorm connection pool the rules see inside an apply
// transaction: every statement they run is prepared once per node (in the
// ledger's statement cache) and bound to the transaction, instead of being
// parsed again for every command. gorm's own PrepareStmt mode prepares on
// the transaction and caches statements that die with it, so it cannot be
// used here.
type stmtPool struct {
	l  *ledger
	tx *sql.Tx
}

func (p *stmtPool) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return p.tx.PrepareContext(ctx, query)
}

func (p *stmtPool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := p.l.stmt(query)
	if err != nil {
		return nil, err
	}
	return p.tx.StmtContext(ctx, s).ExecContext(ctx, args...)
}

func (p *stmtPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := p.l.stmt(query)
	if err != nil {
		return nil, err
	}
	return p.tx.StmtContext(ctx, s).QueryContext(ctx, args...)
}

func (p *stmtPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := p.l.stmt(query)
	if err != nil {
		// The plain path reports the same preparation error on Scan.
		return p.tx.QueryRowContext(ctx, query, args...)
	}
	return p.tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
}

// Commit and Rollback make gorm treat the pool as a transaction (so a rule
// that nests one gets a savepoint); the FSM alone ends the real one.
func (p *stmtPool) Commit() error   { return errTxOwned }
func (p *stmtPool) Rollback() error { return errTxOwned }

// GetDBConn lets gorm reach the database handle, as it can for *sql.Tx.
func (p *stmtPool) GetDBConn() (*sql.DB, error) { return p.l.sqlDB, nil }

var errTxOwned = errors.New("raftstore: the apply transaction is ended by the FSM, not by the rules")
