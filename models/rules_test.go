package models

import (
	"errors"
	"fmt"
	"testing"

	"gorm.io/gorm"
)

// applyBatch applies cmds as one node running a binary that knows rules
// up to supported would: one transaction, one Batch. It returns the
// results, or the fault that stopped the batch (nothing is then kept).
func (l *ledger) applyBatch(supported int, cmds ...Command) ([]Result, error) {
	l.t.Helper()
	var results []Result
	err := l.db.Transaction(func(tx *gorm.DB) error {
		b := NewBatch()
		b.Supported = supported
		for _, cmd := range cmds {
			l.seq++
			res, err := b.Apply(tx, l.seq, cmd)
			if err != nil {
				return err
			}
			results = append(results, res)
		}
		return b.Flush(tx)
	})
	return results, err
}

// adoptCmd is an admin's adoption of rules version v.
func (l *ledger) adoptCmd(v int) Command {
	l.t.Helper()
	cmd, err := NewCommand(fmt.Sprintf("adopt-%d-%d", v, l.seq), KindAdoptRules, adminID, l.now, AdoptRulesPayload{Version: v})
	if err != nil {
		l.t.Fatal(err)
	}
	return cmd
}

// TestRulesAreAdoptedOnceByAnAdmin: a ledger starts at rules version 1;
// only an admin moves it on, only forwards, and a command later in the
// same transaction is judged by the version just adopted.
func TestRulesAreAdoptedOnceByAnAdmin(t *testing.T) {
	l := newLedger(t)
	l.rules = 1
	l.network()
	if v, err := ActiveRules(l.db); err != nil || v != 1 {
		t.Fatalf("a new ledger's rules: %d, %v", v, err)
	}
	l.mustReject(CodeForbidden, glnMaker, KindAdoptRules, AdoptRulesPayload{Version: 2})
	l.mustReject(CodeConflict, adminID, KindAdoptRules, AdoptRulesPayload{Version: 1})

	results, err := l.applyBatch(3, l.adoptCmd(2), l.adoptCmd(2), l.adoptCmd(3))
	if err != nil {
		t.Fatal(err)
	}
	if !results[0].Accepted || results[1].Code != CodeConflict || !results[2].Accepted {
		t.Fatalf("adopting 2, 2 again, then 3: %+v", results)
	}
	history, err := RulesHistory(l.db)
	if err != nil || len(history) != 2 || history[0].Version != 2 || history[1].Version != 3 || history[1].Seq != results[2].Seq || history[1].Actor != adminID {
		t.Fatalf("history: %+v, %v", history, err)
	}
	if v, _ := ActiveRules(l.db); v != 3 {
		t.Fatalf("after adopting 3 the ledger is at %d", v)
	}
}

// TestANodeStopsAtRulesItDoesNotKnow: a binary that knows rules up to 1
// meets an adoption of 2. It must not judge it (a rejection would differ
// from what upgraded nodes record), so the batch fails and keeps nothing,
// however IsFault classifies errors; once upgraded, the same entries
// apply, and the old binary stops at any entry of the ledger now at 2.
// Apply alone answers rules_too_new.
func TestANodeStopsAtRulesItDoesNotKnow(t *testing.T) {
	l := newLedger(t)
	l.rules = 1
	l.network()
	before := l.seq
	adopt := l.adoptCmd(2)
	recall, err := NewCommand("recall-after", KindRecall, glnReg, l.now, RecallPayload{GTIN: gtinA, Lot: "L1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.applyBatch(1, recall, adopt)
	if !errors.Is(err, ErrRulesTooNew) {
		t.Fatalf("an old binary applying an adoption of 2: %v, want ErrRulesTooNew", err)
	}
	var recalls int64
	l.db.Model(&Recall{}).Count(&recalls)
	if v, _ := ActiveRules(l.db); v != 1 || recalls != 0 {
		t.Fatalf("the failed batch left rules %d and %d recalls", v, recalls)
	}

	l.seq = before
	results, err := l.applyBatch(2, recall, adopt)
	if err != nil || !results[0].Accepted || !results[1].Accepted {
		t.Fatalf("the upgraded binary: %+v, %v", results, err)
	}

	// Rolled back to the old binary, or given the ledger in a snapshot,
	// the node stops at any entry: it did not meet the adoption itself.
	another, err := NewCommand("recall-later", KindRecall, glnReg, l.now, RecallPayload{GTIN: gtinA, Lot: "L2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.applyBatch(1, another); !errors.Is(err, ErrRulesTooNew) {
		t.Fatalf("the old binary on a ledger at rules 2: %v, want ErrRulesTooNew", err)
	}

	res := Apply(l.db, 99, l.adoptCmd(5))
	if res.Accepted || res.Code != CodeRulesTooNew {
		t.Fatalf("Apply of an adoption of 5: %+v", res)
	}
}
