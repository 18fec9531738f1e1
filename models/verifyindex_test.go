package models

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// TestVerifyIndexEvictsOldestAndFallsBack: an index smaller than the
// ledger holds the packs changed last, and a pack it dropped is still
// verified, from the projection, with the same answer.
func TestVerifyIndexEvictsOldestAndFallsBack(t *testing.T) {
	l := newLedger(t)
	l.network()
	var epcs []string
	for i := range 5 {
		epcs = append(epcs, sgtinDL(gtinA, fmt.Sprintf("E%d", i)))
		l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", epcs[i]))
	}
	small := NewVerifyIndex(2)
	if err := small.Load(l.db); err != nil {
		t.Fatal(err)
	}
	if small.Len() != 2 {
		t.Fatalf("index holds %d packs, want 2", small.Len())
	}
	at := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	for i := range 5 {
		serial := fmt.Sprintf("E%d", i)
		_, held := small.rows(gtinA, serial)
		if held != (i >= 3) {
			t.Fatalf("pack %s held = %v; the index should hold the two commissioned last", serial, held)
		}
		req := VerifyRequest{Scan: scan(gtinA, serial, "L1", "281231"), Pharmacy: glnMaker, Time: at, Signature: SignatureValid, KeyOwner: glnMaker}
		want, err := Verify(l.db, req)
		if err != nil {
			t.Fatal(err)
		}
		got, fromIndex, err := small.Verify(req)
		if err != nil || fromIndex != (i >= 3) || fromIndex && !reflect.DeepEqual(got, want) || want.Verdict != VerdictAuthentic {
			t.Fatalf("pack %s: from the index %+v, %v, %v; from the projection %+v", serial, got, fromIndex, err, want)
		}
	}
	// A change brings a dropped pack back and drops the oldest one held.
	before := l.seq
	l.capture(glnMaker, l.shipEv(glnWholesal, epcs[0]))
	changes, err := ChangesSince(l.db, before)
	if err != nil {
		t.Fatal(err)
	}
	small.Publish(changes)
	if _, held := small.rows(gtinA, "E0"); !held {
		t.Fatal("the pack changed last is not held")
	}
	if _, held := small.rows(gtinA, "E3"); held || small.Len() != 2 {
		t.Fatalf("the index holds %d packs, E3 among them; want E4 and E0", small.Len())
	}
}

// TestVerifyIndexUnloadedReadsTheProjection: until Load, an index answers
// nothing itself, not even that a product is unknown, and neither does a
// nil index; an unreadable scan is an error, as from Verify.
func TestVerifyIndexUnloadedReadsTheProjection(t *testing.T) {
	l := newLedger(t)
	l.network()
	l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", sgtinDL(gtinA, "U1")))
	ix := NewVerifyIndex(10)
	for _, serial := range []string{"", "U1"} {
		if _, ok := ix.rows(gtinA, serial); ok {
			t.Fatalf("an unloaded index answers for %q", serial)
		}
	}
	if _, ok := ix.rows("09999999999994", "X"); ok {
		t.Fatal("an unloaded index says a product is unknown")
	}
	req := VerifyRequest{Scan: scan(gtinA, "U1", "L1", "281231"), Signature: SignatureValid, KeyOwner: glnMaker}
	for _, ix := range []*VerifyIndex{ix, nil} {
		if v, ok, err := ix.Verify(req); ok || err != nil {
			t.Fatalf("an unloaded or nil index answered: %+v, %v", v, err)
		}
	}
	if _, _, err := ix.Verify(VerifyRequest{Scan: gs1.ElementString{{AI: "21", Value: "X"}}}); err == nil {
		t.Fatal("a scan without a GTIN is not an error")
	}
}

// TestVerifyIndexUnloadedTakesNothingUntilLoaded: an unloaded index (as a
// snapshot restore leaves it) ignores what is published meanwhile, and
// answers again, with everything, once loaded.
func TestVerifyIndexUnloadedTakesNothingUntilLoaded(t *testing.T) {
	l := newLedger(t)
	l.network()
	l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", sgtinDL(gtinA, "U1")))
	ix := NewVerifyIndex(10)
	if err := ix.Load(l.db); err != nil {
		t.Fatal(err)
	}
	req := VerifyRequest{Scan: scan(gtinA, "U1", "L1", "281231"), Signature: SignatureValid, KeyOwner: glnMaker}
	if _, ok, _ := ix.Verify(req); !ok {
		t.Fatal("the premise: a loaded index answers")
	}
	ix.Unload()
	changes, err := ChangesSince(l.db, 0)
	if err != nil || changes.Len() == 0 {
		t.Fatalf("changes %d, %v", changes.Len(), err)
	}
	ix.Publish(changes) // an apply after a failed restore
	if v, ok, err := ix.Verify(req); ok || err != nil {
		t.Fatalf("an unloaded index answered: %+v, %v", v, err)
	}
	if err := ix.Load(l.db); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := ix.Verify(req); !ok || v.Verdict != VerdictAuthentic {
		t.Fatalf("a reloaded index: %+v, %v", v, ok)
	}
}

// TestVerifyIndexOrderStaysBounded: a pack changed again and again leaves
// outdated eviction entries behind; they are dropped, so the index's
// bookkeeping stays proportional to the packs it holds.
func TestVerifyIndexOrderStaysBounded(t *testing.T) {
	ix := NewVerifyIndex(4)
	ix.loaded = true
	ix.products, ix.recalls, ix.packs = map[string]*Product{}, map[lotKey]*Recall{}, map[string]*Item{}
	for seq := uint64(1); seq <= 10000; seq++ {
		ix.Publish(IndexChanges{packs: []Item{{Key: PackKey(gtinA, fmt.Sprint(seq%3)), Kind: ItemPack, Seq: seq}}})
	}
	if ix.Len() != 3 {
		t.Fatalf("index holds %d packs, want 3", ix.Len())
	}
	if n := len(ix.order); n > 2*3+1024 {
		t.Fatalf("eviction list has %d entries for 3 packs", n)
	}
	for i := range 3 {
		if it := ix.packs[PackKey(gtinA, fmt.Sprint(i))]; it == nil || it.Seq < 9997 {
			t.Fatalf("pack %d is %+v, want its last change", i, it)
		}
	}
}
