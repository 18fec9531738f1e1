package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
)

// TestProvenanceOfASerialOrLotWithASlashOrPlus: "/", "+" and "%" are in
// CSET 82, so a serial or lot may hold them. Sent as %2F, "/" stays inside
// its path parameter (the route used to match the unescaped path, where it
// split the serial and answered 404 "no route"); "+" is a plus, as in any
// path, not a space as in a query; and a parameter is unescaped once, so
// "A%2541" is the serial A%41, not AA.
func TestProvenanceOfASerialOrLotWithASlashOrPlus(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 1)
	mfr := n.client(s.Tokens[net.Manufacturer.GLN])
	gtin, lot := net.Products[0].GTIN, "L/9+1%31"
	serials := []string{"AB/CD", "A+B", "A+B/C", "P+Q!", "A%41", "AA", "Z%25"}
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
			Key    string
			Events []struct{ Seq uint64 }
		}
		if err := mfr.Do(t.Context(), "GET", path, "", nil, &prov); err != nil || len(prov.Events) != 1 {
			t.Errorf("GET %s: %+v, %v; want the commissioning", path, prov, err)
		}
		if strings.Contains(path, "A%2541") && !strings.Contains(prov.Key, "A%41") {
			t.Errorf("GET %s: the chain of %s", path, prov.Key)
		}
	}
	// A trailing slash is no other pack: not redirected to the unescaped
	// path, where "/" would split the serial.
	wantAPIError(t, mfr.Do(t.Context(), "GET", "/api/v1/provenance/packs/"+gtin+"/AB%2FCD/", "", nil, nil), http.StatusNotFound, "not_found")
}
