package server

import (
	"net/url"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
)

// TestProvenanceOfASerialOrLotWithASlash: "/" is in CSET 82, so a serial
// or lot may hold one. Sent as %2F it stays inside its path parameter;
// the route used to match the unescaped path, where it split the serial
// and answered 404 "no route".
func TestProvenanceOfASerialOrLotWithASlash(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 1)
	mfr := n.client(s.Tokens[net.Manufacturer.GLN])
	gtin, serial, lot := net.Products[0].GTIN, "AB/CD", "L/9"
	at := time.Now().Add(-time.Hour)
	doc := demo.Document(at, demo.Commission(at, net.Manufacturer.GLN, []string{demo.PackEPC(gtin, serial)}, lot, at.AddDate(1, 0, 0).Format(time.DateOnly)))
	if err := mfr.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", doc, nil); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/api/v1/provenance/packs/" + gtin + "/" + url.PathEscape(serial),
		"/api/v1/provenance/lots/" + gtin + "/" + url.PathEscape(lot),
	} {
		var prov struct {
			Events []struct{ Seq uint64 }
		}
		if err := mfr.Do(t.Context(), "GET", path, "", nil, &prov); err != nil || len(prov.Events) != 1 {
			t.Errorf("GET %s: %+v, %v; want the commissioning", path, prov, err)
		}
	}
}
