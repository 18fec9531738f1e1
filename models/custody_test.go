package models

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"gorm.io/gorm"
)

// stepsOf lists the business steps of a history, in its order.
func stepsOf(h []HistoryEntry) []string {
	out := make([]string, len(h))
	for i, e := range h {
		out[i] = e.BizStep
	}
	return out
}

// custodyEvents is the subject's events as a regulator sees them.
func custodyEvents(t *testing.T, db *gorm.DB, s Subject) []HistoryEntry {
	t.Helper()
	c, err := ChainOfCustody(db, s, CustodyQuery{})
	if err != nil {
		t.Fatalf("custody of %s: %v", s.Key, err)
	}
	return c.Events
}

// TestChainOfCustody checks a pack's, a lot's and a case's chain of custody
// per viewer: every event that concerns it, in ledger order, for a
// regulator, only its own trade for a trading partner, ErrNotFound for a
// subject that is unknown or, to the viewer, invisible, and the limit.
func TestChainOfCustody(t *testing.T) {
	l := newLedger(t)
	l.network()
	packs := []string{sgtinDL(gtinA, "K1"), sgtinDL(gtinA, "K2")}
	box := ssccDL(42)
	l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", packs...), l.packEv(box, packs...), l.shipEv(glnWholesal, box))
	l.capture(glnWholesal, l.observeEv("receiving", box), l.unpackEv(box), l.shipEv(glnPharmacy, packs[0]))
	l.capture(glnPharmacy, l.observeEv("receiving", packs[0]))

	pack, err := PackSubject(gtinA, "K1")
	if err != nil {
		t.Fatal(err)
	}
	lot, err := LotSubject(gtinA, "L1")
	if err != nil {
		t.Fatal(err)
	}
	container := ContainerSubject(box)
	if pack.Key != PackKey(gtinA, "K1") || lot.Key != LotKey(gtinA, "L1") || container.Key != keyOf(box) {
		t.Fatalf("keys %q %q %q", pack.Key, lot.Key, container.Key)
	}
	regulator := &Viewer{Org: glnReg, Role: RoleRegulator}
	// The pack travels in the case until the wholesaler unpacks all of it,
	// an event that names only the case and is in the pack's history too.
	packSteps := []string{"commissioning", "packing", "shipping", "receiving", "unpacking", "shipping", "receiving"}
	for _, tc := range []struct {
		name  string
		s     Subject
		items int
		want  []string
	}{
		{"pack", pack, 1, packSteps},
		{"lot", lot, 2, packSteps}, // the other pack's events are the same ones
		{"case", container, 1, []string{"packing", "shipping", "receiving", "unpacking"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range []*Viewer{nil, regulator} {
				c, err := ChainOfCustody(l.db, tc.s, CustodyQuery{Viewer: v})
				if err != nil {
					t.Fatal(err)
				}
				if len(c.Items) != tc.items || c.Truncated || !slices.Equal(stepsOf(c.Events), tc.want) {
					t.Fatalf("viewer %v: %d items, events %v, want %v", v, len(c.Items), stepsOf(c.Events), tc.want)
				}
				for i := 1; i < len(c.Events); i++ {
					if c.Events[i].Seq < c.Events[i-1].Seq {
						t.Fatalf("viewer %v: events out of ledger order", v)
					}
				}
			}
		})
	}

	// A trading partner sees its own part of the chain.
	for _, tc := range []struct {
		name   string
		s      Subject
		viewer Viewer
		want   int
	}{
		{"the pharmacy's pack", pack, Viewer{Org: glnPharmacy, Role: RolePharmacy}, 1},
		{"the wholesaler's pack", pack, Viewer{Org: glnWholesal, Role: RoleWholesaler}, 3},
		{"the maker's case", container, Viewer{Org: glnMaker, Role: RoleManufacturer}, 2},
		{"the wholesaler's lot", lot, Viewer{Org: glnWholesal, Role: RoleWholesaler}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ChainOfCustody(l.db, tc.s, CustodyQuery{Viewer: &tc.viewer})
			if err != nil || len(c.Events) != tc.want {
				t.Fatalf("%d events, %v; want %d", len(c.Events), err, tc.want)
			}
			for _, e := range c.Events {
				if e.Actor != tc.viewer.Org {
					t.Fatalf("%s sees %s's event %d", tc.viewer.Org, e.Actor, e.Seq)
				}
			}
		})
	}

	// Unknown to everyone, or to a pharmacy that never handled it.
	unknown, _ := PackSubject(gtinA, "NOPE")
	for _, tc := range []struct {
		s Subject
		v *Viewer
	}{{unknown, regulator}, {unknown, nil}, {pack, &Viewer{Org: glnPharm2, Role: RolePharmacy}}, {container, &Viewer{Org: glnPharmacy, Role: RolePharmacy}}} {
		if c, err := ChainOfCustody(l.db, tc.s, CustodyQuery{Viewer: tc.v}); !errors.Is(err, ErrNotFound) || len(c.Items)+len(c.Events) != 0 {
			t.Errorf("%s for %v: %d items, %d events, %v; want ErrNotFound and nothing", tc.s.Key, tc.v, len(c.Items), len(c.Events), err)
		}
	}

	// The limit keeps the first events and says it did.
	packHist := custodyEvents(t, l.db, pack)
	c, err := ChainOfCustody(l.db, pack, CustodyQuery{Limit: 3})
	if err != nil || !c.Truncated || !reflect.DeepEqual(c.Events, packHist[:3]) {
		t.Fatalf("limit 3: %v truncated %v, %v", stepsOf(c.Events), c.Truncated, err)
	}
	if c, err := ChainOfCustody(l.db, pack, CustodyQuery{Limit: len(packHist)}); err != nil || c.Truncated || len(c.Events) != len(packHist) {
		t.Fatalf("limit at the length: %d events, truncated %v, %v", len(c.Events), c.Truncated, err)
	}
	if _, err := PackSubject("123", "X"); err == nil {
		t.Fatal("a bad GTIN made a subject")
	}
}

// TestUnpackingAllIsInTheHistoryOfWhatItUnpacked: an unpacking that names
// a container and no children (EPCIS: all of them) is in the chain of
// custody of every item it took out, as an event that named a container
// the item was in, whether the capture runs alone or after another in a
// batch. It is not in the history of what stays inside an unpacked case
// (only the case left the pallet), nor of a pack unpacked before; and
// EPCIS queries, which look at what an event names, do not match it for
// the children it did not name. Under rules before version 3 it is in
// none of their histories, as nodes of those rules indexed it, so a node
// replaying an older ledger builds the projection they built.
func TestUnpackingAllIsInTheHistoryOfWhatItUnpacked(t *testing.T) {
	for _, rules := range []int{2, RulesVersion} {
		t.Run(fmt.Sprint("rules ", rules), func(t *testing.T) { testUnpackingAll(t, rules) })
	}
}

func testUnpackingAll(t *testing.T, rules int) {
	l := newLedger(t)
	l.rules = rules
	l.network()
	u1, early := sgtinDL(gtinA, "U1"), sgtinDL(gtinA, "U2")
	box, pallet := ssccDL(51), ssccDL(52)
	l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", u1, early), l.packEv(box, u1, early), l.packEv(pallet, box))
	l.capture(glnMaker, l.unpackEv(box, early))
	// Both in one batch: the second runs after the first, in SQL, as a
	// node applies a busy log.
	var cmds []Command
	for i, e := range []Event{l.unpackEv(pallet), l.unpackEv(box)} {
		cmd, err := NewCommand(fmt.Sprintf("unpack-all-%d", i), KindCaptureEvents, glnMaker, l.now, CaptureEventsPayload{Events: []Event{e}})
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	res, err := l.applyBatch(0, cmds...)
	if err != nil || !res[0].Accepted || !res[1].Accepted {
		t.Fatalf("unpacking all: %+v, %v", res, err)
	}
	palletSeq, boxSeq := res[0].Seq, res[1].Seq
	indexed := func(seqs ...uint64) []uint64 {
		if rules < rulesCaptureConsistency {
			return nil
		}
		return seqs
	}
	for _, tc := range []struct {
		name string
		key  string
		want []uint64 // the unpackings in its history that did not name it
	}{
		{"a pack in the unpacked case", PackKey(gtinA, "U1"), indexed(boxSeq)},
		{"the case on the unpacked pallet", keyOf(box), indexed(palletSeq)},
		{"a pack unpacked before", PackKey(gtinA, "U2"), nil},
	} {
		var got []uint64
		for _, e := range custodyEvents(t, l.db, itemSubject(tc.key)) {
			if e.BizStep == "unpacking" && !e.Direct {
				got = append(got, e.Seq)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: unpackings at %v that did not name it, want %v", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct {
		param  string
		values []string
		want   int
	}{
		{"MATCH_epc", []string{u1, box}, 0},
		{"MATCH_anyEPC", []string{u1}, 0},
		{"MATCH_anyEPC", []string{box}, 2}, // the case's own unpackings, by parentID
	} {
		page, err := QueryEvents(l.db, EventQuery{BizStep: []string{"unpacking"}, Match: []EPCMatch{{Param: tc.param, Values: tc.values}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) != tc.want {
			t.Errorf("%s %v: %d unpackings, want %d", tc.param, tc.values, len(page.Events), tc.want)
		}
	}
}

// TestALotsRecordsAreShownOnlyForPacksTheViewerSaw: a pharmacy that
// received one pack of a lot reads that pack's record in the lot's chain
// of custody, not those of the lot's other packs, held and dispensed by
// others; a regulator reads them all.
func TestALotsRecordsAreShownOnlyForPacksTheViewerSaw(t *testing.T) {
	l := newLedger(t)
	l.network()
	mine, theirs := sgtinDL(gtinA, "R1"), sgtinDL(gtinA, "R2")
	l.capture(glnMaker, l.commissionEv("L7", "2028-12-31", mine, theirs), l.shipEv(glnPharmacy, mine), l.shipEv(glnPharm2, theirs))
	l.capture(glnPharmacy, l.observeEv("receiving", mine))
	l.capture(glnPharm2, l.observeEv("receiving", theirs))
	lot, err := LotSubject(gtinA, "L7")
	if err != nil {
		t.Fatal(err)
	}
	keys := func(v *Viewer) []string {
		t.Helper()
		c, err := ChainOfCustody(l.db, lot, CustodyQuery{Viewer: v})
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		var out []string
		for _, it := range c.Items {
			out = append(out, it.Key)
		}
		return out
	}
	if got := keys(&Viewer{Org: glnPharmacy, Role: RolePharmacy}); !slices.Equal(got, []string{PackKey(gtinA, "R1")}) {
		t.Errorf("the pharmacy reads the records of %v", got)
	}
	if got := keys(&Viewer{Org: glnReg, Role: RoleRegulator}); len(got) != 2 {
		t.Errorf("the regulator reads the records of %v", got)
	}
	if _, err := ChainOfCustody(l.db, lot, CustodyQuery{Viewer: &Viewer{Org: glnWholesal, Role: RoleWholesaler}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("a wholesaler that never saw the lot: %v", err)
	}
}

// TestALotsChainOfCustodySaysWhenItsPacksAreCut commissions one pack more
// than a chain of custody lists: the lot's answer has MaxCustodyItems
// packs and says there are more; a lot of exactly that many does not.
func TestALotsChainOfCustodySaysWhenItsPacksAreCut(t *testing.T) {
	l := newLedger(t)
	l.network()
	for _, tc := range []struct {
		lot   string
		packs int
		cut   bool
	}{{"BIG", MaxCustodyItems + 1, true}, {"FULL", MaxCustodyItems, false}} {
		var packs []string
		for i := range tc.packs {
			packs = append(packs, sgtinDL(gtinA, tc.lot+strconv.Itoa(i)))
		}
		l.capture(glnMaker, l.commissionEv(tc.lot, "2028-12-31", packs...))
		lot, err := LotSubject(gtinA, tc.lot)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ChainOfCustody(l.db, lot, CustodyQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Items) != MaxCustodyItems || c.ItemsTruncated != tc.cut {
			t.Errorf("lot of %d packs: %d items, ItemsTruncated %v", tc.packs, len(c.Items), c.ItemsTruncated)
		}
	}
}
