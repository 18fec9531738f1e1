package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestADemoStartingAnswersAtOnce holds `demo` inside the opening of its
// ledger, as a large --data directory does: its HTTP port answers at
// once, /healthz 200 and the rest 503, and seeds the network through its
// API once the ledger is open.
func TestADemoStartingAnswersAtOnce(t *testing.T) {
	began, opened := holdOpening(t)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out, errOut syncBuffer
	go func() { done <- demoMain(ctx, addr, t.TempDir(), 20, &out, &errOut) }()
	t.Cleanup(func() {
		opened()
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("demo did not stop")
		}
	})
	awaitOpening(t, began)
	client := &http.Client{Timeout: 2 * time.Second}
	for path, want := range map[string]int{"/healthz": http.StatusOK, "/readyz": http.StatusServiceUnavailable, "/": http.StatusServiceUnavailable} {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s while the ledger opens: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s while the ledger opens: HTTP %d, want %d", path, resp.StatusCode, want)
		}
	}
	// Seeding goes through the demo's own API, so the banner says the
	// API took over from the answers of the start.
	opened()
	pollUntil(t, "the demo's banner", func() bool { return strings.Contains(out.String(), "Press Ctrl-C") })
	if st := getJSON(t, "http://"+addr+"/readyz", "", nil); st != http.StatusOK {
		t.Errorf("readyz once seeded: HTTP %d", st)
	}
}
