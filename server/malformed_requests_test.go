package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
	"github.com/pedigree-ledger/pedigree/models"
)

// TestMalformedRequestsGet4xxJSON sends every kind of bad request to a real
// node and checks each gets a 4xx with the API's JSON error body, never a
// 5xx.
func TestMalformedRequestsGet4xxJSON(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 1)
	ph1 := s.Tokens[net.Pharmacy1.GLN]
	mfr := s.Tokens[net.Manufacturer.GLN]
	p := net.Packs[0]

	// A revoked token.
	revoked := n.client(n.adminToken)
	var tok struct {
		Token       string `json:"token"`
		TokenSHA256 string `json:"token_sha256"`
	}
	if err := revoked.Do(t.Context(), "POST", "/api/v1/organisations/"+net.Pharmacy2.GLN+"/tokens", "application/json", map[string]any{}, &tok); err != nil {
		t.Fatal(err)
	}
	if err := revoked.Do(t.Context(), "DELETE", "/api/v1/tokens/"+tok.TokenSHA256, "", nil, nil); err != nil {
		t.Fatal(err)
	}

	goodDoc := demo.Document(time.Now(), demo.Receive(time.Now(), net.Pharmacy1.GLN, []string{demo.PackEPC(p.GTIN, p.Serial)}))
	big := bytes.Repeat([]byte(" "), captureFileSizeLimit+1)
	copy(big, goodDoc)

	// More prefixes than one registration may list; SQLite would refuse
	// the rule's lookup past 32,766 of them.
	prefixes := make([]string, maxOrganisationPrefixes+1)
	for i := range prefixes {
		prefixes[i] = fmt.Sprintf("9%07d", i)
	}
	tooManyPrefixes, err := json.Marshal(map[string]any{"id": "4012345000993", "name": "Big Pharma", "role": "manufacturer", "prefixes": prefixes})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, method, path, ctype, token string
		body                             []byte
		status                           int
		code                             string
	}{
		{"no token", "POST", "/api/v1/verify", "application/json", "", []byte(`{"scan":"x"}`), 401, "unauthenticated"},
		{"foreign token", "POST", "/api/v1/verify", "application/json", "pdg_not-a-token", []byte(`{"scan":"x"}`), 401, "bad_token"},
		{"revoked token", "GET", "/api/v1/recalls", "", tok.Token, nil, 401, "bad_token"},
		{"bad json", "POST", "/api/v1/decommission", "application/json", ph1, []byte(`{"epcs":[`), 400, "bad_json"},
		{"wrong type", "POST", "/api/v1/decommission", "application/json", ph1, []byte(`{"epcs":"x","status":"dispensed"}`), 400, "bad_json"},
		{"unknown field", "POST", "/api/v1/decommission", "application/json", ph1, []byte(`{"epcs":[],"status":"dispensed","colour":"red"}`), 400, "bad_json"},
		{"trailing data", "POST", "/api/v1/recalls", "application/json", mfr, []byte(`{"gtin":"x","lot":"y"} {}`), 400, "bad_json"},
		{"empty body", "POST", "/api/v1/recalls", "application/json", mfr, nil, 400, "bad_json"},
		{"wrong media type", "POST", "/api/v1/decommission", "text/xml", ph1, []byte(`<x/>`), 415, "unsupported_media_type"},
		{"bad status", "POST", "/api/v1/decommission", "application/json", ph1, []byte(`{"epcs":["` + demo.PackEPC(p.GTIN, p.Serial) + `"],"status":"active"}`), 400, "bad_status"},
		{"bad epc", "POST", "/api/v1/decommission", "application/json", ph1, []byte(`{"epcs":["urn:epc:id:sgtin:123"],"status":"dispensed"}`), 400, "bad_epc"},
		{"oversized json", "POST", "/api/v1/decommission", "application/json", ph1, bytes.Repeat([]byte("x"), maxJSONBody+1), 413, "body_too_large"},
		{"bad gtin recall", "POST", "/api/v1/recalls", "application/json", mfr, []byte(`{"gtin":"04012345000017","lot":"A"}`), 400, "bad_gtin"},
		{"bad gs1 check digit", "POST", "/api/v1/verify", "application/json", ph1, []byte(`{"scan":"(01)04012345000017(21)X"}`), 400, "bad_gs1"},
		{"bad gs1 text", "POST", "/api/v1/verify", "text/plain", ph1, []byte("hello"), 400, "bad_gs1"},
		{"no gtin", "GET", "/api/v1/verify?scan=(00)040123450000000017", "", ph1, nil, 400, "bad_gs1"},
		{"empty scan", "POST", "/api/v1/verify", "application/json", ph1, []byte(`{"scan":""}`), 400, "bad_scan"},
		{"scan wrong type", "POST", "/api/v1/verify", "application/json", ph1, []byte(`{"scan":42}`), 400, "bad_json"},
		{"a linear barcode's GTIN alone", "POST", "/api/v1/verify", "text/plain", ph1, []byte("(01)" + p.GTIN), 400, "bad_gs1"},
		// A pair url.Values would drop, and with it a filter or a level.
		{"an events filter that does not decode", "GET", "/epcis/events?EQ_bizStep=%zz", "", mfr, nil, 400, "query_parameter"},
		{"an alerts filter that does not decode", "GET", "/api/v1/alerts?verdict=%zz", "", mfr, nil, 400, "query_parameter"},
		{"a backup's level that does not decode", "GET", "/api/v1/cluster/backup?consistency=leader%zz", "", n.adminToken, nil, 400, "bad_consistency"},
		{"a time given twice", "GET", "/epcis/events?GE_eventTime=2020-01-01T00:00:00Z&GE_eventTime=x", "", mfr, nil, 400, "query_parameter"},
		{"bad location", "POST", "/api/v1/verify", "application/json", ph1, []byte(`{"scan":"` + jsonEsc(p.HRI) + `","location":"123"}`), 400, "bad_location"},
		{"not an image", "POST", "/api/v1/verify", "image/png", ph1, []byte("not a png"), 422, "no_code"},
		{"image too large", "POST", "/api/v1/verify", "image/png", ph1, pngHeader(5000, 4000, 8, 0), 413, "image_too_large"},
		{"verify media type", "POST", "/api/v1/verify", "application/xml", ph1, []byte("<x/>"), 415, "unsupported_media_type"},
		{"unknown verify param", "GET", "/api/v1/verify?scn=x", "", ph1, nil, 400, "query_parameter"},
		{"capture not json", "POST", "/epcis/capture", "application/ld+json", mfr, []byte("{"), 400, "bad_epcis"},
		{"capture wrong type", "POST", "/epcis/capture", "application/ld+json", mfr, []byte(`{"type":"EPCISDocument","epcisBody":{"eventList":{}}}`), 400, "bad_epcis"},
		{"capture unknown field", "POST", "/epcis/capture", "application/ld+json", mfr, bytes.Replace(goodDoc, []byte(`"bizStep"`), []byte(`"bizstep":"x","bizStep"`), 1), 400, "bad_epcis"},
		{"capture bad epc", "POST", "/epcis/capture", "application/ld+json", mfr, bytes.Replace(goodDoc, []byte(p.Serial), []byte("bad serial with spaces"), 1), 400, "bad_epcis"},
		{"capture empty", "POST", "/epcis/capture", "application/ld+json", mfr, []byte(`{"type":"EPCISDocument","epcisBody":{"eventList":[]}}`), 400, "bad_epcis"},
		// Counted before any event is decoded: these events are not
		// events, and are refused for their number.
		{"capture over the event limit", "POST", "/epcis/capture", "application/ld+json", mfr,
			[]byte(`{"type":"EPCISDocument","epcisBody":{"eventList":[{}` + strings.Repeat(`,{}`, models.MaxCaptureEvents) + `]}}`), 413, "capture_limit"},
		{"capture media type", "POST", "/epcis/capture", "text/plain", mfr, goodDoc, 415, "unsupported_media_type"},
		{"capture oversized", "POST", "/epcis/capture", "application/ld+json", mfr, big, 413, "body_too_large"},
		{"capture proceed", "POST", "/epcis/capture?x", "application/ld+json", mfr, goodDoc, 400, "unsupported_error_behaviour"},
		{"capture refused by the rules", "POST", "/epcis/capture", "application/ld+json", ph1, goodDoc, 409, "not_in_transit"},
		{"unknown capture", "GET", "/epcis/capture/capture-00", "", mfr, nil, 404, "not_found"},
		{"query unknown param", "GET", "/epcis/events?EQ_colour=red", "", mfr, nil, 400, "query_parameter"},
		{"query bad time", "GET", "/epcis/events?GE_eventTime=yesterday", "", mfr, nil, 400, "query_parameter"},
		{"query bad perPage", "GET", "/epcis/events?perPage=0", "", mfr, nil, 400, "query_parameter"},
		{"query bad token", "GET", "/epcis/events?nextPageToken=!!", "", mfr, nil, 400, "query_parameter"},
		{"query bad epc", "GET", "/epcis/events?MATCH_epc=urn:x", "", mfr, nil, 400, "query_parameter"},
		{"query bad type", "GET", "/epcis/events?eventType=FooEvent", "", mfr, nil, 400, "query_parameter"},
		{"query too many ids", "GET", "/epcis/events?EQ_eventID=" + strings.Repeat("urn:x:1,", models.MaxQueryValues) + "urn:x:2", "", mfr, nil, 413, "query_too_complex"},
		{"provenance bad gtin", "GET", "/api/v1/provenance/packs/123/X", "", mfr, nil, 400, "bad_gtin"},
		{"provenance bad sscc", "GET", "/api/v1/provenance/containers/123", "", mfr, nil, 400, "bad_sscc"},
		{"provenance unknown", "GET", "/api/v1/provenance/packs/" + p.GTIN + "/NOPE", "", mfr, nil, 404, "not_found"},
		{"token for another org", "POST", "/api/v1/organisations/" + net.Wholesaler.GLN + "/tokens", "application/json", ph1, []byte(`{}`), 403, "forbidden"},
		{"revoke unknown hash", "DELETE", "/api/v1/tokens/abc", "", ph1, nil, 422, "bad_payload"},
		{"too many prefixes", "POST", "/api/v1/organisations", "application/json", n.adminToken, tooManyPrefixes, 413, "too_many_prefixes"},
		{"unknown route", "GET", "/api/v1/nothing", "", ph1, nil, 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tc.method, n.srv.URL+tc.path, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			if strings.HasSuffix(tc.path, "?x") {
				req.URL.RawQuery = ""
				req.Header.Set("GS1-Capture-Error-Behaviour", "proceed")
			}
			resp, err := n.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(data, &body); err != nil || body.Error.Code == "" || body.Error.Message == "" {
				t.Fatalf("status %d, body %q is not the JSON error", resp.StatusCode, data)
			}
			if resp.StatusCode != tc.status || body.Error.Code != tc.code {
				t.Fatalf("got %d %s (%s), want %d %s", resp.StatusCode, body.Error.Code, body.Error.Message, tc.status, tc.code)
			}
		})
	}
}

func jsonEsc(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
