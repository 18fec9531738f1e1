package server

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium. Missing, the test fails under CI
// (which installs it) and skips elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install -y chromium); CI=true requires it")
	}
	t.Skip("chromium is not installed; apt-get install -y chromium")
	return ""
}

// mustBrowser starts headless Chromium for the test and returns its
// context, which ends with the test or after 90 seconds.
func mustBrowser(t *testing.T, chrome string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestDashboardInChromiumShowsCustodyAlertsAndProofs drives the dashboard in
// headless Chromium on a real seeded node: sign in with the regulator's
// token, see the falsified pack's alert and the recall, search a pack's
// chain of custody, follow an event to its ledger entry and see its
// inclusion proof verified against the signed tree head. No page carries a
// script: everything is forms and links.
func TestDashboardInChromiumShowsCustodyAlertsAndProofs(t *testing.T) {
	chrome := chromiumPath(t)
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	pk := net.Packs[net.Cases[0].Packs[3]]

	ctx := mustBrowser(t, chrome)

	text := func(sel chromedp.CSS) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	if err := chromedp.Do(ctx,
		chromedp.Navigate(n.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), s.Tokens[net.Regulator.GLN]),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button`)),
		chromedp.WaitVisible(chromedp.CSS("table.alerts")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	alerts, recalls := text("table.alerts"), text("table.recalls")
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(alerts, "unknown_serial") || !strings.Contains(alerts, "FALSIFIED0001") {
		t.Fatalf("the overview's alerts lack the falsified pack: %q", alerts)
	}
	if !strings.Contains(recalls, net.LotB) {
		t.Fatalf("the overview's recalls lack lot %s: %q", net.LotB, recalls)
	}
	if strings.Contains(html, "<script") {
		t.Fatal("the overview carries a script; the dashboard must work without JavaScript")
	}

	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("q"), pk.HRI),
		chromedp.Click(chromedp.CSS(`form[action="/ui/provenance"] button`)),
		chromedp.WaitVisible(chromedp.ID("prov-key")),
	); err != nil {
		t.Fatalf("provenance: %v", err)
	}
	if key := text("#prov-key"); key != "(01)"+pk.GTIN+"(21)"+pk.Serial {
		t.Fatalf("provenance of %q, want the pack", key)
	}
	events := text("ol.events")
	for _, step := range []string{"commissioning", "packing", "shipping", "receiving", "unpacking"} {
		if !strings.Contains(events, step) {
			t.Fatalf("chain of custody lacks %s: %q", step, events)
		}
	}

	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("ol.events li:last-child .seq a")),
		chromedp.WaitVisible(chromedp.ID("proof-result")),
	); err != nil {
		t.Fatalf("inclusion proof: %v", err)
	}
	if result := text("#proof-result"); !strings.HasPrefix(result, "Verified: entry") {
		t.Fatalf("proof check says %q", result)
	}
}

// TestDashboardInChromiumSessionHoldsNoTokenAndEnds signs in with a real
// browser and reads its cookie jar: the one cookie is an HttpOnly,
// SameSite=Strict session id, not the token, and the page's script cannot
// see it. Signing out ends the session on the server (a restored copy of
// the cookie signs nobody in), and revoking the token of a signed-in
// browser puts it back at the sign-in form on its next page.
func TestDashboardInChromiumSessionHoldsNoTokenAndEnds(t *testing.T) {
	chrome := chromiumPath(t)
	n := mustAPINode(t)
	ctx := mustBrowser(t, chrome)
	signIn := func(token string) {
		t.Helper()
		if err := chromedp.Do(ctx,
			chromedp.Navigate(n.srv.URL+"/"),
			chromedp.WaitVisible(chromedp.ID("token")),
			chromedp.SendKeys(chromedp.ID("token"), token),
			chromedp.Click(chromedp.CSS(`form[action="/login"] button`)),
			chromedp.WaitVisible(chromedp.CSS("span.who")),
		); err != nil {
			t.Fatalf("sign in: %v", err)
		}
	}
	atSignIn := func(what string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("token"))); err != nil {
			t.Fatalf("%s: not at the sign-in form: %v", what, err)
		}
		if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("span.who").length`)); err != nil || n != 0 {
			t.Fatalf("%s: still signed in (%d, %v)", what, n, err)
		}
	}

	token, hash := mustIssueToken(t, n)
	signIn(token)
	jar, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{n.srv.URL + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(jar.Cookies) != 1 {
		t.Fatalf("the browser holds %d cookies, want the one session cookie", len(jar.Cookies))
	}
	c := jar.Cookies[0]
	switch {
	case c.Name != sessionCookie:
		t.Fatalf("cookie %q, want %q", c.Name, sessionCookie)
	case strings.Contains(c.Value, token) || strings.Contains(c.Value, hash) || len(c.Value) != 43:
		t.Fatalf("the cookie is not a bare 32-byte session id: %q", c.Value)
	case !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/":
		t.Fatalf("cookie HttpOnly %v SameSite %q Path %q", c.HTTPOnly, c.SameSite, c.Path)
	}
	if seen, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`)); err != nil || seen != "" {
		t.Fatalf("the page's script sees cookies %q (%v)", seen, err)
	}

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form[action="/logout"] button`))); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	atSignIn("signed out")
	// Put the old cookie back: the server has forgotten the session.
	if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: c.Name, Value: c.Value,
		URL: n.srv.URL + "/", Path: "/", HTTPOnly: &c.HTTPOnly, SameSite: network.CookieSameSiteStrict}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(n.srv.URL+"/ui/alerts")); err != nil {
		t.Fatal(err)
	}
	atSignIn("the signed-out cookie restored")

	signIn(token)
	if err := n.client(n.adminToken).Do(t.Context(), "DELETE", "/api/v1/tokens/"+hash, "", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(n.srv.URL+"/ui/recalls")); err != nil {
		t.Fatal(err)
	}
	atSignIn("token revoked")
}
