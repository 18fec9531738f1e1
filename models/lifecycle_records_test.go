package models

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// applyLogged applies a command as l.apply does and returns it with its
// seq, so a test can read back what the entry alone says.
func (l *ledger) applyLogged(actor string, kind CommandKind, payload any) (Command, uint64, Result) {
	l.t.Helper()
	l.seq++
	cmd, err := NewCommand(fmt.Sprintf("cmd-%d", l.seq), kind, actor, l.now, payload)
	if err != nil {
		l.t.Fatal(err)
	}
	return cmd, l.seq, l.applyCmd(cmd)
}

// lifecycleRows reads every lifecycle row, without its id, in id order.
func lifecycleRows(t *testing.T, l *ledger) []LifecycleRecord {
	t.Helper()
	var rows []LifecycleRecord
	if err := l.db.Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		rows[i].ID = 0
	}
	return rows
}

// TestADecommissionAndItsUndoAreInTheChainOfCustody: a pack dispensed,
// made active again and dispensed once more shows all three changes, in
// ledger order, with who, where and when, in its chain and its lot's,
// though its record keeps only the last; a refused decommission leaves
// none; a viewer sees the changes of the packs it may see, and the
// recall of the pack's lot comes with the chain.
func TestADecommissionAndItsUndoAreInTheChainOfCustody(t *testing.T) {
	l := newLedger(t)
	l.network()
	epcs := l.supplyChain("LC1", "LC2")
	var entries []Command
	var seqs []uint64
	step := func(kind CommandKind, payload any) {
		t.Helper()
		l.tick(time.Hour)
		cmd, seq, res := l.applyLogged(glnPharmacy, kind, payload)
		if !res.Accepted {
			t.Fatalf("%s refused: %s %s", kind, res.Code, res.Message)
		}
		entries, seqs = append(entries, cmd), append(seqs, seq)
	}
	step(KindDecommission, DecommissionPayload{EPCs: epcs[:1], Status: StatusDispensed})
	step(KindUndoDecommission, UndoDecommissionPayload{EPCs: epcs[:1]})
	l.mustReject(CodeNotCustodian, glnWholesal, KindDecommission, DecommissionPayload{EPCs: epcs[:1], Status: StatusDispensed})
	step(KindDecommission, DecommissionPayload{EPCs: epcs[:1], Status: StatusDispensed, SuppliedToPublic: true,
		Location: glnURN(glnPharmacy)})

	pack, err := PackSubject(gtinA, "LC1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ChainOfCustody(l.db, pack, CustodyQuery{})
	if err != nil {
		t.Fatal(err)
	}
	key := PackKey(gtinA, "LC1")
	var want []LifecycleChange
	for i, st := range []Status{StatusDispensed, StatusActive, StatusDispensed} {
		want = append(want, LifecycleChange{Key: key, LifecycleRecord: LifecycleRecord{Seq: seqs[i], GTIN: gtinA, Lot: "L1",
			Kind: entries[i].Kind, Status: st, Actor: glnPharmacy, Location: glnPharmacy, SuppliedToPublic: i == 2,
			RecordTime: entries[i].Time.UTC()}, ItemGTIN: gtinA, ItemLot: "L1"})
	}
	got := c.Changes
	for i := range got {
		got[i].ID, got[i].ItemID = 0, 0
		got[i].RecordTime = got[i].RecordTime.UTC()
	}
	if !reflect.DeepEqual(got, want) || c.ChangesTruncated {
		t.Fatalf("changes (truncated %v):\n got %+v\nwant %+v", c.ChangesTruncated, got, want)
	}
	if c.Recall != nil {
		t.Fatalf("recall %+v before any", c.Recall)
	}

	// The lot lists the same changes: LC2 has none.
	lot, _ := LotSubject(gtinA, "L1")
	if c, err = ChainOfCustody(l.db, lot, CustodyQuery{}); err != nil || len(c.Changes) != 3 || c.Changes[2].Seq != seqs[2] {
		t.Fatalf("lot: %v, %+v", err, c.Changes)
	}
	// A limit of one change marks the rest as left out.
	if c, err = ChainOfCustody(l.db, lot, CustodyQuery{Limit: 1}); err != nil || len(c.Changes) != 1 || !c.ChangesTruncated {
		t.Fatalf("lot, limit 1: %v, %d changes, truncated %v", err, len(c.Changes), c.ChangesTruncated)
	}

	// A trading partner sees the changes it made, or that were made at
	// its premises, as with events: the wholesaler that sold the pack
	// sees its chain, not the pharmacy's dispenses and undo.
	for v, want := range map[*Viewer]int{{Org: glnPharmacy, Role: RolePharmacy}: 3, {Org: glnWholesal, Role: RoleWholesaler}: 0} {
		for _, s := range []Subject{pack, lot} {
			if c, err := ChainOfCustody(l.db, s, CustodyQuery{Viewer: v}); err != nil || len(c.Changes) != want {
				t.Fatalf("%s, %s: %v, %d changes, want %d", v.Org, s.Key, err, len(c.Changes), want)
			}
		}
	}
	if _, err := ChainOfCustody(l.db, pack, CustodyQuery{Viewer: &Viewer{Org: glnPharm2, Role: RolePharmacy}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another pharmacy: %v", err)
	}

	// The recall of the lot comes with the pack's chain and the lot's.
	l.tick(time.Hour)
	rec := l.mustApply(glnMaker, KindRecall, RecallPayload{GTIN: gtinA, Lot: "L1", Reason: "contamination"})
	for _, s := range []Subject{pack, lot} {
		c, err := ChainOfCustody(l.db, s, CustodyQuery{})
		if err != nil || c.Recall == nil || c.Recall.Seq != rec.Seq || c.Recall.RecalledBy != glnMaker || c.Recall.Reason != "contamination" {
			t.Fatalf("%s: %v, recall %+v", s.Key, err, c.Recall)
		}
	}
}

// TestLifecycleRecordsOfAnEntryAreTheRowsApplyWrote: the rows a node
// writes from the entries alone (a ledger older than the rows) are the
// rows Apply wrote, and writing them again adds none.
func TestLifecycleRecordsOfAnEntryAreTheRowsApplyWrote(t *testing.T) {
	l := newLedger(t)
	l.network()
	epcs := l.supplyChain("LR1", "LR2", "LR3")
	var entries []Command
	var seqs []uint64
	for _, p := range []struct {
		kind    CommandKind
		payload any
	}{
		// Packs out of key order: rows go in the payload's order.
		{KindDecommission, DecommissionPayload{EPCs: []string{epcs[1], epcs[0]}, Status: StatusLocked, Location: glnPharmacy}},
		{KindDecommission, DecommissionPayload{EPCs: epcs[2:], Status: StatusDestroyed}},
		{KindUndoDecommission, UndoDecommissionPayload{EPCs: epcs[1:2], Location: glnPharmacy}},
		{KindDecommission, DecommissionPayload{EPCs: epcs[:1], Status: StatusDestroyed}},
	} {
		l.tick(time.Minute)
		cmd, seq, res := l.applyLogged(glnPharmacy, p.kind, p.payload)
		if !res.Accepted {
			t.Fatalf("%s refused: %s", p.kind, res.Message)
		}
		entries, seqs = append(entries, cmd), append(seqs, seq)
	}
	applied := lifecycleRows(t, l)
	if len(applied) != 5 {
		t.Fatalf("%d rows, want 5: %+v", len(applied), applied)
	}
	if err := l.db.Exec(`DELETE FROM lifecycle_records`).Error; err != nil {
		t.Fatal(err)
	}
	var ofs []LifecycleOf
	for i, cmd := range entries {
		of, err := LifecycleRecordsOf(seqs[i], cmd)
		if err != nil {
			t.Fatal(err)
		}
		ofs = append(ofs, of)
	}
	for range 2 { // the second time changes nothing
		if skipped, err := RecordLifecycle(l.db, ofs); err != nil || skipped != nil {
			t.Fatalf("skipped %v, %v", skipped, err)
		}
		if got := lifecycleRows(t, l); !reflect.DeepEqual(got, applied) {
			t.Fatalf("rows from the entries:\n got %+v\nwant %+v", got, applied)
		}
	}
	// Other kinds record nothing.
	if of, err := LifecycleRecordsOf(1, Command{Kind: KindRecall, Payload: mustJSON(t, RecallPayload{GTIN: gtinA, Lot: "L1"})}); err != nil || len(of.Keys) != 0 {
		t.Fatalf("a recall: %+v, %v", of, err)
	}
}
