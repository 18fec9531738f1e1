package models

import (
	"encoding/json"
	"testing"
)

// FuzzApply feeds arbitrary payloads of every kind to Apply on a seeded
// network: whatever the bytes, Apply must answer with a Result and never
// fail inside a rule (internal_error means a panic or a storage error).
func FuzzApply(f *testing.F) {
	l := newLedger(f)
	l.network()
	l.supplyChain("Z1", "Z2")
	kinds := []CommandKind{KindRegisterOrganisation, KindIssueToken, KindRevokeToken, KindRegisterProduct, KindRegisterKey,
		KindCaptureEvents, KindDecommission, KindUndoDecommission, KindRecall, KindAlert, KindAdoptRules}
	seed := func(k int, actor string, payload any) {
		b, _ := json.Marshal(payload)
		f.Add(uint8(k), actor, b)
	}
	seed(0, adminID, RegisterOrganisationPayload{ID: "4044444000000", Name: "N", Role: RolePharmacy})
	seed(1, adminID, IssueTokenPayload{TokenSHA256: hashToken("x"), OrgID: glnPharmacy})
	seed(3, glnMaker, RegisterProductPayload{GTIN: gtinUnreg, Name: "N"})
	seed(5, glnMaker, CaptureEventsPayload{Events: []Event{l.commissionEv("L", "2028-01-01", sgtinDL(gtinA, "F1")), l.packEv(ssccDL(4), sgtinDL(gtinA, "F1")), l.shipEv(glnWholesal, ssccDL(4))}})
	seed(5, glnPharmacy, CaptureEventsPayload{Events: []Event{l.observeEv("dispensing", sgtinDL(gtinA, "Z1")), l.unpackEv(ssccDL(4))}})
	seed(6, glnPharmacy, DecommissionPayload{EPCs: []string{sgtinDL(gtinA, "Z2")}, Status: StatusLocked})
	seed(7, glnPharmacy, UndoDecommissionPayload{EPCs: []string{sgtinDL(gtinA, "Z1")}})
	seed(8, glnReg, RecallPayload{GTIN: gtinA, Lot: "L1"})
	seed(9, glnPharmacy, AlertPayload{Verdict: VerdictUnknownSerial})
	seed(10, adminID, AdoptRulesPayload{Version: RulesVersion + 1})
	seed(10, adminID, AdoptRulesPayload{Version: RulesVersion})
	f.Fuzz(func(t *testing.T, k uint8, actor string, payload []byte) {
		cmd := Command{ID: "fuzz", Kind: kinds[int(k)%len(kinds)], Actor: actor, Time: l.now, Payload: payload}
		tx := l.db.Begin()
		defer tx.Rollback()
		res := Apply(tx, 1000, cmd)
		if res.Code == CodeInternal {
			t.Fatalf("%s by %q: internal error %s\npayload %s", cmd.Kind, actor, res.Message, payload)
		}
		if !res.Accepted && (res.Code == "" || res.Message == "") {
			t.Fatalf("rejection without code or message: %+v", res)
		}
	})
}

// FuzzPrefetchChangesNoResult applies a capture payload twice (two
// commands, as a client retrying under a new id would) both ways: with
// Apply, command by command, and with a Batch that read ahead with
// Prefetch. Whatever the bytes, the results must be the same.
func FuzzPrefetchChangesNoResult(f *testing.F) {
	l := newLedger(f)
	l.network()
	l.supplyChain("Z1", "Z2")
	seed := func(actor string, events ...Event) {
		b, _ := json.Marshal(CaptureEventsPayload{Events: events})
		f.Add(actor, b)
	}
	seed(glnMaker, l.commissionEv("L", "2028-01-01", sgtinDL(gtinA, "F1"), sgtinDL(gtinA, "Z1")))
	seed(glnMaker, l.commissionEv("L", "2028-01-01", sgtinDL(gtinA, "F2")), l.packEv(ssccDL(4), sgtinDL(gtinA, "F2")), l.shipEv(glnWholesal, ssccDL(4)))
	seed(glnPharmacy, l.observeEv("dispensing", sgtinDL(gtinA, "Z1")), l.unpackEv(ssccDL(4)))
	seed(glnWholesal, l.observeEv("receiving", sgtinDL(gtinA, "Z2")))
	stored := l.commissionEv("L9", "2028-01-01", sgtinDL(gtinA, "P1"))
	l.capture(glnMaker, stored)
	seed(glnMaker, stored) // an event already on the ledger
	f.Fuzz(func(t *testing.T, actor string, payload []byte) {
		cmds := []Command{
			{ID: "fuzz-1", Kind: KindCaptureEvents, Actor: actor, Time: l.now, Payload: payload},
			{ID: "fuzz-2", Kind: KindCaptureEvents, Actor: actor, Time: l.now, Payload: payload},
		}
		// SQLite has one writer: each way runs in a transaction rolled
		// back before the other begins.
		var want, got []Result
		ref := l.db.Begin()
		for i, cmd := range cmds {
			want = append(want, Apply(ref, uint64(1000+i), cmd))
		}
		ref.Rollback()
		tx := l.db.Begin()
		defer tx.Rollback()
		b := NewBatch()
		if err := b.Prefetch(tx, cmds); err != nil {
			t.Fatal(err)
		}
		for i, cmd := range cmds {
			res, err := b.Apply(tx, uint64(1000+i), cmd)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, res)
		}
		if err := b.Flush(tx); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if w, g := mustJSON(t, want[i]), mustJSON(t, got[i]); string(w) != string(g) {
				t.Fatalf("command %d: with Prefetch\n%s\nwithout\n%s", i+1, g, w)
			}
		}
		// And the rows the batch reports writing are the rows it wrote.
		fromBatch, err := b.IndexChanges(tx, 999)
		if err != nil {
			t.Fatal(err)
		}
		fromSQL, err := ChangesSince(tx, 999)
		if err != nil {
			t.Fatal(err)
		}
		mustSameChanges(t, fromBatch, fromSQL)
	})
}
