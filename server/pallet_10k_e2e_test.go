package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// TestTenThousandPackPalletShippedAndReceived commissions 10,000 packs in
// one capture, packs them onto one pallet, ships the pallet to the
// wholesaler and receives it there, all over HTTP; every pack then
// verifies as authentic in the wholesaler's custody.
func TestTenThousandPackPalletShippedAndReceived(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 packs: skipped with -short")
	}
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 1) // organisations, products and key; a couple of cases
	ctx := context.Background()
	mfr := n.client(s.Tokens[net.Manufacturer.GLN])
	whs := n.client(s.Tokens[net.Wholesaler.GLN])
	m, w := net.Manufacturer.GLN, net.Wholesaler.GLN
	gtin := net.Products[0].GTIN
	expiry := time.Now().AddDate(2, 0, 0).Format(time.DateOnly)
	const packs = 10000
	epcs := make([]string, packs)
	for i := range epcs {
		epcs[i] = demo.PackEPC(gtin, fmt.Sprintf("P%09d", i))
	}
	pallet := "040123450000099996"
	pallet = pallet[:17] + fmt.Sprint(gs1.CheckDigit(pallet[:17]))
	at := time.Now().Add(-time.Hour)
	doc := demo.Document(at,
		demo.Commission(at, m, epcs, "BIG1", expiry),
		demo.Commission(at.Add(time.Second), m, []string{demo.SSCCEPC(pallet)}, "", ""),
		demo.PackInto(at.Add(2*time.Second), m, demo.SSCCEPC(pallet), epcs))
	if err := mfr.Do(ctx, "POST", "/epcis/capture", "application/ld+json", doc, nil); err != nil {
		t.Fatalf("commission and pack 10,000: %v", err)
	}
	ship := demo.Document(at, demo.Ship(at.Add(3*time.Second), m, w, []string{demo.SSCCEPC(pallet)}))
	if err := mfr.Do(ctx, "POST", "/epcis/capture", "application/ld+json", ship, nil); err != nil {
		t.Fatalf("ship: %v", err)
	}
	rcv := demo.Document(at, demo.Receive(at.Add(4*time.Second), w, []string{demo.SSCCEPC(pallet)}))
	if err := whs.Do(ctx, "POST", "/epcis/capture", "application/ld+json", rcv, nil); err != nil {
		t.Fatalf("receive: %v", err)
	}
	for _, i := range []int{0, 1, 4999, 9999} {
		scan := fmt.Sprintf("(01)%s(21)P%09d", gtin, i)
		v := mustVerify(t, whs, scan)
		// Unsigned scans of a signed product: the verdict is about the
		// signature, but the pack itself is active and the wholesaler's.
		if v.Pack == nil || v.Pack.Holder != w || v.Pack.Status != "active" || v.Pack.Lot != "BIG1" {
			t.Fatalf("pack %d after receipt: %+v", i, v.Pack)
		}
	}
}
