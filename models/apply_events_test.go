package models

import (
	"errors"
	"testing"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// noEventsBy fails the test if the subject's chain of custody, as a
// regulator reads it, holds an event captured by actor.
func noEventsBy(t *testing.T, l *ledger, s Subject, actor string) {
	t.Helper()
	c, err := ChainOfCustody(l.db, s, CustodyQuery{Viewer: &Viewer{Org: glnReg, Role: RoleRegulator}})
	if err != nil {
		t.Fatalf("custody of %s: %v", s.Key, err)
	}
	for _, e := range c.Events {
		if e.Actor == actor {
			t.Errorf("the history of %s holds %s's %s event", s.Key, actor, e.Type)
		}
	}
}

// TestOtherEventTypesNeedCustody: a TransactionEvent, TransformationEvent
// or AssociationEvent is indexed under every pack or container it names,
// so only their custodian records one; a stranger's is rejected and stays
// out of the pack's history.
func TestOtherEventTypesNeedCustody(t *testing.T) {
	l := newLedger(t)
	l.network()
	mine := l.supplyChain("C1")[0] // held by glnPharmacy
	box := ssccDL(11)
	l.capture(glnPharmacy, l.packEv(box, mine))
	other := sgtinDL(gtinA, "C2")
	l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", other)) // held by glnMaker
	strangers := ssccDL(12)
	newCase := l.event(ObjectEvent, ActionAdd, "commissioning") // anyone commissions a case
	newCase.EPCList = []string{strangers}
	l.capture(glnPharm2, newCase)

	transaction := func(parent string, epcs ...string) Event {
		e := l.event(TransactionEvent, ActionAdd, "")
		e.ParentID, e.EPCList = parent, epcs
		e.BizTransactionList = []BizTransaction{{Type: "inv", BizTransaction: "urn:epcglobal:cbv:bt:" + glnPharm2 + ":INV1"}}
		return e
	}
	transformation := func(in, out []string) Event {
		e := l.event(TransformationEvent, "", "")
		e.InputEPCList, e.OutputEPCList = in, out
		return e
	}
	association := func(parent string, children ...string) Event {
		e := l.event(AssociationEvent, ActionAdd, "")
		if len(children) == 0 {
			e.Action = ActionObserve
		}
		e.ParentID, e.ChildEPCs = parent, children
		return e
	}
	for _, tc := range []struct {
		name  string
		actor string
		code  string
		e     Event
	}{
		{"transaction epcList", glnPharm2, CodeNotCustodian, transaction("", mine)},
		{"transaction parentID", glnPharm2, CodeNotCustodian, transaction(box)},
		{"transformation input", glnPharm2, CodeNotCustodian, transformation([]string{mine}, nil)},
		{"transformation output", glnPharm2, CodeNotCustodian, transformation(nil, []string{mine})},
		{"transformation output not commissioned", glnPharmacy, CodeUnknownItem, transformation([]string{mine}, []string{sgtinDL(gtinA, "NEW")})},
		{"association parent", glnPharm2, CodeNotCustodian, association(box)},
		{"association child", glnPharm2, CodeNotCustodian, association(strangers, mine)},
		{"holder names another's pack", glnPharmacy, CodeNotCustodian, transaction(box, mine, other)},
	} {
		if res := l.apply(tc.actor, KindCaptureEvents, CaptureEventsPayload{Events: []Event{tc.e}}); res.Accepted || res.Code != tc.code {
			t.Errorf("%s: accepted=%v %s (%s), want %s", tc.name, res.Accepted, res.Code, res.Message, tc.code)
		}
	}
	pack, _ := PackSubject(gtinA, "C1")
	noEventsBy(t, l, pack, glnPharm2)
	noEventsBy(t, l, ContainerSubject(box), glnPharm2)
	if c, err := ChainOfCustody(l.db, pack, CustodyQuery{Viewer: &Viewer{Org: glnPharm2, Role: RolePharmacy}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("%s reads the history of a pack it never had: %d events, %v", glnPharm2, len(c.Events), err)
	}

	// The custodian records all three.
	l.capture(glnPharmacy, transaction(box, mine), transformation([]string{mine}, nil), association(box, mine))
}

// TestClassEventsNeedManufacturerOrHolder: an event naming a lot or a
// product as a class, in any quantity list, is indexed into the lot's
// history; only the product's manufacturer or an organisation holding a
// pack of the class records one.
func TestClassEventsNeedManufacturerOrHolder(t *testing.T) {
	l := newLedger(t)
	l.network()
	l.supplyChain("Q1", "Q2") // lot L1, held by glnPharmacy
	l.capture(glnPharmacy, l.observeEv("dispensing", sgtinDL(gtinA, "Q1")))
	l.capture(glnMaker, l.commissionEv("L2", "2029-01-31", sgtinDL(gtinA, "R1")))
	lotL1, lotL2, product := lotDL(gtinA, "L1"), lotDL(gtinA, "L2"), "https://id.gs1.org/01/"+gtinA

	childClass := l.event(AggregationEvent, ActionObserve, "inspecting")
	childClass.ChildQuantityList = []QuantityElement{{EPCClass: lotL1}}
	inputClass := l.event(TransformationEvent, "", "")
	inputClass.InputQuantityList = []QuantityElement{{EPCClass: lotL1}}
	outputClass := l.event(TransformationEvent, "", "")
	outputClass.OutputQuantityList = []QuantityElement{{EPCClass: lotL1}}
	commissionClass := l.event(ObjectEvent, ActionAdd, "commissioning")
	commissionClass.QuantityList = []QuantityElement{{EPCClass: lotL1}}

	for _, tc := range []struct {
		name  string
		actor string
		code  string // "" accepted
		e     Event
	}{
		{"stranger names a lot", glnPharm2, CodeNotCustodian, l.classEv("inspecting", lotL1)},
		{"stranger names a product", glnPharm2, CodeNotCustodian, l.classEv("inspecting", product)},
		{"stranger, childQuantityList", glnPharm2, CodeNotCustodian, childClass},
		{"stranger, inputQuantityList", glnPharm2, CodeNotCustodian, inputClass},
		{"stranger, outputQuantityList", glnPharm2, CodeNotCustodian, outputClass},
		{"stranger commissions a class", glnPharm2, CodeNotCustodian, commissionClass},
		{"another manufacturer", glnMaker2, CodeNotCustodian, l.classEv("inspecting", lotL1)},
		{"past holder", glnWholesal, CodeNotCustodian, l.classEv("inspecting", lotL1)},
		{"holder of another lot", glnPharmacy, CodeNotCustodian, l.classEv("inspecting", lotL2)},
		{"unregistered product", glnMaker, CodeUnknownProduct, l.classEv("inspecting", lotDL(gtinUnreg, "L1"))},
		{"holder names its lot", glnPharmacy, "", l.classEv("inspecting", lotL1)},
		{"holder names the product", glnPharmacy, "", l.classEv("inspecting", product)},
		{"manufacturer names a lot it holds none of", glnMaker, "", l.classEv("inspecting", lotL1)},
	} {
		if res := l.apply(tc.actor, KindCaptureEvents, CaptureEventsPayload{Events: []Event{tc.e}}); res.Accepted != (tc.code == "") || res.Code != tc.code {
			t.Errorf("%s: accepted=%v %s (%s), want %q", tc.name, res.Accepted, res.Code, res.Message, tc.code)
		}
	}
	lot, _ := LotSubject(gtinA, "L1")
	noEventsBy(t, l, lot, glnPharm2)
	noEventsBy(t, l, lot, glnMaker2)
	if c, err := ChainOfCustody(l.db, lot, CustodyQuery{Viewer: &Viewer{Org: glnPharm2, Role: RolePharmacy}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("%s reads the custody of a lot it never had: %d items, %v", glnPharm2, len(c.Items), err)
	}
}

// TestClassEventSeesPacksReceivedInTheSameCapture: the holder check reads
// the projection, so it must see a receipt earlier in the same capture,
// whether the capture runs alone or in a batch.
func TestClassEventSeesPacksReceivedInTheSameCapture(t *testing.T) {
	l := newLedger(t)
	l.network()
	pack := sgtinDL(gtinA, "S1")
	l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", pack), l.shipEv(glnWholesal, pack))
	l.captureReject(CodeNotCustodian, glnWholesal, l.classEv("inspecting", lotDL(gtinA, "L1")))
	l.capture(glnWholesal, l.observeEv("receiving", pack), l.classEv("inspecting", lotDL(gtinA, "L1")))
}

// TestShipmentTravelsWhole: once a case is shipped, its shipper can
// neither void the shipment of one pack inside it nor unpack it; the pack
// would be back in the shipper's stock, or loose in transit, while the
// case goes on. The destination receives the case whole, then unpacks it.
func TestShipmentTravelsWhole(t *testing.T) {
	l := newLedger(t)
	l.network()
	x, y := sgtinDL(gtinA, "X1"), sgtinDL(gtinA, "Y1")
	box, pallet := ssccDL(7), ssccDL(8)
	l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", x, y), l.packEv(box, x, y), l.packEv(pallet, box), l.shipEv(glnWholesal, pallet))

	l.captureReject(CodeInContainer, glnMaker, l.observeEv("void_shipping", x))
	l.captureReject(CodeInContainer, glnMaker, l.observeEv("void_shipping", box))
	l.captureReject(CodeInactive, glnMaker, l.unpackEv(pallet, box))
	l.captureReject(CodeInactive, glnMaker, l.unpackEv(pallet))
	l.captureReject(CodeInactive, glnMaker, l.unpackEv(box, x))
	for _, k := range []string{PackKey(gtinA, "X1"), PackKey(gtinA, "Y1"), keyOf(box)} {
		if it := l.mustItem(k); it.Status != StatusInTransit || it.Holder != glnMaker || it.ParentID == 0 {
			t.Fatalf("%s: %s, held by %s, parent %d; want in transit, packed", k, it.Status, it.Holder, it.ParentID)
		}
	}

	l.capture(glnWholesal, l.observeEv("receiving", pallet), l.unpackEv(pallet), l.unpackEv(box, x))
	for _, k := range []string{PackKey(gtinA, "X1"), PackKey(gtinA, "Y1"), keyOf(box)} {
		if it := l.mustItem(k); it.Status != StatusActive || it.Holder != glnWholesal {
			t.Fatalf("%s: %s, held by %s; want active at %s", k, it.Status, it.Holder, glnWholesal)
		}
	}

	// A voided shipment comes back whole; then the shipper may unpack.
	l.capture(glnWholesal, l.shipEv(glnPharmacy, box))
	l.captureReject(CodeInactive, glnWholesal, l.unpackEv(box))
	l.capture(glnWholesal, l.observeEv("void_shipping", box), l.unpackEv(box))
}

// TestCommissionOnlyOwnProducts: a GTIN under a manufacturer's company
// prefix may still be another's product where prefixes nest, as on a
// ledger registered before nesting prefixes were refused; only the
// product's registered manufacturer commissions its packs.
func TestCommissionOnlyOwnProducts(t *testing.T) {
	l := newLedger(t)
	l.network()
	const nested = "4044444000000" // holds 40123451, inside Acme's 4012345
	org := Organisation{ID: nested, Name: "Nested Pharma", Role: RoleManufacturer, Prefixes: "40123451", Seq: l.seq, RecordTime: l.now}
	if err := l.db.Create(&org).Error; err != nil {
		t.Fatal(err)
	}
	if err := l.db.Create(&CompanyPrefix{Prefix: "40123451", OrgID: nested}).Error; err != nil {
		t.Fatal(err)
	}
	if !gs1.UnderCompanyPrefix(gtinA, []string{"40123451"}) {
		t.Fatalf("%s is not under 40123451: the test proves nothing", gtinA)
	}
	l.captureReject(CodeForbidden, nested, l.commissionEv("LX", "2028-12-31", sgtinDL(gtinA, "FAKE1")))
	if l.itemExists(PackKey(gtinA, "FAKE1")) {
		t.Fatal("the rejected commission left a pack")
	}
	l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", sgtinDL(gtinA, "REAL1")))
}

// TestPackOnlyIntoContainers: shipping or receiving moves what is inside a
// container, not inside a pack, so a pack (SGTIN) is no parent.
func TestPackOnlyIntoContainers(t *testing.T) {
	l := newLedger(t)
	l.network()
	outer, inner := sgtinDL(gtinA, "OUT"), sgtinDL(gtinA, "IN")
	l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", outer, inner))
	l.captureReject(CodeBadPayload, glnMaker, l.packEv(outer, inner))
	l.captureReject(CodeUnknownItem, glnMaker, l.packEv(sgtinDL(gtinA, "NEVER"), inner))
	if it := l.mustItem(PackKey(gtinA, "IN")); it.ParentID != 0 {
		t.Fatalf("%s is packed in item %d", it.Key, it.ParentID)
	}
	l.capture(glnMaker, l.packEv(ssccDL(9), outer, inner))
}
