package server

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

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
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

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
