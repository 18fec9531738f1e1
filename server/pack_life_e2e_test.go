package server

import (
	"context"
	"testing"
)

// TestDemoNetworkSeedsOverHTTP runs the whole fixture story over HTTP on a
// real node: organisations and tokens, products and key, commissioning,
// packing, shipping a pallet, receiving, splitting, dispensing, a recall
// and a falsified scan.
func TestDemoNetworkSeedsOverHTTP(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 60)
	ctx := context.Background()
	reg := n.client(s.Tokens[net.Regulator.GLN])
	var alerts struct{ Alerts []struct{ Verdict string } }
	if err := reg.Do(ctx, "GET", "/api/v1/alerts", "", nil, &alerts); err != nil {
		t.Fatal(err)
	}
	if len(alerts.Alerts) != 1 || alerts.Alerts[0].Verdict != "unknown_serial" {
		t.Fatalf("alerts = %+v, want one unknown_serial", alerts.Alerts)
	}
}
