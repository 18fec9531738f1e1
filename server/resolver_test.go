package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// TestDigitalLinkResolverAndVRS resolves a pack's Digital Link as a browser,
// as an anonymous API client, as a signed-in client, and as a DSCSA VRS
// request, on a real node.
func TestDigitalLinkResolverAndVRS(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	p := net.Packs[net.Cases[0].Packs[5]]
	recalled := net.Packs[net.Cases[1].Packs[0]]
	whs := s.Tokens[net.Wholesaler.GLN]
	link := "/01/" + p.GTIN + "/10/" + p.Lot + "/21/" + p.Serial + "?17=" + p.ExpiryAI
	get := func(path, accept, token string) (int, string) { return getWith(t, n, path, accept, token) }

	status, body := get(link, "text/html,application/xhtml+xml", "")
	if status != 200 || !strings.Contains(body, `id="verdict"`) || !strings.Contains(body, "Authentic") {
		t.Fatalf("browser: %d %s", status, body)
	}
	status, body = get(link, "application/json", "")
	var v struct {
		Verdict string
		Pack    struct{ Holder, Status string }
	}
	if status != 200 || json.Unmarshal([]byte(body), &v) != nil || v.Verdict != "authentic" || v.Pack.Holder != "" || v.Pack.Status != "active" {
		t.Fatalf("anonymous JSON: %d %s", status, body)
	}
	status, body = get(link, "application/json", s.Tokens[net.Regulator.GLN])
	if status != 200 || json.Unmarshal([]byte(body), &v) != nil || v.Pack.Holder != net.Pharmacy1.GLN {
		t.Fatalf("signed-in JSON: %d %s", status, body)
	}
	status, _ = get("/01/123/21/X", "application/json", "")
	if status != 400 {
		t.Fatalf("bad link: %d", status)
	}

	// Links that name no pack: a product, a lot (recalled or not).
	status, body = get("/01/"+p.GTIN, "application/json", "")
	if status != 200 || !strings.Contains(body, `"product"`) || strings.Contains(body, `"verdict"`) {
		t.Fatalf("product link: %d %s", status, body)
	}
	status, body = get("/01/"+recalled.GTIN+"/10/"+recalled.Lot, "text/html", "")
	if status != 200 || !strings.Contains(body, `id="recall"`) {
		t.Fatalf("recalled lot page: %d %s", status, body)
	}
	status, body = get("/01/"+p.GTIN+"/10/"+p.Lot, "application/json", "")
	if status != 200 || strings.Contains(body, `"recall"`) {
		t.Fatalf("lot link: %d %s", status, body)
	}
	if status, _ := get("/01/04012345000993", "application/json", ""); status != 404 {
		t.Fatalf("unknown product link: %d", status)
	}

	vrs := func(pk string, reqGLN, token string) (int, map[string]any) {
		path := pk + "&linkType=verificationService&context=dscsaSaleableReturn&reqGLN=" + reqGLN + "&corrUUID=0f2c6a8e-3b1d-4e5f-9a7b-1c2d3e4f5a6b"
		status, body := get(path, "application/json", token)
		var out map[string]any
		_ = json.Unmarshal([]byte(body), &out)
		return status, out
	}
	status, out := vrs(link, net.Wholesaler.GLN, whs)
	data, _ := out["data"].(map[string]any)
	if status != 200 || data["verified"] != true || out["responderGLN"] != net.Manufacturer.GLN || out["corrUUID"] != "0f2c6a8e-3b1d-4e5f-9a7b-1c2d3e4f5a6b" {
		t.Fatalf("VRS authentic: %d %v", status, out)
	}
	rl := "/01/" + recalled.GTIN + "/10/" + recalled.Lot + "/21/" + recalled.Serial + "?17=" + recalled.ExpiryAI
	status, out = vrs(rl, net.Wholesaler.GLN, whs)
	data, _ = out["data"].(map[string]any)
	if status != 200 || data["verified"] != false || data["additionalInfo"] != "Recalled" {
		t.Fatalf("VRS recalled: %d %v", status, out)
	}
	if status, _ := vrs(link, net.Wholesaler.GLN, ""); status != 401 {
		t.Fatalf("VRS without a token: %d", status)
	}
	if status, _ := vrs(link, net.Pharmacy1.GLN, whs); status != 403 {
		t.Fatalf("VRS with another's reqGLN: %d", status)
	}
	unknown := "/01/04012345000993/10/L/21/S?17=" + p.ExpiryAI
	status, out = vrs(unknown, net.Wholesaler.GLN, whs)
	if e, _ := out["error"].(map[string]any); status != 404 || e["message"] != "GTIN 04012345000993 is not known to this responder" {
		t.Fatalf("VRS unknown GTIN: %d %v", status, out)
	}
	if status, _ := vrs("/01/"+p.GTIN+"/21/"+p.Serial+"?", net.Wholesaler.GLN, whs); status != 400 {
		t.Fatalf("VRS without lot and expiry: %d", status)
	}
}

// TestVRSAnswersForTheIdentifierWhoeverAsks: a DSCSA VRS request asks
// whether the manufacturer assigned a product identifier and what its
// status is. A pharmacy's custody of the pack is EU FMD's notion and no
// part of that: a genuine pack held by pharmacy 1 is verified for a
// wholesaler, for pharmacy 1 and for pharmacy 2 alike, and asking raises
// no custody alert. A recalled pack is still reported as recalled, and a
// scan at pharmacy 2's counter still finds the pack not in its custody.
func TestVRSAnswersForTheIdentifierWhoeverAsks(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	p := net.Packs[net.Cases[0].Packs[5]] // held by pharmacy 1
	recalled := net.Packs[net.Cases[1].Packs[0]]
	vrs := func(pk demo.Pack, who demo.Org) (verified bool, info string) {
		t.Helper()
		path := "/01/" + pk.GTIN + "/10/" + pk.Lot + "/21/" + pk.Serial + "?17=" + pk.ExpiryAI +
			"&linkType=verificationService&context=dscsaSaleableReturn&reqGLN=" + who.GLN +
			"&corrUUID=0f2c6a8e-3b1d-4e5f-9a7b-1c2d3e4f5a6b"
		status, body := getWith(t, n, path, "application/json", s.Tokens[who.GLN])
		var out struct {
			Data struct {
				Verified bool
				Info     string `json:"additionalInfo"`
			}
		}
		if status != 200 || json.Unmarshal([]byte(body), &out) != nil {
			t.Fatalf("VRS for %s: %d %s", who.Name, status, body)
		}
		return out.Data.Verified, out.Data.Info
	}
	for _, who := range []demo.Org{net.Wholesaler, net.Pharmacy1, net.Pharmacy2} {
		if verified, info := vrs(p, who); !verified {
			t.Errorf("VRS for %s: a genuine identifier answered not verified (%s)", who.Name, info)
		}
		if verified, info := vrs(recalled, who); verified || info != "Recalled" {
			t.Errorf("VRS for %s of a recalled pack: verified %v, %q", who.Name, verified, info)
		}
	}
	reg := n.client(s.Tokens[net.Regulator.GLN])
	var list struct {
		Alerts []struct{ Actor, Serial string }
	}
	if err := reg.Do(t.Context(), "GET", "/api/v1/alerts?verdict=not_in_custody", "", nil, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Alerts) != 0 {
		t.Fatalf("VRS requests raised custody alerts: %+v", list.Alerts)
	}
	if v := mustVerify(t, n.client(s.Tokens[net.Pharmacy2.GLN]), p.Scan); v.Verdict != "not_in_custody" {
		t.Fatalf("pharmacy 2 scanning pharmacy 1's pack: %s, want not_in_custody", v.Verdict)
	}
}

// TestADigitalLinkWithAGTIN13VerifiesAsItsGTIN14: a Digital Link may carry
// the GTIN-13 form of a pack's GTIN (a phone app that knows the product by
// its EAN writes that). Sent to POST /api/v1/verify, signature and all, or
// opened at the resolver, it is the same pack as the printed code.
func TestADigitalLinkWithAGTIN13VerifiesAsItsGTIN14(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	ph1 := n.client(s.Tokens[net.Pharmacy1.GLN])
	p := net.Packs[net.Cases[0].Packs[3]] // at pharmacy 1
	gtin13, ok := strings.CutPrefix(p.GTIN, "0")
	if !ok {
		t.Fatalf("GTIN %s has no GTIN-13 form", p.GTIN)
	}
	sig := p.HRI[strings.Index(p.HRI, "(8030)")+len("(8030)"):]
	path := "/01/" + gtin13 + "/10/" + p.Lot + "/21/" + p.Serial + "?17=" + p.ExpiryAI

	var v struct {
		verifyAnswer
		Scan struct{ HRI string }
	}
	link := "https://id.gs1.org" + path + "&8030=" + sig
	if err := ph1.Do(t.Context(), "POST", "/api/v1/verify", "application/json", map[string]any{"scan": link}, &v); err != nil {
		t.Fatalf("verify %s: %v", link, err)
	}
	if v.Verdict != "authentic" || v.Signature.Status != "valid" || !strings.HasPrefix(v.Scan.HRI, "(01)"+p.GTIN) {
		t.Fatalf("verify %s: %+v", link, v)
	}

	var r verifyAnswer
	status, body := getWith(t, n, path, "application/json", s.Tokens[net.Pharmacy1.GLN])
	if status != 200 || json.Unmarshal([]byte(body), &r) != nil || r.Verdict != "authentic" || r.Pack == nil || r.Pack.Holder != net.Pharmacy1.GLN {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
}

// TestResolverAnonymousAnswerNamesNoParty: an anonymous resolution of a
// dispensed pack, and of a recalled one, says what happened without naming
// any organisation, as JSON and as a page; a signed-in caller still learns
// who dispensed the pack, where, and the product's manufacturer.
func TestResolverAnonymousAnswerNamesNoParty(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	orgs := []string{net.Manufacturer.GLN, net.Wholesaler.GLN, net.Pharmacy1.GLN, net.Pharmacy2.GLN, net.Regulator.GLN}
	// A GTIN holds its owner's GLN digits (same prefix and reference);
	// a GLN named is one not inside a longer number.
	named := func(body string) []string {
		var out []string
		for _, gln := range orgs {
			if regexp.MustCompile(`(^|[^0-9])` + gln + `([^0-9]|$)`).MatchString(body) {
				out = append(out, gln)
			}
		}
		return out
	}
	get := func(path, accept, token string) string {
		t.Helper()
		status, body := getWith(t, n, path, accept, token)
		if status != 200 {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
		return body
	}
	type answer struct {
		Verdict string
		Reasons []struct{ Verdict, Message string }
		Product struct{ Manufacturer string }
	}
	link := func(p demo.Pack) string {
		return "/01/" + p.GTIN + "/10/" + p.Lot + "/21/" + p.Serial + "?17=" + p.ExpiryAI
	}
	dispensed := link(net.Packs[s.Dispensed[0]])
	recalled := link(net.Packs[net.Cases[1].Packs[0]])
	// A link may carry the code's signature, whose key's owner is the
	// manufacturer.
	p := net.Packs[net.Cases[0].Packs[len(s.Dispensed)]] // a case's first packs are dispensed
	es, err := gs1.ParseScan(p.Scan)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := es.Get("8030")
	signed := link(p) + "&8030=" + sig
	// A code signed with another manufacturer's registered key: the rule
	// that refuses it names both organisations.
	other, err := demo.New(0xbad, 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	otherGLN := glnOf("4077777", 1)
	orgs = append(orgs, otherGLN)
	admin := n.client(n.adminToken)
	if err := admin.Do(t.Context(), "POST", "/api/v1/organisations", "application/json",
		map[string]any{"id": otherGLN, "name": "Other Pharma", "role": "manufacturer", "prefixes": []string{"4077777"}}, nil); err != nil {
		t.Fatal(err)
	}
	key := other.KeyPayload()
	key.OrgID = otherGLN
	if err := admin.Do(t.Context(), "POST", "/api/v1/keys", "application/json", key, nil); err != nil {
		t.Fatal(err)
	}
	otherScan, _, err := other.Sign(p.GTIN, p.ExpiryAI, p.Lot, p.Serial)
	if err != nil {
		t.Fatal(err)
	}
	otherES, err := gs1.ParseScan(otherScan)
	if err != nil {
		t.Fatal(err)
	}
	otherSig, _ := otherES.Get("8030")
	signedByAnother := link(p) + "&8030=" + otherSig
	for _, tc := range []struct {
		link, verdict string
	}{{dispensed, "already_dispensed"}, {recalled, "recalled"}, {signed, "authentic"}, {signedByAnother, "signature_invalid"}} {
		body := get(tc.link, "application/json", "")
		var v answer
		if err := json.Unmarshal([]byte(body), &v); err != nil || v.Verdict != tc.verdict || len(v.Reasons) == 0 || v.Reasons[0].Verdict != tc.verdict {
			t.Fatalf("anonymous JSON of %s: %v %s", tc.link, err, body)
		}
		if g := named(body); len(g) > 0 {
			t.Errorf("anonymous JSON of %s names %v: %s", tc.link, g, body)
		}
		page := get(tc.link, "text/html", "")
		if !strings.Contains(page, `id="verdict"`) || !strings.Contains(strings.ToLower(page), tc.verdict) {
			t.Fatalf("anonymous page of %s: %s", tc.link, page)
		}
		if g := named(page); len(g) > 0 {
			t.Errorf("anonymous page of %s names %v: %s", tc.link, g, page)
		}
	}

	// Signed in, the same link answers in full (and the anonymous answers
	// changed nothing the verify index shares).
	var v answer
	body := get(dispensed, "application/json", s.Tokens[net.Regulator.GLN])
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.Verdict != "already_dispensed" ||
		!strings.Contains(v.Reasons[0].Message, net.Pharmacy1.GLN) || v.Product.Manufacturer != net.Manufacturer.GLN {
		t.Fatalf("signed-in JSON: %v %s", err, body)
	}
}

// TestResolverRefusesOverlongLink: the anonymous resolver refuses a path
// and query longer than any Digital Link before parsing them, with a code
// a client can act on. (A megabyte of "/10/a" pairs once cost minutes of
// CPU here.)
func TestResolverRefusesOverlongLink(t *testing.T) {
	n := mustAPINode(t)
	get := func(path string) (int, string) {
		t.Helper()
		status, body := getWith(t, n, path, "application/json", "")
		var e apiErrorBody
		_ = json.Unmarshal([]byte(body), &e)
		return status, e.Error.Code
	}
	for name, path := range map[string]string{
		"long path":  "/01/09506000134352" + strings.Repeat("/10/a", 100_000),
		"long query": "/01/09506000134352?linkType=" + strings.Repeat("a", maxResolverLink),
	} {
		if status, code := get(path); status != http.StatusBadRequest || code != "link_too_long" {
			t.Errorf("%s: %d %s, want 400 link_too_long", name, status, code)
		}
	}
	// At the bound the link is parsed: this one has an unknown product.
	link := "/01/04012345000993?x=" + strings.Repeat("a", maxResolverLink-len("/01/04012345000993?x="))
	if status, code := get(link); code == "link_too_long" || status != http.StatusNotFound {
		t.Errorf("link of %d bytes: %d %s, want 404", len(link), status, code)
	}
}

// TestResolverKeepsParenthesesInValues: a serial or lot may hold "(" (CSET
// 82), and a Digital Link carries it as it is. The resolver and the VRS
// answer must judge the pack the link names, not what the link's HRI
// would read back as: "AB(1)" once failed to parse, and "K9(10)L9" read
// as serial K9 with lot L9.
func TestResolverKeepsParenthesesInValues(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 1)
	p := net.Packs[0]
	serials := []string{"AB(1)", "K9(10)L9"}
	var epcs []string
	for _, serial := range serials {
		epcs = append(epcs, demo.PackEPC(p.GTIN, serial))
	}
	doc := demo.Document(time.Now(), demo.Commission(time.Now(), net.Manufacturer.GLN, epcs, p.Lot, p.Expiry))
	if err := n.client(s.Tokens[net.Manufacturer.GLN]).Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", doc, nil); err != nil {
		t.Fatal(err)
	}
	get := func(path, token string, out any) {
		t.Helper()
		status, body := getWith(t, n, path, "application/json", token)
		if status != http.StatusOK || json.Unmarshal([]byte(body), out) != nil {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
	}
	for _, serial := range serials {
		for _, link := range []string{
			"/01/" + p.GTIN + "/21/" + serial,
			"/01/" + p.GTIN + "/10/" + p.Lot + "/21/" + serial + "?17=" + p.ExpiryAI,
		} {
			var v struct {
				Verdict string
				Pack    struct{ Serial, Lot string }
			}
			get(link, "", &v)
			if v.Verdict != "authentic" || v.Pack.Serial != serial || v.Pack.Lot != p.Lot {
				t.Errorf("%s: %+v, want pack %s authentic", link, v, serial)
			}
		}
		var vrs struct {
			Data struct{ Verified bool }
		}
		get("/01/"+p.GTIN+"/10/"+p.Lot+"/21/"+serial+"?17="+p.ExpiryAI+"&linkType=verificationService&context=dscsaSaleableReturn&reqGLN="+
			net.Wholesaler.GLN+"&corrUUID=0f2c6a8e-3b1d-4e5f-9a7b-1c2d3e4f5a6b", s.Tokens[net.Wholesaler.GLN], &vrs)
		if !vrs.Data.Verified {
			t.Errorf("VRS %s: %+v, want verified", serial, vrs)
		}
	}
}

// getWith GETs path from n, asking for accept (if given) with token (if
// given), and returns the status and body.
func getWith(t *testing.T, n *apiNode, path, accept, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", n.srv.URL+path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return fetch(t, n.srv.Client(), req)
}

// fetch does req with client and returns the status and body.
func fetch(t *testing.T, client *http.Client, req *http.Request) (int, string) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestResolverLinkToALot: a link to a lot (no serial) answers whether the
// lot is recalled, naming no party to an anonymous caller; and a lot no
// pack was commissioned in is said to be unknown, not "not recalled".
func TestResolverLinkToALot(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	recalled := net.Packs[net.Cases[1].Packs[0]]
	fine := net.Packs[net.Cases[0].Packs[0]]
	type answer struct {
		Product     struct{ Manufacturer string }
		LotOnLedger *bool `json:"lot_on_ledger"`
		Recall      *struct {
			By string `json:"by"`
		}
	}
	get := func(path, token string) answer {
		t.Helper()
		status, body := getWith(t, n, path, "application/json", token)
		var a answer
		if status != 200 || json.Unmarshal([]byte(body), &a) != nil {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
		return a
	}
	lotLink := func(p demo.Pack) string { return "/01/" + p.GTIN + "/10/" + p.Lot }

	anon := get(lotLink(recalled), "")
	if anon.Recall == nil || anon.Recall.By != "" || anon.Product.Manufacturer != "" {
		t.Fatalf("anonymous answer for the recalled lot: %+v", anon)
	}
	full := get(lotLink(recalled), s.Tokens[net.Regulator.GLN])
	if full.Recall == nil || full.Recall.By != net.Manufacturer.GLN || full.Product.Manufacturer != net.Manufacturer.GLN {
		t.Fatalf("signed-in answer for the recalled lot: %+v", full)
	}
	if page := mustPage(t, n, lotLink(recalled)); strings.Contains(page, net.Manufacturer.GLN) {
		t.Errorf("the anonymous page names the manufacturer:\n%s", page)
	}

	if a := get(lotLink(fine), ""); a.Recall != nil || a.LotOnLedger == nil || !*a.LotOnLedger {
		t.Fatalf("a lot on the ledger: %+v", a)
	}
	if page := mustPage(t, n, lotLink(fine)); !strings.Contains(page, "is not recalled") {
		t.Errorf("the page for a lot on the ledger:\n%s", page)
	}
	unknown := "/01/" + fine.GTIN + "/10/NOSUCHLOT"
	if a := get(unknown, ""); a.Recall != nil || a.LotOnLedger == nil || *a.LotOnLedger {
		t.Fatalf("a lot nobody made: %+v", a)
	}
	if page := mustPage(t, n, unknown); strings.Contains(page, "is not recalled") || !strings.Contains(page, `id="lot-unknown"`) {
		t.Errorf("the page for a lot nobody made reassures:\n%s", page)
	}
}

// mustPage GETs path from n as a browser, anonymous, and returns the page.
func mustPage(t *testing.T, n *apiNode, path string) string {
	t.Helper()
	status, body := getWith(t, n, path, "text/html", "")
	if status != 200 {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	return body
}

// TestResolverIgnoresTheSessionOfPagesThatAreNotNavigations: a signed-in
// browser opening a pack's link checks it in full (and raises an alert for
// a suspect pack); the same URL fetched by another page (an image, a
// script on a sibling subdomain) is answered as to anyone, and raises
// nothing in the user's name.
func TestResolverIgnoresTheSessionOfPagesThatAreNotNavigations(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 20)
	cookie := mustSignIn(t, n, s.Tokens[net.Pharmacy1.GLN])
	p := net.Packs[0]
	alerts := func() int {
		var out struct{ Alerts []json.RawMessage }
		if st, _ := call(t, n.srv.URL, "GET", "/api/v1/alerts", s.Tokens[net.Pharmacy1.GLN], nil, &out); st != 200 {
			t.Fatalf("alerts: %d", st)
		}
		return len(out.Alerts)
	}
	open := func(serial string, headers map[string]string) {
		t.Helper()
		req, _ := http.NewRequest("GET", n.srv.URL+"/01/"+p.GTIN+"/21/"+serial, nil)
		req.Header.Set("Accept", "application/json")
		req.AddCookie(cookie)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := n.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", serial, resp.StatusCode)
		}
	}
	before := alerts()
	open("NOTMADE1", map[string]string{"Sec-Fetch-Site": "same-site", "Sec-Fetch-Dest": "image"})
	open("NOTMADE2", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "document"})
	open("NOTMADE3", map[string]string{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Dest": "empty"})
	if got := alerts(); got != before {
		t.Fatalf("fetches that were not navigations raised %d alerts", got-before)
	}
	open("NOTMADE4", map[string]string{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Dest": "document"})
	open("NOTMADE5", nil) // no Fetch Metadata: an older browser, or typed in
	if got := alerts(); got != before+2 {
		t.Fatalf("navigations raised %d alerts, want 2", got-before)
	}
}

// TestResolverReadsEveryQueryParameterOrRefuses: the link's query goes to
// the Digital Link parser as it came. A pair url.Values cannot decode was
// dropped without a word, and with it an expiry that did not match: the
// link verified as one without an expiry.
func TestResolverReadsEveryQueryParameterOrRefuses(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	p := net.Packs[net.Cases[0].Packs[len(s.Dispensed)]]
	link := "/01/" + p.GTIN + "/10/" + p.Lot + "/21/" + p.Serial
	for query, want := range map[string]string{
		"?17=" + p.ExpiryAI:                 "authentic",
		"?17=991231":                        "expiry_mismatch",
		"?%31%37=991231":                    "expiry_mismatch", // the key 17, percent-encoded
		"?linkType=all&17=991231&context=x": "expiry_mismatch",
		"?17=9912%3":                        "400 bad_gs1",
		"?1%7=991231":                       "400 bad_gs1",
		"?17=" + p.ExpiryAI + "&linkType=gs1%3Zpip":                                "400 bad_gs1",
		"?17=" + p.ExpiryAI + "&linkType=gs1:verificationService&linkType=gs1:pip": "400 query_parameter",
		"?17=" + p.ExpiryAI + "&consistency=linearizable":                          "authentic",
		"?17=" + p.ExpiryAI + "&consistency=bogus":                                 "400 bad_consistency",
	} {
		status, body := getWith(t, n, link+query, "application/json", "")
		var v struct {
			Verdict string
			Error   struct{ Code string }
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("%s: %d %s", query, status, body)
		}
		got := v.Verdict
		if status != http.StatusOK {
			got = fmt.Sprintf("%d %s", status, v.Error.Code)
		}
		if got != want {
			t.Errorf("%s: %s, want %s (%s)", query, got, want, body)
		}
	}
	// A browser gets its errors, the level's too, as a page.
	status, body := getWith(t, n, link+"?17="+p.ExpiryAI+"&consistency=bogus", "text/html", "")
	if status != http.StatusBadRequest || !strings.Contains(body, "<html") || !strings.Contains(body, "consistency") {
		t.Errorf("a browser's bogus level: %d %s", status, body)
	}
}
