package models

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestRegisterProductAndKey(t *testing.T) {
	l := newLedger(t)
	l.network()
	var p Product
	if err := l.db.Where("gtin = ?", gtinA).Take(&p).Error; err != nil || p.Manufacturer != glnMaker || !p.Signed {
		t.Fatalf("product = %+v, %v", p, err)
	}
	// A GTIN-13 is stored as GTIN-14.
	l.mustApply(glnMaker, KindRegisterProduct, RegisterProductPayload{GTIN: gtinUnreg[1:], Name: "Short form"})
	var short Product
	if err := l.db.Where("gtin = ?", gtinUnreg).Take(&short).Error; err != nil {
		t.Fatalf("GTIN-13 not stored as GTIN-14: %v", err)
	}
	p256, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ed := mustKeyPair(t)
	l.mustApply(glnMaker, KindRegisterKey, RegisterKeyPayload{KeyID: KeyID(AlgEd25519, ed), Algorithm: AlgEd25519, PublicKey: ed})
	p256ID := KeyID(AlgECDSAP256, p256.PublicKey().Bytes())
	l.mustApply(adminID, KindRegisterKey, RegisterKeyPayload{KeyID: p256ID, OrgID: glnMaker, Algorithm: AlgECDSAP256, PublicKey: p256.PublicKey().Bytes()})
	k, err := LookupKey(l.db, p256ID)
	if err != nil || k.OrgID != glnMaker || k.Algorithm != AlgECDSAP256 {
		t.Fatalf("LookupKey = %+v, %v", k, err)
	}
	// A P-256 key in compressed form has the id of its uncompressed point,
	// and the key in its other form is the same key again.
	comp, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	compFull := comp.PublicKey().Bytes()
	x, y := new(big.Int).SetBytes(compFull[1:33]), new(big.Int).SetBytes(compFull[33:])
	compKey := elliptic.MarshalCompressed(elliptic.P256(), x, y)
	l.mustApply(glnMaker, KindRegisterKey, RegisterKeyPayload{KeyID: KeyID(AlgECDSAP256, compFull), Algorithm: AlgECDSAP256, PublicKey: compKey})
	l.mustReject(CodeConflict, glnMaker, KindRegisterKey, RegisterKeyPayload{KeyID: KeyID(AlgECDSAP256, compFull), Algorithm: AlgECDSAP256, PublicKey: compFull})
	other, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := other.PublicKey().Bytes()
	otherID := KeyID(AlgECDSAP256, otherKey)
	ed2 := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	for _, tc := range []struct {
		name  string
		actor string
		kind  CommandKind
		p     any
		code  string
	}{
		{"product bad check digit", glnMaker, KindRegisterProduct, RegisterProductPayload{GTIN: "04012345123450", Name: "X"}, CodeBadPayload},
		{"product no name", glnMaker, KindRegisterProduct, RegisterProductPayload{GTIN: mkKey("0401234577777")}, CodeBadPayload},
		{"product of another prefix", glnMaker, KindRegisterProduct, RegisterProductPayload{GTIN: mkKey("0501234577777"), Name: "X"}, CodeNotYourPrefix},
		{"product for another maker", glnMaker, KindRegisterProduct, RegisterProductPayload{GTIN: mkKey("0501234577777"), Name: "X", Manufacturer: glnMaker2}, CodeForbidden},
		{"product by wholesaler", glnWholesal, KindRegisterProduct, RegisterProductPayload{GTIN: mkKey("0401234577777"), Name: "X"}, CodeForbidden},
		{"product twice", glnMaker, KindRegisterProduct, RegisterProductPayload{GTIN: gtinA, Name: "X"}, CodeConflict},
		{"key by pharmacy", glnPharmacy, KindRegisterKey, RegisterKeyPayload{KeyID: otherID, Algorithm: AlgECDSAP256, PublicKey: otherKey}, CodeForbidden},
		{"key for another org", glnMaker2, KindRegisterKey, RegisterKeyPayload{KeyID: otherID, OrgID: glnMaker, Algorithm: AlgECDSAP256, PublicKey: otherKey}, CodeForbidden},
		{"key short", glnMaker, KindRegisterKey, RegisterKeyPayload{KeyID: "X2", Algorithm: AlgEd25519, PublicKey: []byte{1, 2}}, CodeBadPayload},
		{"key not on curve", glnMaker, KindRegisterKey, RegisterKeyPayload{KeyID: "X3", Algorithm: AlgECDSAP256, PublicKey: append([]byte{4}, make([]byte, 64)...)}, CodeBadPayload},
		{"key bad algorithm", glnMaker, KindRegisterKey, RegisterKeyPayload{KeyID: "X4", Algorithm: "rsa", PublicKey: mustKeyPair(t)}, CodeBadPayload},
		{"key id not derived from the key", glnMaker, KindRegisterKey, RegisterKeyPayload{KeyID: "AC1", Algorithm: AlgECDSAP256, PublicKey: otherKey}, CodeBadPayload},
		{"key id of the other algorithm", glnMaker, KindRegisterKey, RegisterKeyPayload{KeyID: KeyID(AlgEd25519, otherKey), Algorithm: AlgECDSAP256, PublicKey: otherKey}, CodeBadPayload},
		// A registered key's id, taken for another key before its owner
		// registers it, would block the owner: an id belongs to its key.
		{"another key's id", glnMaker2, KindRegisterKey, RegisterKeyPayload{KeyID: otherID, Algorithm: AlgEd25519, PublicKey: ed2}, CodeBadPayload},
		{"key twice", glnMaker, KindRegisterKey, RegisterKeyPayload{KeyID: KeyID(AlgEd25519, ed), Algorithm: AlgEd25519, PublicKey: ed}, CodeConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l.t = t
			l.mustReject(tc.code, tc.actor, tc.kind, tc.p)
		})
	}
}

func TestCommission(t *testing.T) {
	l := newLedger(t)
	l.network()
	pack := sgtinURN(gtinA, "S1")
	l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", pack, ssccDL(1)))
	it := l.mustItem(PackKey(gtinA, "S1"))
	if it.Status != StatusActive || it.Holder != glnMaker || it.Lot != "L1" || it.Expiry != "2028-12-31" || it.Kind != ItemPack {
		t.Fatalf("commissioned pack = %+v", it)
	}
	tests := []struct {
		name  string
		actor string
		ev    Event
		code  string
	}{
		{"by a wholesaler", glnWholesal, l.commissionEv("L1", "2028-12-31", sgtinDL(gtinA, "W1")), CodeForbidden},
		{"under another maker's prefix", glnMaker2, l.commissionEv("L1", "2028-12-31", sgtinDL(gtinA, "W2")), CodeNotYourPrefix},
		{"unregistered product", glnMaker, l.commissionEv("L1", "2028-12-31", sgtinDL(gtinUnreg, "W3")), CodeUnknownProduct},
		{"twice", glnMaker, l.commissionEv("L1", "2028-12-31", sgtinDL(gtinA, "S1")), CodeAlreadyExists},
		{"without lot", glnMaker, l.commissionEv("", "2028-12-31", sgtinDL(gtinA, "W4")), CodeBadPayload},
		{"by unknown actor", "4055555000001", l.commissionEv("L1", "2028-12-31", sgtinDL(gtinA, "W5")), CodeUnknownActor},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l.t = t
			l.captureReject(tc.code, tc.actor, tc.ev)
		})
	}
	l.t = t
	ev := l.commissionEv("L1", "2028-12-31", sgtinDL(gtinA, "W6"))
	ev.Disposition = "recalled"
	l.captureReject(CodeUnsupportedEvent, glnMaker, ev)
	ev = l.commissionEv("L1", "2028-12-31", sgtinDL(gtinA, "W8"))
	ev.BizStep = "receiving"
	l.captureReject(CodeUnsupportedEvent, glnMaker, ev)
	l.mustReject(CodeForbidden, "", KindCaptureEvents, CaptureEventsPayload{Events: []Event{l.commissionEv("L1", "2028-12-31", sgtinDL(gtinA, "W7"))}})
}

func TestCaptureIsAllOrNothing(t *testing.T) {
	l := newLedger(t)
	l.network()
	a, b := sgtinDL(gtinA, "A1"), sgtinDL(gtinA, "A2")
	// The third event names a pack nobody commissioned.
	l.captureReject(CodeUnknownItem, glnMaker,
		l.commissionEv("L1", "2028-12-31", a, b),
		l.shipEv(glnWholesal, a),
		l.observeEv("inspecting", sgtinDL(gtinA, "S-other")),
	)
	if l.itemExists(PackKey(gtinA, "A1")) || l.itemExists(PackKey(gtinA, "A2")) {
		t.Fatal("a rejected batch left packs behind")
	}
	var n int64
	l.db.Model(&EventRecord{}).Count(&n)
	if n != 0 {
		t.Fatalf("a rejected batch left %d events", n)
	}
	// The same batch, corrected, is accepted and returns the event ids.
	res := l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", a, b), l.shipEv(glnWholesal, a))
	if len(res.Data) == 0 {
		t.Fatal("no event ids in the result")
	}
	// A client's eventID is kept; the same id twice is a conflict.
	ev := l.observeEv("inspecting", b)
	ev.EventID = "urn:uuid:6f0c6a2e-0000-4000-8000-000000000001"
	l.capture(glnMaker, ev)
	ev2 := l.observeEv("inspecting", b)
	ev2.EventID = ev.EventID
	l.captureReject(CodeConflict, glnMaker, ev2)
}

func TestShipAndReceive(t *testing.T) {
	l := newLedger(t)
	l.network()
	p1, p2 := sgtinDL(gtinA, "P1"), sgtinDL(gtinA, "P2")
	l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", p1, p2))
	for _, tc := range []struct {
		name  string
		actor string
		ev    Event
		code  string
	}{
		{"without destination", glnMaker, l.shipEv("", p1), CodeBadPayload},
		{"to an unknown organisation", glnMaker, l.shipEv("4055555000001", p1), CodeNotFound},
		{"to itself", glnMaker, l.shipEv(glnMaker, p1), CodeBadPayload},
		{"by someone who does not hold it", glnWholesal, l.shipEv(glnPharmacy, p1), CodeNotCustodian},
		{"receive what was not shipped", glnWholesal, l.observeEv("receiving", p1), CodeNotInTransit},
		{"ship unknown pack", glnMaker, l.shipEv(glnWholesal, sgtinDL(gtinA, "nope")), CodeUnknownItem},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l.t = t
			l.captureReject(tc.code, tc.actor, tc.ev)
		})
	}
	l.t = t
	l.capture(glnMaker, l.shipEv(glnWholesal, p1, p2))
	if it := l.mustItem(PackKey(gtinA, "P1")); it.Status != StatusInTransit || it.Destination != glnWholesal || it.Holder != glnMaker {
		t.Fatalf("shipped pack = %+v", it)
	}
	// Receipt by someone else is rejected and raises an alert.
	l.captureReject(CodeNotDestination, glnPharmacy, l.observeEv("receiving", p1))
	alerts, err := ListAlerts(l.db, AlertQuery{})
	if err != nil || len(alerts) != 1 || alerts[0].Verdict != AlertWrongReceiver || alerts[0].Actor != glnPharmacy {
		t.Fatalf("alerts = %+v, %v", alerts, err)
	}
	l.capture(glnWholesal, l.observeEv("receiving", p1))
	if it := l.mustItem(PackKey(gtinA, "P1")); it.Status != StatusActive || it.Holder != glnWholesal || it.Destination != "" {
		t.Fatalf("received pack = %+v", it)
	}
	// The shipper may void a shipment still in transit, and only then.
	l.captureReject(CodeNotCustodian, glnWholesal, l.observeEv("void_shipping", p2))
	l.capture(glnMaker, l.observeEv("void_shipping", p2))
	if it := l.mustItem(PackKey(gtinA, "P2")); it.Status != StatusActive || it.Destination != "" {
		t.Fatalf("voided pack = %+v", it)
	}
	// An observation by someone who does not hold the pack is refused.
	l.captureReject(CodeNotCustodian, glnMaker, l.observeEv("inspecting", p1))
	l.capture(glnWholesal, l.observeEv("inspecting", p1))
}

func TestAggregation(t *testing.T) {
	l := newLedger(t)
	l.network()
	var packs []string
	for _, s := range []string{"C1", "C2", "C3", "C4"} {
		packs = append(packs, sgtinDL(gtinA, s))
	}
	caseA, caseB, pallet := ssccDL(1), ssccDL(2), ssccDL(3)
	l.capture(glnMaker,
		l.commissionEv("L1", "2028-12-31", packs...),
		l.packEv(caseA, packs[0], packs[1]),
		l.packEv(caseB, packs[2]),
		l.packEv(pallet, caseA, caseB),
	)
	if it := l.mustItem(PackKey(gtinA, "C1")); it.ParentID != l.mustItem(keyOf(caseA)).ID {
		t.Fatalf("pack not in its case: %+v", it)
	}
	for _, tc := range []struct {
		name string
		ev   Event
		code string
	}{
		{"pack already in another case", l.packEv(caseB, packs[0]), CodeInContainer},
		{"cycle", l.packEv(caseA, pallet), CodeBadPayload},
		{"ship a pack inside a case", l.shipEv(glnWholesal, packs[0]), CodeInContainer},
		{"unpack a pack not in the case", l.unpackEv(caseA, packs[3]), CodeBadPayload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l.t = t
			l.captureReject(tc.code, glnMaker, tc.ev)
		})
	}
	l.t = t
	// Shipping the pallet moves everything inside it.
	l.capture(glnMaker, l.shipEv(glnWholesal, pallet))
	for _, k := range []string{PackKey(gtinA, "C1"), PackKey(gtinA, "C3"), keyOf(caseA), keyOf(pallet)} {
		if it := l.mustItem(k); it.Status != StatusInTransit || it.Destination != glnWholesal {
			t.Fatalf("%s after pallet shipping = %+v", k, it)
		}
	}
	if it := l.mustItem(PackKey(gtinA, "C4")); it.Status != StatusActive {
		t.Fatalf("loose pack moved with the pallet: %+v", it)
	}
	l.captureReject(CodeNotDestination, glnPharmacy, l.observeEv("receiving", pallet))
	l.capture(glnWholesal, l.observeEv("receiving", pallet))
	for _, k := range []string{PackKey(gtinA, "C2"), keyOf(caseB)} {
		if it := l.mustItem(k); it.Status != StatusActive || it.Holder != glnWholesal {
			t.Fatalf("%s after pallet receipt = %+v", k, it)
		}
	}
	// The pack's history holds the pallet's shipping and receiving.
	c1, err := PackSubject(gtinA, "C1")
	if err != nil {
		t.Fatal(err)
	}
	if steps, want := stepsOf(custodyEvents(t, l.db, c1)), []string{"commissioning", "packing", "shipping", "receiving"}; !equalStrings(steps, want) {
		t.Fatalf("pack history steps = %v, want %v", steps, want)
	}
	// Unpacking all of the pallet, then one pack of a case.
	l.capture(glnWholesal, l.unpackEv(pallet), l.unpackEv(caseA, packs[0]))
	if it := l.mustItem(keyOf(caseA)); it.ParentID != 0 {
		t.Fatalf("case still on the pallet: %+v", it)
	}
	if it := l.mustItem(PackKey(gtinA, "C1")); it.ParentID != 0 {
		t.Fatalf("pack still in the case: %+v", it)
	}
	if it := l.mustItem(PackKey(gtinA, "C2")); it.ParentID == 0 {
		t.Fatalf("other pack left the case: %+v", it)
	}
	// Now the loose pack ships alone.
	l.capture(glnWholesal, l.shipEv(glnPharmacy, packs[0]))
	if ch := custodyEvents(t, l.db, ContainerSubject(pallet)); len(ch) != 4 { // packing, shipping, receiving, unpacking
		t.Fatalf("container history = %d entries", len(ch))
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDispenseAndDecommission(t *testing.T) {
	l := newLedger(t)
	l.network()
	epcs := l.supplyChain("D1", "D2", "D3", "D4")
	dispense := func() Event { return l.observeEv("dispensing", epcs[0]) }
	l.captureReject(CodeNotCustodian, glnPharm2, dispense())
	l.capture(glnPharmacy, dispense())
	it := l.mustItem(PackKey(gtinA, "D1"))
	if it.Status != StatusDispensed || it.DecommissionedBy != glnPharmacy || it.DecommissionedAt == nil || !it.SuppliedToPublic {
		t.Fatalf("dispensed pack = %+v", it)
	}
	// Double dispense.
	l.captureReject(CodeInactive, glnPharmacy, dispense())
	l.mustReject(CodeInactive, glnPharmacy, KindDecommission, DecommissionPayload{EPCs: epcs[:1], Status: StatusDispensed})

	for _, tc := range []struct {
		name  string
		actor string
		p     DecommissionPayload
		code  string
	}{
		{"bad status", glnPharmacy, DecommissionPayload{EPCs: epcs[1:2], Status: "active"}, CodeBadPayload},
		{"not the holder", glnPharm2, DecommissionPayload{EPCs: epcs[1:2], Status: StatusLocked}, CodeNotCustodian},
		{"no packs", glnPharmacy, DecommissionPayload{Status: StatusLocked}, CodeBadPayload},
		{"a pack twice", glnPharmacy, DecommissionPayload{EPCs: []string{epcs[1], sgtinURN(gtinA, "D2")}, Status: StatusLocked}, CodeBadPayload},
		{"unknown pack", glnPharmacy, DecommissionPayload{EPCs: []string{sgtinDL(gtinA, "none")}, Status: StatusLocked}, CodeUnknownItem},
		{"a container", glnPharmacy, DecommissionPayload{EPCs: []string{ssccDL(9)}, Status: StatusLocked}, CodeBadPayload},
		{"supplied to public without dispense", glnPharmacy, DecommissionPayload{EPCs: epcs[1:2], Status: StatusSample, SuppliedToPublic: true}, CodeBadPayload},
		{"bad location", glnPharmacy, DecommissionPayload{EPCs: epcs[1:2], Status: StatusLocked, Location: "here"}, CodeBadPayload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l.t = t
			l.mustReject(tc.code, tc.actor, KindDecommission, tc.p)
		})
	}
	l.t = t
	// Locked, then destroyed; destroyed is final.
	l.mustApply(glnPharmacy, KindDecommission, DecommissionPayload{EPCs: epcs[1:2], Status: StatusLocked})
	l.mustApply(glnPharmacy, KindDecommission, DecommissionPayload{EPCs: epcs[1:2], Status: StatusDestroyed})
	l.mustReject(CodeFinal, glnPharmacy, KindDecommission, DecommissionPayload{EPCs: epcs[1:2], Status: StatusStolen})
	l.mustReject(CodeFinal, glnPharmacy, KindUndoDecommission, UndoDecommissionPayload{EPCs: epcs[1:2]})
	// Stolen by event, final too.
	ev := l.observeEv("decommissioning", epcs[2])
	ev.Disposition = "stolen"
	l.capture(glnPharmacy, ev)
	if it := l.mustItem(PackKey(gtinA, "D3")); it.Status != StatusStolen {
		t.Fatalf("stolen pack = %+v", it)
	}
	l.captureReject(CodeFinal, glnPharmacy, l.observeEv("destroying", epcs[2]))
	// A wholesaler does not dispense.
	epcsW := []string{sgtinDL(gtinA, "W1")}
	l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", epcsW...), l.shipEv(glnWholesal, epcsW...))
	l.capture(glnWholesal, l.observeEv("receiving", epcsW...))
	l.captureReject(CodeForbidden, glnWholesal, l.observeEv("dispensing", epcsW...))
}

func TestUndoDecommission(t *testing.T) {
	l := newLedger(t)
	l.network()
	epcs := l.supplyChain("U1", "U2", "U3", "U4", "U5", "U6", "U7")
	shortLived := sgtinDL(gtinA, "U8")
	l.capture(glnMaker, l.commissionEv("L2", "2026-03-01", shortLived), l.shipEv(glnPharmacy, shortLived))
	l.capture(glnPharmacy, l.observeEv("receiving", shortLived))
	dec := func(epc string, status Status, loc string, public bool) {
		l.t.Helper()
		l.mustApply(glnPharmacy, KindDecommission, DecommissionPayload{EPCs: []string{epc}, Status: status, Location: loc, SuppliedToPublic: public})
	}
	dec(epcs[0], StatusDispensed, "", false)
	dec(epcs[1], StatusDispensed, "", false)
	dec(epcs[2], StatusDispensed, glnURN(glnPharmacy), false)
	dec(epcs[3], StatusDispensed, "", true)
	dec(epcs[4], StatusSample, "", false)
	dec(epcs[5], StatusLocked, "", false)
	dec(shortLived, StatusLocked, "", false)
	l.mustApply(glnMaker, KindRecall, RecallPayload{GTIN: gtinA, Lot: "L1", Reason: "impurity"})

	l.tick(24 * time.Hour)
	undo := func(epc, loc string) UndoDecommissionPayload {
		return UndoDecommissionPayload{EPCs: []string{epc}, Location: loc}
	}
	for _, tc := range []struct {
		name  string
		actor string
		p     UndoDecommissionPayload
		code  string
	}{
		{"by another organisation", glnPharm2, undo(epcs[0], ""), CodeUndoOtherOrg},
		{"at other premises", glnPharmacy, undo(epcs[2], glnPharm2), CodeUndoOtherOrg},
		{"supplied to the public", glnPharmacy, undo(epcs[3], ""), CodeUndoNotAllowed},
		{"recalled lot", glnPharmacy, undo(epcs[4], ""), CodeUndoNotAllowed},
		{"expired", glnPharmacy, undo(shortLived, ""), CodeUndoNotAllowed},
		{"never decommissioned", glnPharmacy, undo(epcs[6], ""), CodeInactive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l.t = t
			l.mustReject(tc.code, tc.actor, KindUndoDecommission, tc.p)
		})
	}
	l.t = t
	// The recall blocks undo of L1 packs, so test the window on a fresh lot.
	fresh := []string{sgtinDL(gtinA, "F1"), sgtinDL(gtinA, "F2"), sgtinDL(gtinA, "F3")}
	l.capture(glnMaker, l.commissionEv("L3", "2028-12-31", fresh...), l.shipEv(glnPharmacy, fresh...))
	l.capture(glnPharmacy, l.observeEv("receiving", fresh...))
	dec(fresh[0], StatusDispensed, "", false)
	dec(fresh[1], StatusDispensed, "", false)
	dec(fresh[2], StatusDispensed, glnURN(glnPharmacy), false)
	l.tick(9 * 24 * time.Hour)
	// The same-premises rule compares GLNs, however the location is spelt.
	l.mustApply(glnPharmacy, KindUndoDecommission, undo(fresh[2], ""))
	l.mustApply(glnPharmacy, KindUndoDecommission, undo(fresh[0], ""))
	if it := l.mustItem(PackKey(gtinA, "F1")); it.Status != StatusActive || it.DecommissionedAt != nil {
		t.Fatalf("undone pack = %+v", it)
	}
	l.tick(24*time.Hour + time.Minute)
	l.mustReject(CodeUndoTooLate, glnPharmacy, KindUndoDecommission, undo(fresh[1], ""))
}

func TestContainerVoidShippingAndObserve(t *testing.T) {
	l := newLedger(t)
	l.network()
	packs := []string{sgtinDL(gtinA, "G1"), sgtinDL(gtinA, "G2")}
	box := ssccDL(7)
	l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", packs...), l.packEv(box, packs...), l.shipEv(glnWholesal, box))
	// Observing the container and its contents is the holder's right.
	obs := l.event(AggregationEvent, ActionObserve, "inspecting")
	obs.ParentID, obs.ChildEPCs = box, packs
	l.captureReject(CodeNotCustodian, glnWholesal, obs)
	l.capture(glnMaker, obs)
	// Voiding the shipment brings everything inside back to active.
	l.capture(glnMaker, l.observeEv("void_shipping", box))
	for _, k := range []string{keyOf(box), PackKey(gtinA, "G1"), PackKey(gtinA, "G2")} {
		if it := l.mustItem(k); it.Status != StatusActive || it.Destination != "" || it.Holder != glnMaker {
			t.Fatalf("%s after void = %+v", k, it)
		}
	}
	l.captureReject(CodeNotInTransit, glnWholesal, l.observeEv("receiving", box))
	// Destroying a pack inside the case records where, and takes it out.
	destroy := l.observeEv("destroying", packs[0])
	destroy.BizLocation = glnURN(glnMaker)
	l.capture(glnMaker, destroy)
	it := l.mustItem(PackKey(gtinA, "G1"))
	if it.Status != StatusDestroyed || it.DecommissionedLoc != glnMaker || it.ParentID != 0 {
		t.Fatalf("destroyed pack = %+v", it)
	}
	// A shipment of the case now moves only what is still in it.
	l.capture(glnMaker, l.shipEv(glnWholesal, box))
	if it := l.mustItem(PackKey(gtinA, "G1")); it.Status != StatusDestroyed {
		t.Fatalf("destroyed pack moved: %+v", it)
	}
	if it := l.mustItem(PackKey(gtinA, "G2")); it.Status != StatusInTransit {
		t.Fatalf("packed pack did not move: %+v", it)
	}
}

func TestErrorDeclaration(t *testing.T) {
	l := newLedger(t)
	l.network()
	pack := sgtinDL(gtinA, "E1")
	ship := l.shipEv(glnWholesal, pack)
	commission := l.commissionEv("L1", "2028-12-31", pack)
	l.capture(glnMaker, commission, ship)
	recordedAt := l.now
	shipID := EventHashID(ship)

	declare := func(ev Event) Event {
		ev.ErrorDeclaration = &ErrorDeclaration{DeclarationTime: l.now, Reason: "incorrect_data", CorrectiveEventIDs: []string{"urn:uuid:fix-1"}}
		return ev
	}
	l.captureReject(CodeForbidden, glnWholesal, declare(ship))
	changed := ship
	changed.Disposition = "active"
	changed.EventID = shipID
	l.captureReject(CodeBadPayload, glnMaker, declare(changed))
	unknown := l.observeEv("inspecting", pack)
	l.captureReject(CodeNotFound, glnMaker, declare(unknown))

	// The capturer declares its shipment erroneous: the stored event says
	// so, keeps its id and record time, and no pack changes.
	res := l.capture(glnMaker, declare(ship))
	var out CaptureResult
	if err := json.Unmarshal(res.Data, &out); err != nil || len(out.EventIDs) != 1 || out.EventIDs[0] != shipID {
		t.Fatalf("capture result %s, %v", res.Data, err)
	}
	page, err := QueryEvents(l.db, EventQuery{EventID: []string{shipID}})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("query: %d events, %v", len(page.Events), err)
	}
	stored := mustEvent(t, string(page.Events[0]))
	var fields map[string]any
	_ = json.Unmarshal(page.Events[0], &fields)
	if stored.ErrorDeclaration == nil || stored.ErrorDeclaration.Reason != "incorrect_data" || fields["recordTime"] != recordedAt.Format(time.RFC3339Nano) {
		t.Fatalf("stored event = %s", page.Events[0])
	}
	if it := l.mustItem(PackKey(gtinA, "E1")); it.Status != StatusInTransit {
		t.Fatalf("pack changed by an error declaration: %+v", it)
	}
	// A plain recapture of the same event is still a conflict.
	l.captureReject(CodeConflict, glnMaker, ship)
}

// TestContainerMoveRefusesBadContents covers the guard on a container's
// contents: should a pack inside ever be in a state the move refuses
// (here forced by hand), the whole move is rejected and undone.
func TestContainerMoveRefusesBadContents(t *testing.T) {
	l := newLedger(t)
	l.network()
	packs := []string{sgtinDL(gtinA, "H1"), sgtinDL(gtinA, "H2")}
	box := ssccDL(8)
	l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", packs...), l.packEv(box, packs...))
	if err := l.db.Model(&Item{}).Where(`"key" = ?`, PackKey(gtinA, "H2")).Update("status", StatusLocked).Error; err != nil {
		t.Fatal(err)
	}
	l.resync() // the edit by hand is no command's write
	res := l.captureReject(CodeInactive, glnMaker, l.shipEv(glnWholesal, box))
	if !strings.Contains(res.Message, "1 items inside") {
		t.Fatalf("message %q does not count the bad item", res.Message)
	}
	for _, k := range []string{keyOf(box), PackKey(gtinA, "H1")} {
		if it := l.mustItem(k); it.Status != StatusActive || it.Destination != "" {
			t.Fatalf("%s moved by a rejected shipment: %+v", k, it)
		}
	}
}

// TestExpiredOrRecalledPacksAreNotSupplied: a pack a scan would call
// expired or recalled is not dispensed or given as a sample, by command or
// by a dispensing event; it may still be locked or destroyed.
func TestExpiredOrRecalledPacksAreNotSupplied(t *testing.T) {
	l := newLedger(t)
	l.network()
	epcs := l.supplyChain("E1", "E2", "E3", "E4")
	old := sgtinDL(gtinA, "OLD")
	l.capture(glnMaker, l.commissionEv("L0", "2026-02-28", old), l.shipEv(glnPharmacy, old)) // l.now is 2026-03-01
	l.capture(glnPharmacy, l.observeEv("receiving", old))
	dec := func(epc string, status Status) DecommissionPayload {
		return DecommissionPayload{EPCs: []string{epc}, Status: status}
	}

	l.mustReject(CodeExpired, glnPharmacy, KindDecommission, dec(old, StatusDispensed))
	l.mustReject(CodeExpired, glnPharmacy, KindDecommission, dec(old, StatusFreeSample))
	l.captureReject(CodeExpired, glnPharmacy, l.observeEv("dispensing", old))
	l.mustApply(glnPharmacy, KindDecommission, dec(old, StatusDestroyed))

	l.mustApply(glnPharmacy, KindDecommission, dec(epcs[0], StatusDispensed)) // before the recall
	l.mustApply(glnMaker, KindRecall, RecallPayload{GTIN: gtinA, Lot: "L1", Reason: "impurity"})
	l.mustReject(CodeRecalled, glnPharmacy, KindDecommission, dec(epcs[1], StatusDispensed))
	l.mustReject(CodeRecalled, glnPharmacy, KindDecommission, dec(epcs[1], StatusSample))
	l.mustReject(CodeRecalled, glnPharmacy, KindDecommission, DecommissionPayload{EPCs: epcs[1:], Status: StatusDispensed})
	l.captureReject(CodeRecalled, glnPharmacy, l.observeEv("dispensing", epcs[2]))
	l.mustApply(glnPharmacy, KindDecommission, dec(epcs[1], StatusLocked))
	l.mustApply(glnPharmacy, KindDecommission, dec(epcs[2], StatusDestroyed))
	if it := l.mustItem(PackKey(gtinA, "E4")); it.Status != StatusActive {
		t.Fatalf("a refused dispense changed %s to %s", it.Key, it.Status)
	}
}

// TestKeyIDKnownAnswer pins the derivation the scanner package
// documentation gives: the Ed25519 key with seed 00 01 .. 1f has id "GgEs".
func TestKeyIDKnownAnswer(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	if got := KeyID(AlgEd25519, pub); got != "GgEs" {
		t.Fatalf("KeyID = %q, want GgEs", got)
	}
}
