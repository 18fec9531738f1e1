package models

import (
	"fmt"
	"strings"
	"testing"

	"gorm.io/gorm"
)

// TestBatchResultsDoNotDependOnGrouping: a Batch applies consecutive
// captures in memory and remembers organisations and products, and Raft
// nodes group the same log into different transactions. One command log,
// applied command by command with Apply (each in its own savepoint, as
// before batches existed) and with Batches of every grouping, must give
// the same results and the same tables. The log has each way the memory
// could go stale or a rejection could leak: commands that register what
// an earlier capture found missing, a capture rejected after it changed an
// item, captures that need SQL (moving and unpacking a container, asking
// who holds packs of a lot) between in-memory ones, a duplicate of a pending event, a rejection that raises
// an alert, and non-capture commands in between.
func TestBatchResultsDoNotDependOnGrouping(t *testing.T) {
	l := newLedger(t) // only for its event builders and clock
	var cmds []Command
	var wantCodes []string
	add := func(code, actor string, kind CommandKind, payload any) {
		cmd, err := NewCommand(fmt.Sprintf("cmd-%d", len(cmds)+1), kind, actor, l.now, payload)
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		wantCodes = append(wantCodes, code)
		l.tick(1)
	}
	capture := func(code, actor string, events ...Event) {
		add(code, actor, KindCaptureEvents, CaptureEventsPayload{Events: events})
	}
	x := func(n int) string { return sgtinDL(gtinA, fmt.Sprintf("X%d", n)) }
	sscc := ssccDL(5)

	add("", "", KindRegisterOrganisation, RegisterOrganisationPayload{ID: adminID, Name: "Cluster admin", Role: RoleAdmin})
	add("", adminID, KindRegisterOrganisation, RegisterOrganisationPayload{ID: glnMaker, Name: "Acme Pharma", Role: RoleManufacturer, Prefixes: []string{"4012345"}})
	capture(CodeUnknownProduct, glnMaker, l.commissionEv("L1", "2028-12-31", x(1)))
	add("", glnMaker, KindRegisterProduct, RegisterProductPayload{GTIN: gtinA, Name: "Paracetamol 500 mg"})
	commissioned := l.commissionEv("L1", "2028-12-31", x(1), x(2), x(3), x(4))
	capture("", glnMaker, commissioned)
	capture(CodeConflict, glnMaker, commissioned) // pending in a batch
	capture(CodeUnknownActor, glnPharmacy, l.observeEv("receiving", x(1)))
	capture(CodeNotFound, glnMaker, l.shipEv(glnPharmacy, x(1)))
	add("", adminID, KindRegisterOrganisation, RegisterOrganisationPayload{ID: glnPharmacy, Name: "Corner Pharmacy", Role: RolePharmacy})
	add("", adminID, KindRegisterOrganisation, RegisterOrganisationPayload{ID: glnWholesal, Name: "Wholesale Ltd", Role: RoleWholesaler})
	// Ships X1, then fails: X1 must be active again for the next command.
	capture(CodeAlreadyExists, glnMaker, l.shipEv(glnWholesal, x(1)), l.commissionEv("L1", "2028-12-31", x(1)))
	capture("", glnMaker, l.shipEv(glnPharmacy, x(1)))
	capture(CodeNotDestination, glnWholesal, l.observeEv("receiving", x(1))) // raises an alert
	capture("", glnPharmacy, l.observeEv("receiving", x(1)))
	capture("", glnMaker, l.packEv(sscc, x(2), x(3)))
	capture("", glnMaker, l.shipEv(glnWholesal, sscc))                                 // moves the contents in SQL
	capture("", glnWholesal, l.observeEv("receiving", sscc))                           // likewise
	capture("", glnWholesal, l.unpackEv(sscc))                                         // unpacks all in SQL
	capture(CodeConflict, glnMaker, commissioned)                                      // an event already captured
	capture(CodeNotCustodian, glnMaker, l.shipEv(glnPharmacy, x(2)))                   // the wholesaler has it now
	capture("", glnWholesal, l.shipEv(glnPharmacy, x(2)), l.shipEv(glnPharmacy, x(3))) // two changes, kept
	// A lot-level event by the receiver, which holds packs of the lot
	// only once the receipt before it (in memory) is written.
	capture("", glnPharmacy, l.observeEv("receiving", x(2), x(3)), l.observeEv("dispensing", x(1)), l.classEv("inspecting", lotDL(gtinA, "L1")))
	capture(CodeNotCustodian, glnWholesal, l.classEv("inspecting", lotDL(gtinA, "L1"))) // it has none left
	transformation := l.event(TransformationEvent, "", "")
	transformation.InputEPCList = []string{x(2)}
	capture(CodeNotCustodian, glnWholesal, transformation)
	lock := DecommissionPayload{EPCs: []string{x(4)}, Status: StatusLocked} // writes packs outside a capture
	add("", glnMaker, KindDecommission, lock)
	add(CodeInactive, glnMaker, KindDecommission, lock)
	add("", glnMaker, KindUndoDecommission, UndoDecommissionPayload{EPCs: []string{x(4)}})
	add("", glnMaker, KindRecall, RecallPayload{GTIN: gtinA, Lot: "L1"})
	capture(CodeRecalled, glnPharmacy, l.observeEv("dispensing", x(2))) // read from the recalls written before
	capture("", glnMaker, l.commissionEv("L2", "2029-01-31", x(6)))
	// A new event undone with its command, then captured alone: its id
	// must not stay pending, nor be taken for stored.
	retried := l.commissionEv("L2", "2029-01-31", x(7))
	capture(CodeAlreadyExists, glnMaker, retried, l.commissionEv("L2", "2029-01-31", x(6)))
	capture("", glnMaker, retried)
	capture(CodeConflict, glnMaker, retried)
	// Declared erroneous twice, the second in a batch with another event:
	// the stored JSON and the entry named for it (event_declarations).
	declared := retried
	declared.ErrorDeclaration = &ErrorDeclaration{DeclarationTime: l.now, Reason: "incorrect_data"}
	capture("", glnMaker, declared)
	again := declared
	again.ErrorDeclaration = &ErrorDeclaration{DeclarationTime: l.now, Reason: "did_not_occur"}
	capture("", glnMaker, l.commissionEv("L2", "2029-01-31", x(8)), again)

	// The reference: Apply, command by command, each in its own savepoint.
	ref := newLedger(t)
	var want []Result
	for i, cmd := range cmds {
		ref.seq = uint64(i + 1)
		want = append(want, ref.applyCmd(cmd))
	}
	for i, res := range want {
		if res.Code != wantCodes[i] || res.Accepted != (wantCodes[i] == "") {
			t.Fatalf("command %d (%s): accepted=%v code %q (%s), want code %q", i+1, cmds[i].Kind, res.Accepted, res.Code, res.Message, wantCodes[i])
		}
	}

	for _, run := range []struct {
		group    int
		prefetch bool
	}{{1, false}, {2, false}, {3, false}, {5, false}, {len(cmds), false}, {1, true}, {2, true}, {3, true}, {5, true}, {len(cmds), true}} {
		group := run.group
		other := newLedger(t)
		var got []Result
		for start := 0; start < len(cmds); start += group {
			var fromBatch IndexChanges
			err := other.db.Transaction(func(tx *gorm.DB) error {
				b := NewBatch()
				if run.prefetch {
					if err := b.Prefetch(tx, cmds[start:min(start+group, len(cmds))]); err != nil {
						return err
					}
				}
				for i := start; i < min(start+group, len(cmds)); i++ {
					res, err := b.Apply(tx, uint64(i+1), cmds[i])
					if err != nil {
						return err
					}
					got = append(got, res)
				}
				if err := b.Flush(tx); err != nil {
					return err
				}
				var err error
				fromBatch, err = b.IndexChanges(tx, uint64(start))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			// The rows a batch wrote are found by their seqs, as the
			// verify index reads them, and the batch reports the same.
			fromSQL, err := ChangesSince(other.db, uint64(start))
			if err != nil {
				t.Fatal(err)
			}
			mustSameChanges(t, fromBatch, fromSQL)
			other.checkCommand(uint64(start), uint64(min(start+group, len(cmds))))
		}
		for i := range want {
			if a, b := mustJSON(t, want[i]), mustJSON(t, got[i]); string(a) != string(b) {
				t.Fatalf("groups of %d, prefetch %v: command %d: result\n%s\nwant\n%s", group, run.prefetch, i+1, b, a)
			}
		}
		for _, table := range []string{"organisations", "products", "items", "event_records", "event_epcs", "event_declarations", "recalls", "alerts"} {
			if d1, d2 := dumpTable(t, ref, table), dumpTable(t, other, table); d1 != d2 {
				t.Fatalf("groups of %d, prefetch %v: table %s differs:\n%s\n%s", group, run.prefetch, table, d2, d1)
			}
		}
	}
}

// TestAFaultIsReturnedNotRecorded: an error IsFault calls this node's own
// comes back from Batch.Apply as an error, so the caller does not commit a
// rejection that other nodes would not record; without IsFault, or for
// other errors, the command is rejected as before.
func TestAFaultIsReturnedNotRecorded(t *testing.T) {
	l := newLedger(t)
	l.bootstrap()
	if err := l.db.Exec(`CREATE TRIGGER fail_products BEFORE INSERT ON products
		BEGIN SELECT RAISE(FAIL, 'injected fault'); END`).Error; err != nil {
		t.Fatal(err)
	}
	cmd, err := NewCommand("p1", KindRegisterProduct, glnMaker, l.now, RegisterProductPayload{GTIN: gtinA, Name: "Paracetamol"})
	if err != nil {
		t.Fatal(err)
	}
	injected := func(err error) bool { return strings.Contains(err.Error(), "injected fault") }
	for _, tc := range []struct {
		name    string
		isFault func(error) bool
		fault   bool
	}{
		{"a fault", injected, true},
		{"another error", func(error) bool { return false }, false},
		{"no IsFault", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx := l.db.Begin()
			defer tx.Rollback()
			b := NewBatch()
			b.IsFault = tc.isFault
			res, err := b.Apply(tx, 100, cmd)
			switch {
			case tc.fault && (err == nil || !injected(err) || res.Seq != 0):
				t.Fatalf("result %+v, error %v; want the fault as the error and no result", res, err)
			case !tc.fault && (err != nil || res.Accepted || res.Code != CodeInternal):
				t.Fatalf("result %+v, error %v; want a rejection with %s", res, err, CodeInternal)
			}
		})
	}
}
