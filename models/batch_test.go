package models

import (
	"fmt"
	"testing"

	"gorm.io/gorm"
)

// TestBatchResultsDoNotDependOnGrouping: a Batch remembers organisations and
// products across the captures of one transaction, and Raft nodes group the
// same log into different transactions. Applying one command log one
// command per transaction, all in one, and in groups of two must give the
// same results and the same tables, including where a command registers
// what an earlier capture in the same transaction found missing.
func TestBatchResultsDoNotDependOnGrouping(t *testing.T) {
	l := newLedger(t) // only for its event builders and clock
	var cmds []Command
	add := func(actor string, kind CommandKind, payload any) {
		cmd, err := NewCommand(fmt.Sprintf("cmd-%d", len(cmds)+1), kind, actor, l.now, payload)
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		l.tick(1)
	}
	x1, x2 := sgtinDL(gtinA, "X1"), sgtinDL(gtinA, "X2")
	add("", KindRegisterOrganisation, RegisterOrganisationPayload{ID: adminID, Name: "Cluster admin", Role: RoleAdmin})
	add(adminID, KindRegisterOrganisation, RegisterOrganisationPayload{ID: glnMaker, Name: "Acme Pharma", Role: RoleManufacturer, Prefixes: []string{"4012345"}})
	commission := func(epcs ...string) CaptureEventsPayload {
		return CaptureEventsPayload{Events: []Event{l.commissionEv("L1", "2028-12-31", epcs...)}}
	}
	add(glnMaker, KindCaptureEvents, commission(x1)) // rejected: unknown product
	add(glnMaker, KindRegisterProduct, RegisterProductPayload{GTIN: gtinA, Name: "Paracetamol 500 mg"})
	add(glnMaker, KindCaptureEvents, commission(x1))                                                         // accepted now
	add(glnPharmacy, KindCaptureEvents, CaptureEventsPayload{Events: []Event{l.observeEv("receiving", x1)}}) // rejected: unknown actor
	add(glnMaker, KindCaptureEvents, CaptureEventsPayload{Events: []Event{l.shipEv(glnPharmacy, x1)}})       // rejected: unknown destination
	add(adminID, KindRegisterOrganisation, RegisterOrganisationPayload{ID: glnPharmacy, Name: "Corner Pharmacy", Role: RolePharmacy})
	add(glnMaker, KindCaptureEvents, CaptureEventsPayload{Events: []Event{l.shipEv(glnPharmacy, x1)}})       // accepted now
	add(glnPharmacy, KindCaptureEvents, CaptureEventsPayload{Events: []Event{l.observeEv("receiving", x1)}}) // accepted now
	add(glnMaker, KindCaptureEvents, commission(x1))                                                         // rejected: exists
	add(glnMaker, KindCaptureEvents, commission(x2))

	run := func(group int) (*ledger, []Result) {
		r := newLedger(t)
		var results []Result
		for start := 0; start < len(cmds); start += group {
			end := min(start+group, len(cmds))
			err := r.db.Transaction(func(tx *gorm.DB) error {
				b := NewBatch()
				for i := start; i < end; i++ {
					seq := uint64(i + 1)
					if err := tx.SavePoint("cmd").Error; err != nil {
						return err
					}
					res := b.Apply(tx, seq, cmds[i])
					if !res.Accepted {
						if err := tx.RollbackTo("cmd").Error; err != nil {
							return err
						}
						if err := RecordRejection(tx, seq, cmds[i], res); err != nil {
							return err
						}
					}
					results = append(results, res)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		return r, results
	}
	one, want := run(1)
	// The log exercises each way the memory could go stale.
	wantCodes := []string{"", "", CodeUnknownProduct, "", "", CodeUnknownActor, CodeNotFound, "", "", "", CodeAlreadyExists, ""}
	for i, res := range want {
		if res.Code != wantCodes[i] || res.Accepted != (wantCodes[i] == "") {
			t.Fatalf("command %d (%s): accepted=%v code %q (%s), want code %q", i+1, cmds[i].Kind, res.Accepted, res.Code, res.Message, wantCodes[i])
		}
	}
	for _, group := range []int{2, 3, len(cmds)} {
		other, got := run(group)
		if a, b := mustJSON(t, want), mustJSON(t, got); string(a) != string(b) {
			t.Fatalf("groups of %d: results differ:\n%s\n%s", group, a, b)
		}
		for _, table := range []string{"organisations", "products", "items", "event_records", "event_epcs", "alerts"} {
			if d1, d2 := dumpTable(t, one, table), dumpTable(t, other, table); d1 != d2 {
				t.Fatalf("groups of %d: table %s differs:\n%s\n%s", group, table, d1, d2)
			}
		}
	}
}
