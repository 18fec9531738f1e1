package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// syncBuffer is cmd_serve_test.go's.

// TestDemoSeedsServesAndShutsDown runs `pedigree demo` in-process on a free
// port: it must seed the network, print the dashboard URL and tokens,
// serve the dashboard and the API, and return cleanly when interrupted.
func TestDemoSeedsServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- demoMain(ctx, "127.0.0.1:0", t.TempDir(), 60, &out, &errOut) }()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "Press Ctrl-C") {
		select {
		case err := <-done:
			t.Fatalf("demo ended early: %v\n%s\n%s", err, out.String(), errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner within 60s:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	banner := out.String()
	base := regexp.MustCompile(`Dashboard:\s+(http://\S+)/`).FindStringSubmatch(banner)
	tok := regexp.MustCompile(`\(regulator\)\s+(pdg_\S+)`).FindStringSubmatch(banner)
	if base == nil || tok == nil {
		t.Fatalf("banner lacks the URL or the regulator's token:\n%s", banner)
	}
	resp, err := http.Get(base[1] + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `action="/login"`) {
		t.Fatalf("the dashboard does not offer sign-in: %d %.300s", resp.StatusCode, page)
	}
	req, _ := http.NewRequest("GET", base[1]+"/api/v1/alerts", nil)
	req.Header.Set("Authorization", "Bearer "+tok[1])
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "unknown_serial") {
		t.Fatalf("alerts: %d %s", resp.StatusCode, body)
	}
	// The banner's two scans work pasted as they are, in the README's
	// text/plain verification.
	pharmacy := regexp.MustCompile(`Linden Apotheke \(pharmacy\)\s+(pdg_\S+)`).FindStringSubmatch(banner)
	for name, want := range map[string]string{"a pack in stock at Linden Apotheke:": "authentic", "the falsified scan:": "unknown_serial"} {
		scan := regexp.MustCompile(regexp.QuoteMeta(name) + `\s+(\S+)`).FindStringSubmatch(banner)
		if pharmacy == nil || scan == nil {
			t.Fatalf("banner lacks %q or the pharmacy's token:\n%s", name, banner)
		}
		req, _ := http.NewRequest("POST", base[1]+"/api/v1/verify", strings.NewReader(scan[1]))
		req.Header.Set("Authorization", "Bearer "+pharmacy[1])
		req.Header.Set("Content-Type", "text/plain")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"verdict":"`+want+`"`) {
			t.Errorf("%s %s: %d %.200s", name, scan[1], resp.StatusCode, body)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo shut down with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not shut down within 20s of the interrupt")
	}
}
