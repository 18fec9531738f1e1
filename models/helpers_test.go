package models

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

var dbCounter atomic.Int64

// mustDB opens a fresh migrated in-memory SQLite projection for one test.
func mustDB(t testing.TB) *gorm.DB {
	t.Helper()
	return mustDBAt(t, fmt.Sprintf("file:models_test_%d?mode=memory&cache=shared&_foreign_keys=1", dbCounter.Add(1)))
}

// mustDBAt opens and migrates the SQLite projection dsn names, on one
// connection, for one test.
func mustDBAt(t testing.TB, dsn string) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	// One connection keeps the in-memory database alive and serialises
	// access the way the FSM does.
	sqlDB.SetMaxOpenConns(1)
	t.Cleanup(func() { sqlDB.Close() })
	if err := Migrate(db); err != nil {
		t.Fatal(err)
	}
	return db
}

// ledger applies commands the way the replicated store does: each in a
// transaction with a savepoint, rolled back on rejection.
type ledger struct {
	t   testing.TB
	db  *gorm.DB
	seq uint64
	now time.Time
	// index is kept as raftstore keeps it, from the rows each command
	// wrote, and checked against the projection after every command
	// (checkCommand); nil for ledgers built by hand, as in benchmarks.
	index *VerifyIndex
	// last is the projection after the last command, for checkCommand.
	last projectionRows
	// rules is the rules version bootstrap adopts: 0 means RulesVersion,
	// 1 adopts none (the rules before versions).
	rules int
}

// testIndexPacks bounds the test ledgers' verify indexes, small enough
// that the larger scenarios evict packs from them.
const testIndexPacks = 40

func newLedger(t testing.TB) *ledger {
	l := &ledger{t: t, db: mustDB(t), now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	l.index = NewVerifyIndex(testIndexPacks)
	if err := l.index.Load(l.db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.checkIndexLoads)
	return l
}

// apply applies one command of kind by actor with payload at l.now.
func (l *ledger) apply(actor string, kind CommandKind, payload any) Result {
	l.t.Helper()
	l.seq++
	cmd, err := NewCommand(fmt.Sprintf("cmd-%d", l.seq), kind, actor, l.now, payload)
	if err != nil {
		l.t.Fatal(err)
	}
	return l.applyCmd(cmd)
}

func (l *ledger) applyCmd(cmd Command) Result {
	l.t.Helper()
	var res Result
	err := l.db.Transaction(func(tx *gorm.DB) error {
		if err := tx.SavePoint("cmd").Error; err != nil {
			return err
		}
		res = Apply(tx, l.seq, cmd)
		if !res.Accepted {
			if err := tx.RollbackTo("cmd").Error; err != nil {
				return err
			}
			return RecordRejection(tx, l.seq, cmd, res)
		}
		return nil
	})
	if err != nil {
		l.t.Fatalf("transaction: %v", err)
	}
	l.checkCommand(l.seq-1, l.seq)
	return res
}

// mustApply applies a command and fails the test if it is rejected.
func (l *ledger) mustApply(actor string, kind CommandKind, payload any) Result {
	l.t.Helper()
	res := l.apply(actor, kind, payload)
	if !res.Accepted {
		l.t.Fatalf("%s by %q rejected: %s: %s", kind, actor, res.Code, res.Message)
	}
	return res
}

// mustReject applies a command and fails the test unless it is rejected
// with code.
func (l *ledger) mustReject(code string, actor string, kind CommandKind, payload any) Result {
	l.t.Helper()
	res := l.apply(actor, kind, payload)
	if res.Accepted {
		l.t.Fatalf("%s by %q accepted, want rejection %s", kind, actor, code)
	}
	if res.Code != code {
		l.t.Fatalf("%s by %q rejected with %s (%s), want %s", kind, actor, res.Code, res.Message, code)
	}
	if res.Message == "" {
		l.t.Fatalf("%s rejection %s has no message", kind, code)
	}
	return res
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The fixture network's GLNs (valid check digits).
const (
	glnMaker    = "4012345000009"
	glnMaker2   = "5012345000008"
	glnWholesal = "4098765000003"
	glnPharmacy = "4011111000007"
	glnPharm2   = "4022222000008"
	glnReg      = "4033333000009"
	adminID     = "admin"
)
