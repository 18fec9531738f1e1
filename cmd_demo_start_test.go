package main

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/raftstore"
)

// TestADemoStartingAnswersAtOnce holds `demo` inside the opening of its
// ledger, as a large --data directory does: its HTTP port answers at
// once, /healthz 200 and the rest 503, and seeds the network through its
// API once the ledger is open.
func TestADemoStartingAnswersAtOnce(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	defer func(open func(raftstore.Config) (*raftstore.Store, error)) { openStore = open }(openStore)
	openStore = func(cfg raftstore.Config) (*raftstore.Store, error) {
		close(entered)
		<-release
		return raftstore.Open(cfg)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out, errOut syncBuffer
	go func() { done <- demoMain(ctx, addr, t.TempDir(), 20, &out, &errOut) }()
	opened := sync.OnceFunc(func() { close(release) })
	t.Cleanup(func() {
		opened()
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("demo did not stop")
		}
	})
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("demo never opened its ledger")
	}
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
