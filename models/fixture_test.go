package models

import (
	"crypto/ed25519"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// The fixture products: gtinA and gtinC of Acme (prefix 4012345), gtinB of
// Other Pharma (prefix 5012345), gtinUnreg under Acme's prefix but never
// registered.
var (
	gtinA     = mkKey("0401234512345")
	gtinC     = mkKey("0401234512346")
	gtinB     = mkKey("0501234500001")
	gtinUnreg = mkKey("0401234599999")
)

// mkKey appends the check digit to a GS1 key's digits.
func mkKey(digits string) string { return digits + strconv.Itoa(gs1.CheckDigit(digits)) }

// sgtinDL is a pack as a GS1 Digital Link URI.
func sgtinDL(gtin, serial string) string { return "https://id.gs1.org/01/" + gtin + "/21/" + serial }

// sgtinURN is a pack of Acme's as an EPC URN (company prefix 4012345).
func sgtinURN(gtin, serial string) string {
	return "urn:epc:id:sgtin:" + gtin[1:8] + "." + gtin[:1] + gtin[8:13] + "." + serial
}

// ssccDL is a container; n makes the serial reference.
func ssccDL(n int) string { return "https://id.gs1.org/00/" + mkKey(fmt.Sprintf("04012345%09d", n)) }

// glnURN is an organisation's location as an SGLN URN (7-digit prefix).
func glnURN(gln string) string { return "urn:epc:id:sgln:" + gln[:7] + "." + gln[7:12] + ".0" }

// network registers the fixture organisations and products.
func (l *ledger) network() {
	l.t.Helper()
	l.bootstrap()
	l.mustApply(glnMaker, KindRegisterProduct, RegisterProductPayload{GTIN: gtinA, Name: "Paracetamol 500 mg", Form: "tablet", PackSize: "20", Signed: true})
	l.mustApply(glnMaker, KindRegisterProduct, RegisterProductPayload{GTIN: gtinC, Name: "Ibuprofen 200 mg"})
	l.mustApply(glnMaker2, KindRegisterProduct, RegisterProductPayload{GTIN: gtinB, Name: "Amoxicillin 250 mg"})
}

// tick advances the ledger clock, so events at different steps differ.
func (l *ledger) tick(d time.Duration) { l.now = l.now.Add(d) }

func (l *ledger) event(typ, action, bizStep string) Event {
	l.tick(time.Minute)
	return Event{Type: typ, EventTime: l.now, EventTimeZoneOffset: "+00:00", Action: action, BizStep: bizStep}
}

func (l *ledger) commissionEv(lot, expiry string, epcs ...string) Event {
	e := l.event(ObjectEvent, ActionAdd, "commissioning")
	e.EPCList, e.Disposition = epcs, "active"
	e.ILMD = &ILMD{LotNumber: lot, ItemExpirationDate: expiry}
	return e
}

func (l *ledger) packEv(parent string, children ...string) Event {
	e := l.event(AggregationEvent, ActionAdd, "packing")
	e.ParentID, e.ChildEPCs = parent, children
	return e
}

func (l *ledger) unpackEv(parent string, children ...string) Event {
	e := l.event(AggregationEvent, ActionDelete, "unpacking")
	e.ParentID, e.ChildEPCs = parent, children
	return e
}

func (l *ledger) shipEv(dest string, epcs ...string) Event {
	e := l.event(ObjectEvent, ActionObserve, "shipping")
	e.EPCList, e.Disposition = epcs, "in_transit"
	if dest != "" {
		e.DestinationList = []Destination{{Type: "owning_party", Destination: glnURN(dest)}}
	}
	return e
}

func (l *ledger) observeEv(bizStep string, epcs ...string) Event {
	e := l.event(ObjectEvent, ActionObserve, bizStep)
	e.EPCList = epcs
	return e
}

func (l *ledger) capture(actor string, events ...Event) Result {
	l.t.Helper()
	return l.mustApply(actor, KindCaptureEvents, CaptureEventsPayload{Events: events})
}

func (l *ledger) captureReject(code, actor string, events ...Event) Result {
	l.t.Helper()
	return l.mustReject(code, actor, KindCaptureEvents, CaptureEventsPayload{Events: events})
}

// mustItem loads an item by key.
func (l *ledger) mustItem(key string) Item {
	l.t.Helper()
	var it Item
	if err := l.db.Where(`"key" = ?`, key).Take(&it).Error; err != nil {
		l.t.Fatalf("item %s: %v", key, err)
	}
	return it
}

// itemExists reports whether an item with key is in the projection.
func (l *ledger) itemExists(key string) bool {
	var n int64
	l.db.Model(&Item{}).Where(`"key" = ?`, key).Count(&n)
	return n > 0
}

// supplyChain commissions packs of gtinA lot L1 (expiring 2028-12-31), and
// moves them maker -> wholesaler -> pharmacy. It returns their URIs.
func (l *ledger) supplyChain(serials ...string) []string {
	l.t.Helper()
	var epcs []string
	for _, s := range serials {
		epcs = append(epcs, sgtinDL(gtinA, s))
	}
	l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", epcs...), l.shipEv(glnWholesal, epcs...))
	l.capture(glnWholesal, l.observeEv("receiving", epcs...), l.shipEv(glnPharmacy, epcs...))
	l.capture(glnPharmacy, l.observeEv("receiving", epcs...))
	return epcs
}

// mustKeyPair returns a fixed Ed25519 public key.
func mustKeyPair(t testing.TB) ed25519.PublicKey {
	t.Helper()
	return ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
}

// classEv is an ObjectEvent OBSERVE about a class of packs only (a lot or
// a product, as a Digital Link URI), with no single pack named.
func (l *ledger) classEv(bizStep, class string) Event {
	e := l.event(ObjectEvent, ActionObserve, bizStep)
	e.QuantityList = []QuantityElement{{EPCClass: class}}
	return e
}

// lotDL is a lot of a product as a GS1 Digital Link URI.
func lotDL(gtin, lot string) string { return "https://id.gs1.org/01/" + gtin + "/10/" + lot }
