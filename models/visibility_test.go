package models

import "testing"

// TestWhoReadsALedgerEntry: a whole entry goes to its writer, regulators,
// admins, and an organisation that sees every event the entry captured;
// nobody else, since an entry is served whole or not at all.
func TestWhoReadsALedgerEntry(t *testing.T) {
	l := newLedger(t)
	l.network()
	products := l.seq // the last registration, a product of the maker's
	packs := []string{sgtinDL(gtinA, "V1"), sgtinDL(gtinA, "V2")}
	l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", packs...), l.shipEv(glnWholesal, packs...))
	shipped := l.seq
	l.capture(glnWholesal, l.observeEv("receiving", packs...))
	received := l.seq

	// The wholesaler records an inspection at the pharmacy's premises, and
	// then one there and one at its own.
	atPharmacy := func() Event {
		e := l.observeEv("inspecting", packs[0])
		e.BizLocation = glnURN(glnPharmacy)
		return e
	}
	l.capture(glnWholesal, atPharmacy())
	onlyAtPharmacy := l.seq
	l.capture(glnWholesal, atPharmacy(), l.observeEv("inspecting", packs[1]))
	partlyAtPharmacy := l.seq
	l.captureReject(CodeNotCustodian, glnPharmacy, l.shipEv(glnPharm2, packs[0]))
	rejected := l.seq

	maker := Viewer{Org: glnMaker, Role: RoleManufacturer}
	wholesaler := Viewer{Org: glnWholesal, Role: RoleWholesaler}
	pharmacy := Viewer{Org: glnPharmacy, Role: RolePharmacy}
	otherPharmacy := Viewer{Org: glnPharm2, Role: RolePharmacy}
	regulator := Viewer{Org: glnReg, Role: RoleRegulator}
	admin := Viewer{Org: "admin", Role: RoleAdmin}
	for _, tc := range []struct {
		name  string
		seq   uint64
		actor string
		sees  []Viewer
		not   []Viewer
	}{
		{"a product registration", products, glnMaker, []Viewer{maker, regulator, admin}, []Viewer{wholesaler, pharmacy}},
		{"a shipment", shipped, glnMaker, []Viewer{maker, regulator, admin}, []Viewer{wholesaler, pharmacy}},
		{"a receipt", received, glnWholesal, []Viewer{wholesaler, regulator}, []Viewer{maker, pharmacy}},
		{"another's capture at one's premises", onlyAtPharmacy, glnWholesal, []Viewer{wholesaler, pharmacy, regulator}, []Viewer{otherPharmacy, maker}},
		{"another's capture partly at one's premises", partlyAtPharmacy, glnWholesal, []Viewer{wholesaler, admin}, []Viewer{pharmacy, maker}},
		{"a rejected capture", rejected, glnPharmacy, []Viewer{pharmacy, regulator}, []Viewer{wholesaler, otherPharmacy}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range tc.sees {
				if ok, err := v.SeesEntry(l.db, tc.seq, tc.actor); err != nil || !ok {
					t.Errorf("%s (%s) may not read entry %d: %v", v.Org, v.Role, tc.seq, err)
				}
			}
			for _, v := range tc.not {
				if ok, err := v.SeesEntry(l.db, tc.seq, tc.actor); err != nil || ok {
					t.Errorf("%s (%s) reads entry %d: %v", v.Org, v.Role, tc.seq, err)
				}
			}
		})
	}
}
