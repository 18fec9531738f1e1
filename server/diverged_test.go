package server

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pedigree-ledger/pedigree/raftstore"
)

// divergingNode is a real node whose tree audit the test flags: while
// diverged is set, its readiness answers as a diverged node's does.
type divergingNode struct {
	*raftstore.Store
	diverged atomic.Bool
}

func (n *divergingNode) Ready() error {
	if n.diverged.Load() {
		return fmt.Errorf("at tree size 3 its root is 00, n2's 01: %w", raftstore.ErrDiverged)
	}
	return n.Store.Ready()
}

// keptWhenDiverged are the routes a diverged node still answers: health,
// metrics, the API's description, static assets, and signing in and out.
func keptWhenDiverged(method, path string) bool {
	switch method + " " + path {
	case "GET /healthz", "GET /readyz", "GET /metrics", "GET /openapi.json",
		"POST /login", "POST /logout":
		return true
	}
	return strings.HasPrefix(path, "/static/")
}

// routePath fills a route's parameters with values of the right shape.
func routePath(route string) string {
	var b strings.Builder
	for i, seg := range strings.Split(route, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		switch {
		case seg == ":gtin":
			seg = "04012345000016"
		case seg == ":seq":
			seg = "1"
		case seg == ":sscc":
			seg = "040123450000099996"
		case strings.HasPrefix(seg, ":"):
			seg = "X1"
		case strings.HasPrefix(seg, "*"):
			seg = "21/X1"
		}
		b.WriteString(seg)
	}
	return b.String()
}

// TestADivergedNodeAnswersNothingFromItsLedger flags a node diverged and
// asks every route of a full router (API, ledger, resolver, dashboard),
// signed in: each that answers from the ledger or the projection refuses,
// 503 "diverged", pointing at another node (a page for the dashboard,
// without the tree head); the health and metrics routes still answer,
// and the cluster's refuse too. Unflagged, the same node serves its head.
func TestADivergedNodeAnswersNothingFromItsLedger(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 2)
	node := &divergingNode{Store: n.store}
	dash, err := NewDashboard(node)
	if err != nil {
		t.Fatal(err)
	}
	router := Create(node, nil, NewLifecycleAPI(node), dash)
	srv := httptest.NewServer(router)
	defer srv.Close()
	regulator := s.Tokens[net.Regulator.GLN]
	n2 := &apiNode{store: n.store, srv: srv}
	session := mustSignIn(t, n2, regulator)
	if st, _ := call(t, srv.URL, "GET", "/api/v1/ledger/head", regulator, nil, nil); st != http.StatusOK {
		t.Fatalf("before the divergence, the head answers %d", st)
	}
	root := hex.EncodeToString(n.store.Head().Root)[:16]

	node.diverged.Store(true)
	seen := 0
	for _, r := range router.Routes() {
		if r.Method == http.MethodHead {
			continue
		}
		path := routePath(r.Path)
		var body io.Reader
		if r.Method == http.MethodPost {
			body = strings.NewReader("{}")
		}
		req, _ := http.NewRequestWithContext(t.Context(), r.Method, srv.URL+path, body)
		req.Header.Set("Authorization", "Bearer "+regulator)
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(session)
		html := r.Path == "/" || strings.HasPrefix(r.Path, "/ui/")
		if !html {
			req.Header.Set("Accept", "application/json")
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var eb apiErrorBody
		_ = json.Unmarshal(b, &eb)
		refused := resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(b), "ask another node")
		if !html {
			refused = refused && eb.Error.Code == "diverged"
		}
		switch {
		case keptWhenDiverged(r.Method, r.Path):
			if eb.Error.Code == "diverged" {
				t.Errorf("%s %s is refused on a diverged node; it must stay up", r.Method, path)
			}
		case !refused:
			t.Errorf("%s %s on a diverged node: %d %.300s; want 503 diverged", r.Method, path, resp.StatusCode, b)
		case html && strings.Contains(string(b), root):
			t.Errorf("%s %s on a diverged node shows its root %s", r.Method, path, root)
		default:
			seen++
		}
	}
	if seen < 25 {
		t.Fatalf("only %d routes refused; the router has %d", seen, len(router.Routes()))
	}
	// A browser resolving a pack's link gets a page, as for any error.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/01/04012345000016/21/X1", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), `class="error"`) || strings.Contains(string(b), root) {
		t.Fatalf("a browser's resolution on a diverged node: %d %.300s", resp.StatusCode, b)
	}
}
