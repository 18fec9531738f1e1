package models

import (
	"errors"
	"slices"
	"testing"
)

// seqsOf lists the ledger positions of a history.
func seqsOf(h []HistoryEntry) []uint64 {
	out := make([]uint64, len(h))
	for i, e := range h {
		out[i] = e.Seq
	}
	return out
}

// TestChainOfCustody checks a pack's, a lot's and a case's chain of custody
// per viewer: the same events as the History functions for a regulator,
// only its own trade for a trading partner, ErrNotFound for a subject that
// is unknown or, to the viewer, invisible, and the limit.
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
	packHist, err1 := PackHistory(l.db, gtinA, "K1")
	lotHist, err2 := LotHistory(l.db, gtinA, "L1", 0)
	boxHist, err3 := ContainerHistory(l.db, box)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	if len(packHist) != 6 || len(lotHist) != 6 || len(boxHist) != 4 {
		t.Fatalf("fixture histories: pack %d, lot %d, case %d", len(packHist), len(lotHist), len(boxHist))
	}
	regulator := &Viewer{Org: glnReg, Role: RoleRegulator}
	for _, tc := range []struct {
		name  string
		s     Subject
		items int
		want  []HistoryEntry
	}{
		{"pack", pack, 1, packHist},     // commissioning, packing, shipping, receiving, unpacking, shipping, receiving
		{"lot", lot, 2, lotHist},        // every event
		{"case", container, 1, boxHist}, // packing, shipping, receiving, unpacking
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range []*Viewer{nil, regulator} {
				c, err := ChainOfCustody(l.db, tc.s, CustodyQuery{Viewer: v})
				if err != nil {
					t.Fatal(err)
				}
				if len(c.Items) != tc.items || c.Truncated || len(tc.want) < 4 || !slices.Equal(seqsOf(c.Events), seqsOf(tc.want)) {
					t.Fatalf("viewer %v: %d items, events %v, want %v", v, len(c.Items), seqsOf(c.Events), seqsOf(tc.want))
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
		{"the wholesaler's pack", pack, Viewer{Org: glnWholesal, Role: RoleWholesaler}, 2},
		{"the maker's case", container, Viewer{Org: glnMaker, Role: RoleManufacturer}, 2},
		{"the wholesaler's lot", lot, Viewer{Org: glnWholesal, Role: RoleWholesaler}, 2},
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
	c, err := ChainOfCustody(l.db, pack, CustodyQuery{Limit: 3})
	if err != nil || !c.Truncated || !slices.Equal(seqsOf(c.Events), seqsOf(packHist[:3])) {
		t.Fatalf("limit 3: %v truncated %v, %v", seqsOf(c.Events), c.Truncated, err)
	}
	if c, err := ChainOfCustody(l.db, pack, CustodyQuery{Limit: len(packHist)}); err != nil || c.Truncated || len(c.Events) != len(packHist) {
		t.Fatalf("limit at the length: %d events, truncated %v, %v", len(c.Events), c.Truncated, err)
	}
	if _, err := PackSubject("123", "X"); err == nil {
		t.Fatal("a bad GTIN made a subject")
	}
}
