package models

import (
	"testing"
)

// TestShipmentAddressedToAPartyGLN checks that a shipment may name its
// destination by party GLN (PGLN, AI 417), as EPCIS destination lists of
// type owning_party usually do: only that party may receive it.
func TestShipmentAddressedToAPartyGLN(t *testing.T) {
	for _, dest := range []string{
		"urn:epc:id:pgln:" + glnWholesal[:7] + "." + glnWholesal[7:12],
		"https://id.gs1.org/417/" + glnWholesal,
	} {
		t.Run(dest, func(t *testing.T) {
			l := newLedger(t)
			l.network()
			p := sgtinDL(gtinA, "PG1")
			l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", p))
			ship := l.shipEv(glnWholesal, p)
			ship.DestinationList = []Destination{{Type: "owning_party", Destination: dest}}
			l.capture(glnMaker, ship)
			if it := l.mustItem(PackKey(gtinA, "PG1")); it.Destination != glnWholesal {
				t.Fatalf("destination = %q, want %s", it.Destination, glnWholesal)
			}
			l.captureReject(CodeNotDestination, glnPharmacy, l.observeEv("receiving", p))
			l.capture(glnWholesal, l.observeEv("receiving", p))
			if it := l.mustItem(PackKey(gtinA, "PG1")); it.Holder != glnWholesal {
				t.Fatalf("holder = %q after receipt", it.Holder)
			}
		})
	}
}
