package server

import (
	"encoding/json"
	"io"
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
