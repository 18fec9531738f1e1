package main

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/raftstore"
)

// TestAStartingNodeAnswersAtOnce holds `serve` inside the opening of its
// ledger, as a large ledger or a crash's recovery does for tens of
// seconds. Meanwhile the HTTP listener answers at once: /healthz 200 (the
// process is alive), /readyz and the API 503 starting with a Retry-After.
// Once the ledger is open the node serves the API and becomes ready.
func TestAStartingNodeAnswersAtOnce(t *testing.T) {
	began, opened := holdOpening(t)
	n := startServe(t, "--node-id", "n1", "--data", t.TempDir(), "--bootstrap")
	t.Cleanup(opened) // before the node's stop: a failed test lets it go on
	awaitOpening(t, began)
	client := &http.Client{Timeout: 2 * time.Second}
	var code string
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get(n.http + path)
		if err != nil {
			t.Fatalf("GET %s while the ledger opens: %v", path, err)
		}
		defer resp.Body.Close()
		var body struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		code = body.Error.Code
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	for _, path := range []string{"/healthz", "/metrics"} {
		if st, _ := get(path); st != http.StatusOK {
			t.Errorf("%s while the ledger opens: HTTP %d", path, st)
		}
	}
	for _, path := range []string{"/readyz", "/api/v1/ledger/head", "/01/04012345000016/21/X1"} {
		if st, retry := get(path); st != http.StatusServiceUnavailable || code != "starting" || retry == "" {
			t.Errorf("%s while the ledger opens: HTTP %d %q, Retry-After %q; want 503 starting with a Retry-After", path, st, code, retry)
		}
	}
	opened()
	pollUntil(t, "the node to be ready", func() bool { return getJSON(t, n.http+"/readyz", "", nil) == http.StatusOK })
	if st := getJSON(t, n.http+"/api/v1/ledger/head", "", nil); st != http.StatusUnauthorized {
		t.Errorf("the API once open: HTTP %d, want 401 (it asks for a token)", st)
	}
}

// holdOpening makes openStore, once called, wait until opened runs (which
// may run more than once); began closes when it is called. Register opened
// as a cleanup after the node's own, so a failing test lets the node stop.
func holdOpening(t *testing.T) (began <-chan struct{}, opened func()) {
	t.Helper()
	entered, held := make(chan struct{}), make(chan struct{})
	saved := openStore
	t.Cleanup(func() { openStore = saved })
	openStore = func(cfg raftstore.Config) (*raftstore.Store, error) {
		close(entered)
		<-held
		return raftstore.Open(cfg)
	}
	return entered, sync.OnceFunc(func() { close(held) })
}

// awaitOpening waits until the ledger's opening has begun.
func awaitOpening(t *testing.T, began <-chan struct{}) {
	t.Helper()
	select {
	case <-began:
	case <-time.After(30 * time.Second):
		t.Fatal("the ledger's opening never began")
	}
}
