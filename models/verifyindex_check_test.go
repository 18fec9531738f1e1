package models

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// Every test that applies commands through the test ledger checks, after
// each command, the two things the verify index's exactness rests on:
// that every row a command wrote carries its seq (so ChangesSince finds
// it), and that the index, kept up to date from those changes, answers
// as the projection does.

// projectionRows are the rows the verify index mirrors.
type projectionRows struct {
	items    map[int64]Item
	products map[string]Product
	recalls  map[int64]Recall
}

func readProjectionRows(t testing.TB, l *ledger) projectionRows {
	t.Helper()
	var items []Item
	var products []Product
	var recalls []Recall
	if err := l.db.Find(&items).Error; err != nil {
		t.Fatal(err)
	}
	if err := l.db.Find(&products).Error; err != nil {
		t.Fatal(err)
	}
	if err := l.db.Find(&recalls).Error; err != nil {
		t.Fatal(err)
	}
	rows := projectionRows{items: map[int64]Item{}, products: map[string]Product{}, recalls: map[int64]Recall{}}
	for _, it := range items {
		rows.items[it.ID] = it
	}
	for _, p := range products {
		rows.products[p.GTIN] = p
	}
	for _, r := range recalls {
		rows.recalls[r.ID] = r
	}
	return rows
}

// maxCheckedPacks bounds the packs checkCommand compares one by one: the
// most recently changed, which the index holds, and a sample of the rest.
const maxCheckedPacks = 200

// checkCommand checks the commands at ledger positions after..last, just
// committed: every item, product and recall they added or changed has a
// seq in that range and none was deleted; then it publishes their changes
// to the index and compares the index's answers with the projection's.
func (l *ledger) checkCommand(after, last uint64) {
	t, ok := l.t.(*testing.T)
	if !ok || l.index == nil {
		return
	}
	t.Helper()
	cur := readProjectionRows(t, l)
	inRange := func(seq uint64) bool { return seq > after && seq <= last }
	for id, it := range cur.items {
		if old, ok := l.last.items[id]; (!ok || !reflect.DeepEqual(old, it)) && !inRange(it.Seq) {
			t.Fatalf("commands %d..%d wrote item %s with seq %d:\nbefore %+v\nafter  %+v", after+1, last, it.Key, it.Seq, old, it)
		}
	}
	for id, it := range l.last.items {
		if _, ok := cur.items[id]; !ok {
			t.Fatalf("commands %d..%d deleted item %s", after+1, last, it.Key)
		}
	}
	for g, p := range cur.products {
		if old, ok := l.last.products[g]; (!ok || old != p) && !inRange(p.Seq) {
			t.Fatalf("commands %d..%d wrote product %s with seq %d", after+1, last, g, p.Seq)
		}
	}
	for id, r := range cur.recalls {
		if old, ok := l.last.recalls[id]; (!ok || old != r) && !inRange(r.Seq) {
			t.Fatalf("commands %d..%d wrote the recall of %s %s with seq %d", after+1, last, r.GTIN, r.Lot, r.Seq)
		}
	}
	if len(cur.products) < len(l.last.products) || len(cur.recalls) < len(l.last.recalls) {
		t.Fatalf("commands %d..%d deleted products or recalls", after+1, last)
	}
	l.last = cur

	changes, err := ChangesSince(l.db, after)
	if err != nil {
		t.Fatal(err)
	}
	l.index.Publish(changes)
	l.compareIndex(t, l.index, cur)
}

// compareIndex fails t when ix answers differently from the projection
// for any product, for an unregistered GTIN, or for a checked pack.
func (l *ledger) compareIndex(t *testing.T, ix *VerifyIndex, cur projectionRows) {
	t.Helper()
	check := func(gtin, serial string, mustHold bool) {
		t.Helper()
		got, ok := ix.rows(gtin, serial)
		if !ok {
			if mustHold {
				t.Fatalf("the index does not answer for %s %q", gtin, serial)
			}
			return
		}
		want, err := readVerifyRows(l.db, gtin, serial)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("the index's rows for %s %q differ from the projection's:\nindex      %s\nprojection %s", gtin, serial, dumpRows(got), dumpRows(want))
		}
	}
	for g := range cur.products {
		check(g, "", true)
		check(g, "NO-SUCH-SERIAL", false)
	}
	check("09999999999994", "X", true) // no such product
	var packs []Item
	for _, it := range cur.items {
		if it.Kind == ItemPack {
			packs = append(packs, it)
		}
	}
	slices.SortFunc(packs, func(a, b Item) int { return cmp.Compare(b.Seq, a.Seq) })
	// The index holds the newest packs: every pack changed after the
	// oldest it can hold; of those changed together with that one, which
	// it evicted is its choice.
	var threshold uint64
	if len(packs) >= ix.MaxPacks() {
		threshold = packs[ix.MaxPacks()-1].Seq
	}
	for i, it := range packs {
		if i < maxCheckedPacks/2 || i%(len(packs)/(maxCheckedPacks/2)+1) == 0 {
			check(it.GTIN, it.Serial, it.Seq > threshold)
		}
	}
}

func dumpRows(r verifyRows) string {
	s := ""
	if r.product != nil {
		s += fmt.Sprintf("product %+v ", *r.product)
	}
	if r.pack != nil {
		s += fmt.Sprintf("pack %+v ", *r.pack)
	}
	if r.recall != nil {
		s += fmt.Sprintf("recall %+v", *r.recall)
	}
	return s
}

// resync makes the checks take the projection as it is, after a test
// changed it by hand rather than by a command.
func (l *ledger) resync() {
	l.t.Helper()
	l.last = readProjectionRows(l.t, l)
	if err := l.index.Load(l.db); err != nil {
		l.t.Fatal(err)
	}
}

// checkIndexLoads checks, when a test ends, that an index loaded from the
// projection answers as the one kept up to date command by command.
func (l *ledger) checkIndexLoads() {
	t, ok := l.t.(*testing.T)
	if !ok || l.index == nil || t.Failed() {
		return
	}
	loaded := NewVerifyIndex(testIndexPacks)
	if err := loaded.Load(l.db); err != nil {
		t.Fatal(err)
	}
	l.compareIndex(t, loaded, readProjectionRows(t, l))
}

// mustSameChanges fails t unless got and want publish the same rows: the
// same products and recalls, and for each pack the same last row.
func mustSameChanges(t *testing.T, got, want IndexChanges) {
	t.Helper()
	type published struct {
		products map[string]Product
		recalls  map[lotKey]Recall
		packs    map[string]Item
	}
	effect := func(c IndexChanges) published {
		p := published{map[string]Product{}, map[lotKey]Recall{}, map[string]Item{}}
		for _, x := range c.products {
			p.products[x.GTIN] = x
		}
		for _, x := range c.recalls {
			p.recalls[lotKey{x.GTIN, x.Lot}] = x
		}
		for _, x := range c.packs {
			p.packs[x.Key] = x
		}
		return p
	}
	g, w := effect(got), effect(want)
	if !reflect.DeepEqual(g.products, w.products) || !reflect.DeepEqual(g.recalls, w.recalls) {
		t.Fatalf("the batch reports products %v and recalls %v; the projection has %v and %v", g.products, g.recalls, w.products, w.recalls)
	}
	for k, it := range w.packs {
		if b, ok := g.packs[k]; !ok || !reflect.DeepEqual(b, it) {
			t.Fatalf("pack %s: the batch reports %+v (reported: %v), the projection has %+v", k, b, ok, it)
		}
	}
	if len(g.packs) != len(w.packs) {
		t.Fatalf("the batch reports %d packs, the projection changed %d", len(g.packs), len(w.packs))
	}
}
