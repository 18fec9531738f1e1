package server

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// TestDashboardConsistencyCheckCatchesARewrite signs in with a form, keeps
// the tree head, writes more, and checks the ledger page proves the new
// tree extends the kept one, and refuses a root that was never the
// ledger's.
func TestDashboardConsistencyCheckCatchesARewrite(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	kept := n.store.Head()
	if err := n.client(s.Tokens[net.Manufacturer.GLN]).Do(t.Context(), "POST", "/api/v1/recalls", "application/json",
		map[string]any{"gtin": net.Products[0].GTIN, "lot": net.LotA}, nil); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: n.srv.Client().Transport}
	resp, err := browser.PostForm(n.srv.URL+"/login", url.Values{"token": {s.Tokens[net.Regulator.GLN]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	page := func(q string) string {
		t.Helper()
		resp, err := browser.Get(n.srv.URL + "/ui/ledger?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	good := page(url.Values{"old_size": {strconv.FormatUint(kept.Size, 10)}, "old_root": {hex.EncodeToString(kept.Root)}}.Encode())
	if !strings.Contains(good, `id="consistency-result" class="ok">Verified`) {
		t.Fatalf("kept head not proven consistent:\n%s", good)
	}
	forged := append([]byte(nil), kept.Root...)
	forged[0] ^= 1
	bad := page(url.Values{"old_size": {strconv.FormatUint(kept.Size, 10)}, "old_root": {hex.EncodeToString(forged)}}.Encode())
	if !strings.Contains(bad, `id="consistency-result" class="bad">FAILED`) {
		t.Fatalf("a forged root passed:\n%s", bad)
	}
	if p := page("seq=3"); !strings.Contains(p, `id="proof-result" class="ok">Verified`) {
		t.Fatalf("inclusion of entry 3:\n%s", p)
	}
	// Signed out, the ledger page is the sign-in form.
	resp, err = n.srv.Client().Get(n.srv.URL + "/ui/ledger")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), `action="/login"`) {
		t.Fatalf("signed out: %d", resp.StatusCode)
	}
}

// noRedirect is a client for n that shows redirects instead of following
// them, so a test sees each answer's cookies.
func noRedirect(n *apiNode) *http.Client {
	return &http.Client{Transport: n.srv.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// mustSignIn posts token to /login and returns the session cookie it sets.
func mustSignIn(t *testing.T, n *apiNode, token string) *http.Cookie {
	t.Helper()
	resp, err := noRedirect(n).PostForm(n.srv.URL+"/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	t.Fatalf("sign in set no %s cookie: %v", sessionCookie, resp.Header.Values("Set-Cookie"))
	return nil
}

// dashboardGet fetches path with the session cookie id (none if empty)
// and returns the status, the body and the cookies set.
func dashboardGet(t *testing.T, n *apiNode, path, id string) (int, string, []*http.Cookie) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", n.srv.URL+path, nil)
	if id != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: id})
	}
	resp, err := noRedirect(n).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Cookies()
}

// signedOut reports whether a page is the sign-in form answered 401.
func signedOut(status int, body string) bool {
	return status == http.StatusUnauthorized && strings.Contains(body, `action="/login"`)
}

// mustIssueToken issues a fresh token for the admin organisation.
func mustIssueToken(t *testing.T, n *apiNode) (token, hash string) {
	t.Helper()
	var out struct {
		Token       string `json:"token"`
		TokenSHA256 string `json:"token_sha256"`
	}
	if err := n.client(n.adminToken).Do(t.Context(), "POST", "/api/v1/organisations/admin/tokens", "application/json", map[string]any{}, &out); err != nil {
		t.Fatal(err)
	}
	return out.Token, out.TokenSHA256
}

// TestDashboardCookieHoldsASessionNotTheToken signs in and checks the
// cookie: a fresh 32-byte random id that is neither the token nor its
// hash, HttpOnly, SameSite=Strict, for the whole site; then signs out and
// checks the server forgot the session, so a kept copy of the cookie no
// longer signs anyone in.
func TestDashboardCookieHoldsASessionNotTheToken(t *testing.T) {
	n := mustAPINode(t)
	token, hash := mustIssueToken(t, n)
	c := mustSignIn(t, n, token)
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	switch {
	case err != nil || len(raw) != 32:
		t.Fatalf("session id %q is not 32 bytes of base64url: %v", c.Value, err)
	case strings.Contains(c.Value, token) || strings.Contains(token, c.Value) || strings.Contains(c.Value, hash):
		t.Fatal("the cookie carries the token")
	case !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure:
		t.Fatalf("cookie attributes: HttpOnly %v SameSite %v Path %q Secure %v (plain HTTP)", c.HttpOnly, c.SameSite, c.Path, c.Secure)
	case c.MaxAge != int(sessionLifetime.Seconds()):
		t.Fatalf("cookie Max-Age %d", c.MaxAge)
	}
	if again := mustSignIn(t, n, token); again.Value == c.Value {
		t.Fatal("two sign-ins got the same session id")
	}
	if st, body, _ := dashboardGet(t, n, "/ui/alerts", c.Value); st != http.StatusOK || signedOut(st, body) {
		t.Fatalf("signed in, alerts answer %d", st)
	}
	// The API does not take a session id for a token.
	if err := n.client(c.Value).Do(t.Context(), "GET", "/api/v1/recalls", "", nil, nil); err == nil {
		t.Fatal("the session id works as a bearer token")
	}

	req, _ := http.NewRequestWithContext(t.Context(), "POST", n.srv.URL+"/logout", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: c.Value})
	resp, err := noRedirect(n).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cleared := false
	for _, k := range resp.Cookies() {
		cleared = cleared || (k.Name == sessionCookie && k.MaxAge < 0)
	}
	if resp.StatusCode != http.StatusSeeOther || !cleared {
		t.Fatalf("sign out: %d, cookies %v", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
	if st, body, _ := dashboardGet(t, n, "/ui/alerts", c.Value); !signedOut(st, body) {
		t.Fatalf("a kept copy of the cookie still signs in after sign-out: %d", st)
	}
	// The token itself is untouched by signing out.
	if err := n.client(token).Do(t.Context(), "GET", "/api/v1/recalls", "", nil, nil); err != nil {
		t.Fatalf("the token after sign-out: %v", err)
	}
}

// TestDashboardSessionEndsWhenItsTokenIsRevoked revokes the token a
// browser signed in with: its next page is the sign-in form, the cookie is
// cleared, and another token's session is unaffected.
func TestDashboardSessionEndsWhenItsTokenIsRevoked(t *testing.T) {
	n := mustAPINode(t)
	token, hash := mustIssueToken(t, n)
	doomed, other := mustSignIn(t, n, token), mustSignIn(t, n, n.adminToken)
	for _, id := range []string{doomed.Value, other.Value} {
		if st, body, _ := dashboardGet(t, n, "/ui/recalls", id); st != http.StatusOK || signedOut(st, body) {
			t.Fatalf("signed in, recalls answer %d", st)
		}
	}
	if err := n.client(n.adminToken).Do(t.Context(), "DELETE", "/api/v1/tokens/"+hash, "", nil, nil); err != nil {
		t.Fatal(err)
	}
	st, body, cookies := dashboardGet(t, n, "/ui/recalls", doomed.Value)
	if !signedOut(st, body) {
		t.Fatalf("the revoked token's session still answers %d", st)
	}
	if len(cookies) != 1 || cookies[0].Name != sessionCookie || cookies[0].MaxAge >= 0 {
		t.Fatalf("the dead session's cookie was not cleared: %v", cookies)
	}
	if st, body, _ := dashboardGet(t, n, "/ui/recalls", other.Value); st != http.StatusOK || signedOut(st, body) {
		t.Fatalf("another token's session answers %d", st)
	}
	if st, body, _ := dashboardGet(t, n, "/ui/recalls", doomed.Value); !signedOut(st, body) {
		t.Fatalf("the revoked session came back: %d", st)
	}
	// Signing in again with the revoked token fails.
	resp, err := noRedirect(n).PostForm(n.srv.URL+"/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Fatalf("sign in with a revoked token: %d %v", resp.StatusCode, resp.Cookies())
	}
}

// TestDashboardRefusesFormsPostedFromAnotherSite: a browser marks a form
// posted from another site (Sec-Fetch-Site); the dashboard neither signs
// in nor acts on it, with or without a session cookie.
func TestDashboardRefusesFormsPostedFromAnotherSite(t *testing.T) {
	n := mustAPINode(t)
	id := mustSignIn(t, n, n.adminToken).Value
	// By Fetch Metadata, or, from a browser that sends none, by Origin.
	for _, from := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "https://evil.example"},
	} {
		site := fmt.Sprint(from)
		for _, tc := range []struct {
			path string
			form url.Values
		}{{"/login", url.Values{"token": {n.adminToken}}}, {"/ui/verify", url.Values{"scan": {"(01)09501101530003(21)X"}}}, {"/logout", nil}} {
			req, _ := http.NewRequestWithContext(t.Context(), "POST", n.srv.URL+tc.path, strings.NewReader(tc.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range from {
				req.Header.Set(k, v)
			}
			req.AddCookie(&http.Cookie{Name: sessionCookie, Value: id})
			resp, err := noRedirect(n).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
				t.Fatalf("%s POST %s: %d, cookies %v", site, tc.path, resp.StatusCode, resp.Cookies())
			}
		}
	}
	if st, body, _ := dashboardGet(t, n, "/ui/alerts", id); st != http.StatusOK || signedOut(st, body) {
		t.Fatalf("the refused logout ended the session: %d", st)
	}
}

// TestSessionStoreExpiresAndStaysBounded checks the session table on a
// fake clock: the idle timeout, the absolute lifetime however busy, and
// the bound, which evicts the session idle longest.
func TestSessionStoreExpiresAndStaysBounded(t *testing.T) {
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	s := newSessionStore()
	s.now = func() time.Time { return now }
	mustCreate := func(org string) string {
		t.Helper()
		id, err := s.create(org, "h-"+org)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}

	start := now
	idle := mustCreate("idle")
	busy := mustCreate("busy")
	// Used every quarter of an hour, a session lives its 12 hours and no
	// longer; one never used again dies after the idle timeout.
	for now.Sub(start) < sessionLifetime-sessionIdle/2 {
		now = now.Add(sessionIdle / 2)
		if _, ok := s.get(busy); !ok {
			t.Fatalf("a busy session ended after %v", now.Sub(start))
		}
	}
	now = start.Add(sessionLifetime)
	if _, ok := s.get(busy); ok {
		t.Fatal("a busy session outlived its 12 h")
	}
	if _, ok := s.get(idle); ok {
		t.Fatal("an idle session outlived the idle timeout")
	}
	// Each use restarts the idle timeout.
	dozy := mustCreate("dozy")
	for range 2 {
		now = now.Add(sessionIdle - time.Second)
		if _, ok := s.get(dozy); !ok {
			t.Fatal("a session used within the idle timeout ended")
		}
	}
	now = now.Add(sessionIdle)
	if _, ok := s.get(dozy); ok {
		t.Fatal("a session idle for the idle timeout lives on")
	}
	if s.len() != 0 {
		t.Fatalf("expired sessions kept: %d", s.len())
	}

	s.max = 3
	ids := []string{mustCreate("a"), mustCreate("b"), mustCreate("c")}
	now = now.Add(time.Minute)
	s.get(ids[0])
	s.get(ids[2])
	d := mustCreate("d") // full: b, idle longest, goes
	if s.len() != 3 {
		t.Fatalf("%d sessions, bound 3", s.len())
	}
	for i, want := range map[string]bool{ids[0]: true, ids[1]: false, ids[2]: true, d: true} {
		if ss, ok := s.get(i); ok != want {
			t.Fatalf("session %s alive %v, want %v", ss.org, ok, want)
		}
	}
	if ss, _ := s.get(d); ss.org != "d" || ss.tokenHash != "h-d" {
		t.Fatalf("stored session = %+v", ss)
	}
	s.delete(d)
	if _, ok := s.get(d); ok {
		t.Fatal("a deleted session lives on")
	}
}

// TestAnOrganisationsSignInsEndOnlyItsOwnSessions: an organisation's
// share of the session table is bounded, so signing in over and over
// with its tokens (any organisation may issue itself more) evicts its
// own sessions, idle longest first, and never another organisation's,
// such as a regulator's.
func TestAnOrganisationsSignInsEndOnlyItsOwnSessions(t *testing.T) {
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	s := newSessionStore()
	s.now = func() time.Time { return now }
	s.max, s.maxOrg = 5, 2
	create := func(org string) string {
		t.Helper()
		now = now.Add(time.Second)
		id, err := s.create(org, "h-"+org)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	regulator := create("regulator")
	first, second := create("pharmacy"), create("pharmacy")
	now = now.Add(time.Second)
	s.get(first) // second is now the pharmacy's idle longest
	third := create("pharmacy")
	for id, want := range map[string]bool{regulator: true, first: true, second: false, third: true} {
		if _, ok := s.get(id); ok != want {
			t.Errorf("after the pharmacy's third sign-in: session alive %v, want %v", ok, want)
		}
	}
	ids := []string{regulator}
	for range 10 * s.max {
		ids = append(ids, create("pharmacy"))
	}
	for i, id := range ids {
		want := i == 0 || i >= len(ids)-2 // the regulator's and the pharmacy's last two
		if _, ok := s.get(id); ok != want {
			t.Errorf("after 10 tables' worth of the pharmacy's sign-ins: session %d alive %v, want %v", i, ok, want)
		}
	}
	if s.len() != 3 || s.perOrg["pharmacy"] != 2 || s.perOrg["regulator"] != 1 {
		t.Errorf("%d sessions, per organisation %v; want 3: the pharmacy's 2, the regulator's 1", s.len(), s.perOrg)
	}
	// Sessions ended every other way leave the counts right.
	s.delete(ids[len(ids)-1])
	now = now.Add(sessionIdle)
	for _, id := range ids {
		s.get(id)
	}
	if s.len() != 0 || len(s.perOrg) != 0 {
		t.Errorf("%d sessions, per organisation %v, once all ended", s.len(), s.perOrg)
	}
}

// TestTheSessionCookieIsSecureBehindAnHTTPSProxy: nodes serve plain HTTP
// behind a load balancer that ends TLS; the cookie is Secure when the
// proxy says the browser came over HTTPS, and not on plain HTTP (where a
// browser would never send it back).
func TestTheSessionCookieIsSecureBehindAnHTTPSProxy(t *testing.T) {
	n := mustAPINode(t)
	for proto, secure := range map[string]bool{"https": true, "HTTPS": true, "http": false, "": false} {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", n.srv.URL+"/login", strings.NewReader(url.Values{"token": {n.adminToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if proto != "" {
			req.Header.Set("X-Forwarded-Proto", proto)
		}
		resp, err := noRedirect(n).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var got *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == sessionCookie {
				got = c
			}
		}
		if got == nil || got.Secure != secure {
			t.Errorf("X-Forwarded-Proto %q: cookie %v, want Secure %v", proto, got, secure)
		}
	}
}

// mustBrowserSignIn returns a cookie-jar client for n's dashboard, signed
// in with token through the login form.
func mustBrowserSignIn(t *testing.T, srv *httptest.Server, token string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: srv.Client().Transport}
	resp, err := browser.PostForm(srv.URL+"/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		t.Fatalf("sign in: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	return browser
}

// browse fetches a dashboard path with the browser and returns the status
// and the page.
func browse(t *testing.T, browser *http.Client, base, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+path, nil)
	return fetch(t, browser, req)
}

// TestDashboardLotSaysItsPacksAreTruncated asks for a lot of more packs
// than a chain of custody lists: the API says so (items_truncated) and
// the page says how many it shows; a pack's answer does not.
func TestDashboardLotSaysItsPacksAreTruncated(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 220) // lot A: 6 cases of 20
	gtin := net.Products[0].GTIN
	reg := n.client(s.Tokens[net.Regulator.GLN])
	var lot, pack struct {
		Items          []models.Item `json:"items"`
		ItemsTruncated bool          `json:"items_truncated"`
	}
	if err := reg.Do(t.Context(), "GET", "/api/v1/provenance/lots/"+gtin+"/"+net.LotA, "", nil, &lot); err != nil {
		t.Fatal(err)
	}
	if len(lot.Items) != models.MaxCustodyItems || !lot.ItemsTruncated {
		t.Fatalf("lot of 120 packs: %d items, items_truncated %v", len(lot.Items), lot.ItemsTruncated)
	}
	pk := net.Packs[0]
	if err := reg.Do(t.Context(), "GET", "/api/v1/provenance/packs/"+pk.GTIN+"/"+pk.Serial, "", nil, &pack); err != nil {
		t.Fatal(err)
	}
	if len(pack.Items) != 1 || pack.ItemsTruncated {
		t.Fatalf("a pack: %d items, items_truncated %v", len(pack.Items), pack.ItemsTruncated)
	}

	browser := mustBrowserSignIn(t, n.srv, s.Tokens[net.Regulator.GLN])
	_, page := browse(t, browser, n.srv.URL, "/ui/provenance?q="+url.QueryEscape(models.LotKey(gtin, net.LotA)))
	if !strings.Contains(page, `id="items-truncated">Showing 100 of the lot's packs; it has more.`) {
		t.Fatalf("the lot's page does not say its packs are cut:\n%s", page)
	}
}

// mustProposeAll commits cmds in one proposal as the cluster and fails
// the test unless every one is accepted.
func mustProposeAll(t *testing.T, n *apiNode, kind models.CommandKind, payloads ...any) {
	t.Helper()
	cmds := make([]models.Command, len(payloads))
	for i, p := range payloads {
		cmd, err := models.NewCommand("", kind, "", time.Time{}, p)
		if err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	res, err := n.store.Propose(t.Context(), cmds...)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.Accepted {
			t.Fatalf("%s rejected: %s %s", kind, r.Code, r.Message)
		}
	}
}

// rowsIn counts the table rows of a page that link to a ledger entry: one
// per alert or recall.
func rowsIn(page string) int { return strings.Count(page, `<tr><td><a href="/ui/ledger?seq=`) }

// olderLink returns the page's "older" link, HTML-unescaped.
func olderLink(t *testing.T, page, path string) string {
	t.Helper()
	m := regexp.MustCompile(`href="(` + regexp.QuoteMeta(path) + `\?before=\d+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no link to older rows of %s", path)
	}
	return html.UnescapeString(m[1])
}

// TestDashboardListsSayWhenOlderRowsExist fills the ledger with more
// alerts and recalls than a dashboard page shows: each page says so and
// links to the older ones, which the next page shows; the recalls page
// shows as many as the API answers.
func TestDashboardListsSayWhenOlderRowsExist(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	var alerts, recalls []any
	for i := range alertsPageSize + 1 {
		alerts = append(alerts, models.AlertPayload{Verdict: models.VerdictUnknownSerial, Message: "alert " + strconv.Itoa(i)})
	}
	for i := range recallsPageSize + 1 {
		recalls = append(recalls, models.RecallPayload{GTIN: net.Products[0].GTIN, Lot: "R" + strconv.Itoa(i)})
	}
	mustProposeAll(t, n, models.KindAlert, alerts...)
	mustProposeAll(t, n, models.KindRecall, recalls...)
	browser := mustBrowserSignIn(t, n.srv, s.Tokens[net.Regulator.GLN])

	_, overview := browse(t, browser, n.srv.URL, "/")
	for _, want := range []string{`id="alerts-more">Showing the newest 20; older ones exist.`, `id="recalls-more">Showing the newest 20; older ones exist.`} {
		if !strings.Contains(overview, want) {
			t.Errorf("the overview lacks %q", want)
		}
	}

	for _, list := range []struct {
		path, more string
		limit      int
	}{
		{"/ui/alerts", `id="alerts-more">Showing the newest 500; older ones exist.`, alertsPageSize},
		{"/ui/recalls", `id="recalls-more">Showing the newest 1000; older ones exist.`, recallsPageSize},
	} {
		st, first := browse(t, browser, n.srv.URL, list.path)
		if st != http.StatusOK || !strings.Contains(first, list.more) || rowsIn(first) != list.limit {
			t.Fatalf("%s: %d, %d rows, notice %v", list.path, st, rowsIn(first), strings.Contains(first, list.more))
		}
		st, older := browse(t, browser, n.srv.URL, olderLink(t, first, list.path))
		if st != http.StatusOK || rowsIn(older) == 0 || strings.Contains(older, "older ones exist") {
			t.Fatalf("%s, older: %d, %d rows", list.path, st, rowsIn(older))
		}
	}

	var api struct {
		Recalls []models.Recall `json:"recalls"`
	}
	if err := n.client(s.Tokens[net.Regulator.GLN]).Do(t.Context(), "GET", "/api/v1/recalls", "", nil, &api); err != nil {
		t.Fatal(err)
	}
	if len(api.Recalls) != recallsPageSize {
		t.Fatalf("the API lists %d recalls, the dashboard %d", len(api.Recalls), recallsPageSize)
	}
}

// TestDashboardErrorPagesClaimNoEmptyLists checks that a page answering an
// error says what went wrong and offers the searches again, and never
// says there are no alerts or recalls when there are.
func TestDashboardErrorPagesClaimNoEmptyLists(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	browser := mustBrowserSignIn(t, n.srv, s.Tokens[net.Regulator.GLN])
	if _, overview := browse(t, browser, n.srv.URL, "/"); strings.Contains(overview, "No alerts.") || strings.Contains(overview, "No recalls.") {
		t.Fatal("the seeded ledger has no alerts or recalls")
	}
	for _, tc := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/ui/provenance?q=" + url.QueryEscape("not a code"), http.StatusBadRequest, "Not a GS1 code"},
		{"/ui/provenance?q=" + url.QueryEscape("(01)"+net.Products[0].GTIN+"(21)NOSUCHPACK"), http.StatusNotFound, "is not on the ledger"},
		{"/ui/alerts?before=x", http.StatusBadRequest, "before must be a positive id"},
	} {
		st, page := browse(t, browser, n.srv.URL, tc.path)
		switch {
		case st != tc.status || !strings.Contains(page, tc.msg):
			t.Errorf("%s: %d, want %d and %q:\n%s", tc.path, st, tc.status, tc.msg, page)
		case strings.Contains(page, "No alerts.") || strings.Contains(page, "No recalls."):
			t.Errorf("%s: the error page claims empty lists:\n%s", tc.path, page)
		case !strings.Contains(page, `action="/ui/provenance"`) || !strings.Contains(page, `action="/ui/verify"`):
			t.Errorf("%s: the error page lacks the search forms", tc.path)
		}
	}
}

// TestDashboardLedgerErrorsAreMessagesNotCodes asks the ledger page for an
// entry beyond the tree: it says so in words, without the API's code.
func TestDashboardLedgerErrorsAreMessagesNotCodes(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	browser := mustBrowserSignIn(t, n.srv, s.Tokens[net.Regulator.GLN])
	st, page := browse(t, browser, n.srv.URL, "/ui/ledger?seq=999999")
	if st != http.StatusNotFound || !strings.Contains(page, `role="alert">The ledger has `) || strings.Contains(page, "not_found") {
		t.Fatalf("entry beyond the tree: %d\n%s", st, page)
	}
}

// writtenBetweenReads is a ledger that another writer appends to every
// time its tree head is read, but the first: a busy ledger at its worst.
type writtenBetweenReads struct {
	LifecycleLedger
	t     *testing.T
	reads atomic.Int64
}

func (l *writtenBetweenReads) Head() raftstore.Head {
	if l.reads.Add(1) > 1 {
		cmd, err := models.NewCommand("", models.KindAlert, "", time.Time{}, models.AlertPayload{Verdict: models.VerdictUnknownSerial})
		if err == nil {
			_, err = l.LifecycleLedger.Propose(context.Background(), cmd)
		}
		if err != nil {
			l.t.Errorf("write between reads: %v", err)
		}
	}
	return l.LifecycleLedger.Head()
}

// TestDashboardLedgerPageShowsTheHeadItChecked checks the ledger page on
// a ledger written to while the page is made: the signed tree head it
// shows is the one the inclusion and consistency proofs were checked
// against.
func TestDashboardLedgerPageShowsTheHeadItChecked(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	kept := n.store.Head()
	busy := &writtenBetweenReads{LifecycleLedger: n.store, t: t}
	dash, err := NewDashboard(busy)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Create(n.store, nil, dash))
	t.Cleanup(srv.Close)
	browser := mustBrowserSignIn(t, srv, s.Tokens[net.Regulator.GLN])

	busy.reads.Store(0)
	q := url.Values{"seq": {"3"}, "old_size": {strconv.FormatUint(kept.Size, 10)}, "old_root": {hex.EncodeToString(kept.Root)}}
	_, page := browse(t, browser, srv.URL, "/ui/ledger?"+q.Encode())
	m := regexp.MustCompile(`id="proof-result" class="ok">Verified: entry 3 is in the signed tree of size (\d+)\.`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("inclusion of entry 3 not verified:\n%s", page)
	}
	size := m[1]
	for _, want := range []string{
		"<dt>Size</dt><dd>" + size + "</dd>",
		`id="consistency-result" class="ok">Verified: the ledger of ` + size + " entries extends",
		"tree size " + size + " ·",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the proof was checked against the tree of size %s, but the page lacks %q:\n%s", size, want, page)
		}
	}
}

// TestDashboardLinksKeepParenthesesInLotsAndSerials follows the
// dashboard's links to a recalled lot "L(21)X" and an alert's pack
// "AB(10)X": each reaches that lot or pack, not one made of the value's
// pieces read as AIs.
func TestDashboardLinksKeepParenthesesInLotsAndSerials(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	gtin := net.Products[0].GTIN
	mustProposeAll(t, n, models.KindRecall, models.RecallPayload{GTIN: gtin, Lot: "L(21)X"})
	mustProposeAll(t, n, models.KindAlert, models.AlertPayload{Verdict: models.VerdictUnknownSerial, GTIN: gtin, Serial: "AB(10)X",
		Scanned: "(01)" + gtin + "(21)AB(10)X"})
	browser := mustBrowserSignIn(t, n.srv, s.Tokens[net.Regulator.GLN])
	links := regexp.MustCompile(`href="(/ui/provenance\?[^"]*)"`)
	for _, tc := range []struct{ page, key string }{
		{"/", models.LotKey(gtin, "L(21)X")},
		{"/ui/recalls", models.LotKey(gtin, "L(21)X")},
		{"/", models.PackKey(gtin, "AB(10)X")},
	} {
		_, page := browse(t, browser, n.srv.URL, tc.page)
		found := false
		for _, m := range links.FindAllStringSubmatch(page, -1) {
			_, got := browse(t, browser, n.srv.URL, html.UnescapeString(m[1]))
			if strings.Contains(got, html.EscapeString(tc.key)+" is not on the ledger") {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no link on %s leads to %s", tc.page, tc.key)
		}
	}
}

// TestADashboardPageRefusesAQueryThatDoesNotDecode: a page reads its
// parameters as url.Values does, which drops one that does not decode (or
// holds ";"), and the page then answered another question: a lot's chain
// of custody for a pack's, a tree head without the proof asked for. Such
// a query gets an error page instead.
func TestADashboardPageRefusesAQueryThatDoesNotDecode(t *testing.T) {
	n := mustAPINode(t)
	net, _ := mustSeed(t, n, 20)
	session := mustSignIn(t, n, n.adminToken).Value
	p := net.Packs[0]
	for _, path := range []string{
		"/ui/provenance?gtin=" + p.GTIN + "&serial=" + p.Serial + "%zz&lot=" + p.Lot,
		"/ui/ledger?seq=3;",
		"/ui/alerts?before=%zz",
	} {
		status, body, _ := dashboardGet(t, n, path, session)
		if status != http.StatusBadRequest || !strings.Contains(body, "does not decode") {
			t.Errorf("GET %s: %d, want 400 and an error page", path, status)
		}
	}
	if status, _, _ := dashboardGet(t, n, "/ui/provenance?gtin="+p.GTIN+"&serial="+p.Serial, session); status != http.StatusOK {
		t.Errorf("the pack's page: %d", status)
	}
}
