package server

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes checks that /openapi.json documents exactly the
// routes the router serves: every registered Gin route appears in it, and
// every documented operation is a registered route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	n := mustAPINode(t)
	dash, err := NewDashboard(n.store)
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, r := range Create(n.store, nil, NewLifecycleAPI(n.store), dash).Routes() {
		routes = append(routes, r.Method+" "+openAPIPath(r.Path))
	}
	resp, err := n.srv.Client().Get(n.srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(data, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("not an OpenAPI 3 document: %v %.200s", err, data)
	}
	var documented []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	slices.Sort(routes)
	slices.Sort(documented)
	for _, r := range routes {
		if _, ok := slices.BinarySearch(documented, r); !ok {
			t.Errorf("route %s is not in /openapi.json", r)
		}
	}
	for _, d := range documented {
		if _, ok := slices.BinarySearch(routes, d); !ok {
			t.Errorf("/openapi.json documents %s, which is not a route", d)
		}
	}
}

// TestErrorsHaveTheContentTypesTheDocumentGives: an error answer's media
// type is one the document lists for that operation's 4XX: JSON from the
// API, a page from the dashboard, either from the resolver.
func TestErrorsHaveTheContentTypesTheDocumentGives(t *testing.T) {
	n := mustAPINode(t)
	doc := openAPIDocument()
	paths := doc["paths"].(map[string]map[string]any)
	for _, tc := range []struct{ method, path, route, accept string }{
		{"GET", "/ui/ledger", "/ui/ledger", "text/html"},
		{"GET", "/api/v1/ledger/entries/x", "/api/v1/ledger/entries/{seq}", ""},
		{"GET", "/01/123/21/x", "/01/{gtin}/{rest}", "text/html"},
		{"GET", "/01/123/21/x", "/01/{gtin}/{rest}", "application/json"},
	} {
		req, err := http.NewRequest(tc.method, n.srv.URL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.accept != "" {
			req.Header.Set("Accept", tc.accept)
		}
		resp, err := n.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Fatalf("%s %s: %d, want a 4xx", tc.method, tc.path, resp.StatusCode)
		}
		op := paths[tc.route][strings.ToLower(tc.method)].(map[string]any)
		content := op["responses"].(map[string]any)["4XX"].(map[string]any)["content"].(map[string]any)
		mt, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
		if _, ok := content[mt]; !ok {
			t.Errorf("%s %s (Accept %q) answered %d as %s; the document lists %v", tc.method, tc.path, tc.accept, resp.StatusCode, mt, slices.Collect(maps.Keys(content)))
		}
	}
}
