package server

import (
	"net/url"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
)

// TestProvenanceOfASerialOrLotWithASlashOrPlus: "/" and "+" are in CSET
// 82, so a serial or lot may hold them. Sent as %2F, "/" stays inside its
// path parameter (the route used to match the unescaped path, where it
// split the serial and answered 404 "no route"), and "+" is a plus, as in
// any path, not a space as in a query.
func TestProvenanceOfASerialOrLotWithASlashOrPlus(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 1)
	mfr := n.client(s.Tokens[net.Manufacturer.GLN])
	gtin, lot := net.Products[0].GTIN, "L/9+1"
	serials := []string{"AB/CD", "A+B", "A+B/C", "P+Q!"}
	var epcs []string
	for _, serial := range serials {
		epcs = append(epcs, demo.PackEPC(gtin, serial))
	}
	at := time.Now().Add(-time.Hour)
	doc := demo.Document(at, demo.Commission(at, net.Manufacturer.GLN, epcs, lot, at.AddDate(1, 0, 0).Format(time.DateOnly)))
	if err := mfr.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", doc, nil); err != nil {
		t.Fatal(err)
	}
	paths := []string{
		"/api/v1/provenance/lots/" + gtin + "/" + url.PathEscape(lot),
		"/api/v1/provenance/packs/" + gtin + "/P+Q!", // "!" and "+" as they are
	}
	for _, serial := range serials {
		paths = append(paths, "/api/v1/provenance/packs/"+gtin+"/"+url.PathEscape(serial))
	}
	for _, path := range paths {
		var prov struct {
			Events []struct{ Seq uint64 }
		}
		if err := mfr.Do(t.Context(), "GET", path, "", nil, &prov); err != nil || len(prov.Events) != 1 {
			t.Errorf("GET %s: %+v, %v; want the commissioning", path, prov, err)
		}
	}
}
