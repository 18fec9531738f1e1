package models

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
)

// lotStory runs a random supply chain over three lots of gtinA. Packs of
// LA and LB are commissioned in rounds, some packed into cases and shipped
// as cases (at times with an older loose pack beside the case), cases are
// received and unpacked, packs of earlier rounds are shipped on to the
// pharmacies long after, and events name a lot as a class. So a lot's
// early packs have events after its later packs' commissioning, and one
// event concerns packs both directly and through a case: what the walk of
// lotHistory has to get right. LC's packs are commissioned one a round and
// never move: one event each.
func lotStory(l *ledger, seed uint64, rounds int) {
	l.t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	type pack struct {
		epc, lot, holder string
	}
	var packs []*pack
	lots := []string{"LA", "LB"}
	serial, cases := 0, 0
	newPack := func(lot string) *pack {
		serial++
		return &pack{epc: sgtinDL(gtinA, "S"+strconv.Itoa(serial)), lot: lot, holder: glnMaker}
	}
	for range rounds {
		lot := lots[rng.IntN(len(lots))]
		var epcs []string
		var made []*pack
		for range 1 + rng.IntN(5) {
			p := newPack(lot)
			made, epcs = append(made, p), append(epcs, p.epc)
		}
		evs := []Event{l.commissionEv(lot, "2028-12-31", epcs...)}
		if rng.IntN(2) == 0 {
			// As a case, to the wholesaler, who receives and unpacks it.
			cases++
			box := ssccDL(1000 + cases)
			shipped := []string{box}
			for _, p := range packs {
				if p.holder == glnMaker && rng.IntN(2) == 0 {
					shipped, p.holder = append(shipped, p.epc), glnWholesal
					break
				}
			}
			evs = append(evs, l.packEv(box, epcs...), l.shipEv(glnWholesal, shipped...))
			l.capture(glnMaker, evs...)
			l.capture(glnWholesal, l.observeEv("receiving", shipped...), l.unpackEv(box))
			for _, p := range made {
				p.holder = glnWholesal
			}
		} else {
			l.capture(glnMaker, evs...)
		}
		packs = append(packs, made...)
		l.capture(glnMaker, l.commissionEv("LC", "2028-12-31", newPack("LC").epc))
		if rng.IntN(3) == 0 {
			l.capture(glnMaker, l.classEv("inspecting", lotDL(gtinA, lots[rng.IntN(len(lots))])))
		}
		// Some packs of any earlier round move on.
		var toWholesaler, toPharmacy []string
		for _, p := range packs {
			if rng.IntN(8) != 0 {
				continue
			}
			switch p.holder {
			case glnMaker:
				toWholesaler, p.holder = append(toWholesaler, p.epc), glnWholesal
			case glnWholesal:
				toPharmacy, p.holder = append(toPharmacy, p.epc), glnPharmacy
			}
		}
		if len(toWholesaler) > 0 {
			l.capture(glnMaker, l.shipEv(glnWholesal, toWholesaler...))
			l.capture(glnWholesal, l.observeEv("receiving", toWholesaler...))
		}
		if len(toPharmacy) > 0 {
			l.capture(glnWholesal, l.shipEv(glnPharmacy, toPharmacy...))
			l.capture(glnPharmacy, l.observeEv("receiving", toPharmacy...))
		}
	}
}

// TestALotsHistoryIsItsFirstEventsInLedgerOrder compares the walk of a
// lot's packs (lotHistory) with the query over all of them, on random
// supply chains, for every viewer and limits from one event to all: the
// same events, the same order, the same direct flags and the same
// truncation, with pages of one pack up to more than the lot. With a scan
// budget too small for the lot, the answer is a prefix of the whole,
// marked truncated.
func TestALotsHistoryIsItsFirstEventsInLedgerOrder(t *testing.T) {
	defer func(page, budget, all int) { lotPage, lotScanBudget, lotScanBudgetAll = page, budget, all }(lotPage, lotScanBudget, lotScanBudgetAll)
	viewers := []*Viewer{nil, {Org: glnReg, Role: RoleRegulator}, {Org: glnMaker, Role: RoleManufacturer},
		{Org: glnWholesal, Role: RoleWholesaler}, {Org: glnPharmacy, Role: RolePharmacy}, {Org: glnPharm2, Role: RolePharmacy}}
	for seed := range uint64(3) {
		l := newLedger(t)
		l.network()
		lotStory(l, seed, 30)
		for _, lotName := range []string{"LA", "LB", "LC"} {
			lot, err := LotSubject(gtinA, lotName)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range viewers {
				whole, _, err := lotFullHistory(l.db, lot, v, MaxHistory)
				if err != nil {
					t.Fatal(err)
				}
				for _, limit := range []int{1, 2, 3, 7, 20, len(whole) - 1, len(whole), len(whole) + 1} {
					if limit < 1 {
						continue
					}
					want, wantCut, err := lotFullHistory(l.db, lot, v, limit)
					if err != nil {
						t.Fatal(err)
					}
					for _, page := range []int{1, 2, 5, 1000} {
						lotPage, lotScanBudget, lotScanBudgetAll = page, 1<<30, 1<<30
						got, cut, err := lotHistory(l.db, lot, v, limit)
						if err != nil {
							t.Fatal(err)
						}
						if cut != wantCut || !reflect.DeepEqual(got, want) {
							t.Fatalf("seed %d lot %s viewer %v limit %d page %d: %d events (cut %v), want %d (cut %v)\ngot  %v\nwant %v",
								seed, lotName, v, limit, page, len(got), cut, len(want), wantCut, stepsOf(got), stepsOf(want))
						}
						// A budget of a few packs gives the first events.
						lotScanBudget, lotScanBudgetAll = 3, 3
						got, cut, err = lotHistory(l.db, lot, v, limit)
						if err != nil {
							t.Fatal(err)
						}
						if len(got) > len(want) || !reflect.DeepEqual(got, want[:len(got)]) || len(got) < len(whole) && !cut {
							t.Fatalf("seed %d lot %s viewer %v limit %d page %d budget 3: %d events (cut %v) are not a prefix of the %d of the whole",
								seed, lotName, v, limit, page, len(got), cut, len(whole))
						}
					}
				}
			}
		}
	}
}

// TestTheFirstEventsOfALotsPacksNeverFall holds the ledger to the property
// lotHistory's walk rests on: in the order of the packs' records, the
// first event naming each pack (or a case it was in) never comes before
// an earlier pack's. The random supply chains of lotStory run through
// Apply, and the property is checked over every pack.
func TestTheFirstEventsOfALotsPacksNeverFall(t *testing.T) {
	for seed := range uint64(3) {
		l := newLedger(t)
		l.network()
		lotStory(l, seed, 40)
		var firsts []int64
		if err := l.db.Raw(`SELECT (SELECT MIN(event_id) FROM event_epcs WHERE "key" IN (items."key", ` + contentsKeySQL(`items."key"`) + `))
			FROM items ORDER BY id`).Scan(&firsts).Error; err != nil || len(firsts) < 40 {
			t.Fatalf("%d items, %v", len(firsts), err)
		}
		for i := 1; i < len(firsts); i++ {
			if firsts[i] == 0 || firsts[i] < firsts[i-1] {
				t.Fatalf("seed %d: item %d's first event is %d, after item %d's at %d", seed, i, firsts[i], i-1, firsts[i-1])
			}
		}
	}
}

// lotFullHistory is a lot's history by one query over all its packs, as
// ChainOfCustody read it before lotHistory: the reference lotHistory is
// held to.
func lotFullHistory(db *gorm.DB, s Subject, viewer *Viewer, limit int) ([]HistoryEntry, bool, error) {
	events, err := history(db, `event_epcs."key" = ? OR event_epcs."key" IN (SELECT "key" FROM items WHERE gtin = ? AND lot = ?
		UNION ALL SELECT `+contentsKeySQL(`"key"`)+` FROM items WHERE gtin = ? AND lot = ?)`,
		[]any{s.Key, s.gtin, s.lot, s.gtin, s.lot}, viewer, limit+1)
	if err != nil {
		return nil, false, err
	}
	if len(events) > limit {
		return events[:limit], true, nil
	}
	return events, false, nil
}

// TestATradingPartnerReadsALargeLotOnlyInPart: a pharmacy that received
// the last packs of a lot asks for its chain of custody. Past the scan
// budget the answer is not "not on the ledger", which would call the lot
// a fake, but an empty answer marked truncated, items and events alike;
// with the budget reaching its packs, it reads their records and events.
func TestATradingPartnerReadsALargeLotOnlyInPart(t *testing.T) {
	defer func(page, budget int) { lotPage, lotScanBudget = page, budget }(lotPage, lotScanBudget)
	l := newLedger(t)
	l.network()
	var packs []string
	for i := range 12 {
		packs = append(packs, sgtinDL(gtinA, "P"+strconv.Itoa(i)))
	}
	l.capture(glnMaker, l.commissionEv("LP", "2028-12-31", packs...), l.shipEv(glnPharmacy, packs[10:]...))
	l.capture(glnPharmacy, l.observeEv("receiving", packs[10:]...))
	lot, err := LotSubject(gtinA, "LP")
	if err != nil {
		t.Fatal(err)
	}
	pharmacy := &Viewer{Org: glnPharmacy, Role: RolePharmacy}
	lotPage = 4
	for _, tc := range []struct {
		budget, items, events int
		itemsCut, eventsCut   bool
	}{
		{8, 0, 0, true, true},
		// Events are read a page of packs at a time, records pack by pack.
		{11, 1, 1, true, false},
		{12, 2, 1, false, false},
		{100, 2, 1, false, false},
	} {
		lotScanBudget = tc.budget
		c, err := ChainOfCustody(l.db, lot, CustodyQuery{Viewer: pharmacy})
		if err != nil || len(c.Items) != tc.items || len(c.Events) != tc.events || c.ItemsTruncated != tc.itemsCut || c.Truncated != tc.eventsCut {
			t.Errorf("budget %d: %d items (cut %v), %d events (cut %v), %v; want %d (cut %v), %d (cut %v)", tc.budget,
				len(c.Items), c.ItemsTruncated, len(c.Events), c.Truncated, err, tc.items, tc.itemsCut, tc.events, tc.eventsCut)
		}
	}
	// A pharmacy that never had a pack of the lot, with every pack read.
	lotScanBudget = 100
	if _, err := ChainOfCustody(l.db, lot, CustodyQuery{Viewer: &Viewer{Org: glnPharm2, Role: RolePharmacy}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("another pharmacy: %v, want ErrNotFound", err)
	}
}

// bigLot commissions a lot BIG of packs packs, 1,000 to an event, each
// thousand shipped to the wholesaler in one more event.
func bigLot(b *testing.B, packs int) (*ledger, Subject) {
	l := newLedger(b)
	l.network()
	for i := 0; i < packs; i += 1000 {
		epcs := make([]string, 1000)
		for j := range epcs {
			epcs[j] = sgtinDL(gtinA, fmt.Sprintf("B%d", i+j))
		}
		l.capture(glnMaker, l.commissionEv("BIG", "2028-12-31", epcs...), l.shipEv(glnWholesal, epcs...))
	}
	lot, err := LotSubject(gtinA, "BIG")
	if err != nil {
		b.Fatal(err)
	}
	return l, lot
}

// BenchmarkLotChainOfCustody reads a lot's chain of custody as a
// regulator does, for lots of 10,000 and 100,000 packs. The answer is the
// whole history (2 events a thousand packs), so every pack is read: the
// worst case below the scan budget.
func BenchmarkLotChainOfCustody(b *testing.B) {
	for _, packs := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("packs=%d", packs), func(b *testing.B) {
			l, lot := bigLot(b, packs)
			regulator := &Viewer{Org: glnReg, Role: RoleRegulator}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c, err := ChainOfCustody(l.db, lot, CustodyQuery{Viewer: regulator})
				if err != nil || len(c.Events) != 2*packs/1000 || c.Truncated {
					b.Fatalf("%d events (truncated %v), %v", len(c.Events), c.Truncated, err)
				}
			}
		})
	}
}

// BenchmarkLotOnLedger asks whether a lot of 100,000 packs is on the
// ledger, as the resolver does for anyone: one pack is enough.
func BenchmarkLotOnLedger(b *testing.B) {
	l, _ := bigLot(b, 100000)
	b.ResetTimer()
	for range b.N {
		if ok, err := LotOnLedger(l.db, gtinA, "BIG"); !ok || err != nil {
			b.Fatalf("%v, %v", ok, err)
		}
	}
}

// TestALotsChainOfCustodyIsReadAtOneMoment commits a capture while a
// lot's chain of custody is being read, between two pages of its packs.
// The answer is the chain as it was before the capture, not a mix in
// which the later pages see the capture and the earlier ones do not (an
// event of the first pack missing, with no truncation said). The ledger
// is a file in WAL mode, as on a node, with one connection: the capture
// gets it between two statements of the walk, as a node's writer must
// (a walk in one transaction would hold it, and the capture would wait
// out the test's deadline).
func TestALotsChainOfCustodyIsReadAtOneMoment(t *testing.T) {
	defer func(page int) { lotPage = page }(lotPage)
	lotPage = 1
	l := walLedger(t)
	db := l.db
	packs := []string{sgtinDL(gtinA, "M1"), sgtinDL(gtinA, "M2"), sgtinDL(gtinA, "M3")}
	l.capture(glnMaker, l.commissionEv("LM", "2028-12-31", packs...))
	lot, err := LotSubject(gtinA, "LM")
	if err != nil {
		t.Fatal(err)
	}
	before := custodyEvents(t, db, lot)
	// The capture commits as the walk asks for its second page of packs.
	written := false
	if err := db.Callback().Row().Before("gorm:row").Register("test:write", func(d *gorm.DB) {
		if written || !strings.Contains(d.Statement.SQL.String(), "AND id > ?") || len(d.Statement.Vars) < 3 || d.Statement.Vars[2] == int64(0) {
			return
		}
		written = true
		l.capture(glnMaker, l.shipEv(glnWholesal, packs[0]), l.shipEv(glnWholesal, packs[2]))
	}); err != nil {
		t.Fatal(err)
	}
	during := custodyEvents(t, db, lot)
	db.Callback().Row().Remove("test:write")
	after := custodyEvents(t, db, lot)
	if !written || len(after) != len(before)+2 {
		t.Fatalf("written %v: %d events before, %d after; want the capture's two more", written, len(before), len(after))
	}
	if !reflect.DeepEqual(during, before) {
		t.Fatalf("read during the capture: %v; want the chain before it, %v (after it: %v)", stepsOf(during), stepsOf(before), stepsOf(after))
	}
}

// TestPacksCommissionedDuringALotsWalkAreNotRead commissions packs of a
// lot while its chain of custody is read. They have no event the walk
// reads, so it does not read them: with a budget of the lot's packs as
// they were, the answer is whole, not cut short by the new ones.
func TestPacksCommissionedDuringALotsWalkAreNotRead(t *testing.T) {
	defer func(page, all int) { lotPage, lotScanBudgetAll = page, all }(lotPage, lotScanBudgetAll)
	lotPage, lotScanBudgetAll = 1, 3
	l := walLedger(t)
	l.capture(glnMaker, l.commissionEv("LN", "2028-12-31", sgtinDL(gtinA, "N1"), sgtinDL(gtinA, "N2"), sgtinDL(gtinA, "N3")))
	lot, err := LotSubject(gtinA, "LN")
	if err != nil {
		t.Fatal(err)
	}
	written := false
	if err := l.db.Callback().Row().Before("gorm:row").Register("test:write", func(d *gorm.DB) {
		if written || !strings.Contains(d.Statement.SQL.String(), "AND id > ?") || len(d.Statement.Vars) < 3 || d.Statement.Vars[2] == int64(0) {
			return
		}
		written = true
		l.capture(glnMaker, l.commissionEv("LN", "2028-12-31", sgtinDL(gtinA, "N4"), sgtinDL(gtinA, "N5")))
	}); err != nil {
		t.Fatal(err)
	}
	defer l.db.Callback().Row().Remove("test:write")
	c, err := ChainOfCustody(l.db, lot, CustodyQuery{})
	if err != nil || !written || len(c.Events) != 1 || c.Truncated {
		t.Fatalf("written %v: %v, truncated %v, %v; want the one commissioning, whole", written, stepsOf(c.Events), c.Truncated, err)
	}
}

// walLedger is a ledger on a file in WAL mode, as on a node, with one
// connection, under a deadline: a statement that waits for the
// connection while another holds it fails the test instead of hanging.
func walLedger(t *testing.T) *ledger {
	t.Helper()
	db := mustDBAt(t, filepath.Join(t.TempDir(), "ledger.db")+"?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=1")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	l := &ledger{t: t, db: db.WithContext(ctx), now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	l.network()
	return l
}

// TestATradingPartnersLotRecordsAreReadInIndexOrder checks the plan of
// the query for the records a trading partner reads of a lot: it walks
// the lot's index in id order and stops at the first MaxCustodyItems+1
// packs it saw, with no sort of every pack up to the budget.
func TestATradingPartnersLotRecordsAreReadInIndexOrder(t *testing.T) {
	defer func(budget int) { lotScanBudget = budget }(lotScanBudget)
	lotScanBudget = 3 // fewer than the lot's packs: the query has its edge
	l := newLedger(t)
	l.network()
	lotStory(l, 1, 5)
	db, sqls := recordSQL(t, l.db, "items")
	lot, err := LotSubject(gtinA, "LA")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ChainOfCustody(db, lot, CustodyQuery{Viewer: &Viewer{Org: glnWholesal, Role: RoleWholesaler}}); err != nil {
		t.Fatal(err)
	}
	if len(*sqls) != 1 {
		t.Fatalf("%d queries of items, want 1: %q", len(*sqls), *sqls)
	}
	if plan := queryPlan(t, l.db, (*sqls)[0]); !strings.Contains(plan, "SEARCH items USING INDEX idx_items_lot") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("query %s\nplan: %s\nwant a search of idx_items_lot in order", (*sqls)[0], plan)
	}
}
