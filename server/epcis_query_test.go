package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// eventQueryDoc is the part of GET /epcis/events' EPCISQueryDocument the
// tests read.
type eventQueryDoc struct {
	Type      string `json:"type"`
	EPCISBody struct {
		QueryResults struct {
			ResultsBody struct {
				EventList []map[string]any `json:"eventList"`
			} `json:"resultsBody"`
		} `json:"queryResults"`
	} `json:"epcisBody"`
}

// events is the document's event list.
func (d eventQueryDoc) events() []map[string]any {
	return d.EPCISBody.QueryResults.ResultsBody.EventList
}

// TestEventQueryPagesFollowLinkNext pages through a regulator's view of the
// seeded events with perPage and the Link rel="next" header, and checks
// the pages neither repeat nor miss an event and the filters apply.
func TestEventQueryPagesFollowLinkNext(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	token := s.Tokens[net.Regulator.GLN]
	get := func(path string) ([]map[string]any, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", n.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := n.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, data)
		}
		if resp.Header.Get("GS1-EPCIS-Version") != "2.0.0" || resp.Header.Get("GS1-CBV-Version") != "2.0.0" {
			t.Fatalf("%s: versions %q %q", path, resp.Header.Get("GS1-EPCIS-Version"), resp.Header.Get("GS1-CBV-Version"))
		}
		var doc eventQueryDoc
		if err := json.Unmarshal(data, &doc); err != nil || doc.Type != "EPCISQueryDocument" {
			t.Fatalf("%s: not a query document: %v", path, err)
		}
		return doc.events(), resp.Header.Get("Link")
	}
	all, link := get("/epcis/events?perPage=1000")
	if link != "" || len(all) < 10 {
		t.Fatalf("one big page: %d events, Link %q", len(all), link)
	}
	// More than the server's limit per page is capped, not refused (the
	// REST binding lets a server answer fewer than asked).
	if capped, _ := get("/epcis/events?perPage=100000"); len(capped) != len(all) {
		t.Fatalf("perPage over the limit: %d events, want the %d of one page", len(capped), len(all))
	}
	next := regexp.MustCompile(`^<([^>]+)>; rel="next"$`)
	var paged []map[string]any
	path := "/epcis/events?perPage=3"
	for pages := 0; path != ""; pages++ {
		if pages > len(all) {
			t.Fatal("pagination does not end")
		}
		evs, link := get(path)
		paged = append(paged, evs...)
		path = ""
		if link != "" {
			m := next.FindStringSubmatch(link)
			if m == nil {
				t.Fatalf("Link header %q", link)
			}
			path = m[1]
		}
	}
	if len(paged) != len(all) {
		t.Fatalf("paged %d events, one page has %d", len(paged), len(all))
	}
	for i := range all {
		if paged[i]["eventID"] != all[i]["eventID"] {
			t.Fatalf("event %d differs between paging and one page", i)
		}
	}
	ships, _ := get("/epcis/events?EQ_bizStep=" + url.QueryEscape("https://ref.gs1.org/cbv/BizStep-shipping") + "&eventType=ObjectEvent")
	if len(ships) != 3 {
		t.Fatalf("%d shipping events, want 3 (pallet, two cases)", len(ships))
	}
	for _, e := range ships {
		if !strings.HasSuffix(e["bizStep"].(string), "shipping") {
			t.Fatalf("filter let through %v", e["bizStep"])
		}
	}
	id := all[0]["eventID"].(string)
	one, _ := get("/epcis/events?EQ_eventID=" + url.QueryEscape(id))
	if len(one) != 1 || one[0]["eventID"] != id {
		t.Fatalf("EQ_eventID: %d events", len(one))
	}
}

// TestEventQueryTakesAConsistencyLevel: the events query reads at the
// consistency level the client asks for (ARCHITECTURE: reads take local,
// leader or linearizable), and refuses a level that is none of them
// rather than read at another.
func TestEventQueryTakesAConsistencyLevel(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 10)
	token := s.Tokens[net.Regulator.GLN]
	var local eventQueryDoc
	if st, _ := call(t, n.srv.URL, "GET", "/epcis/events?perPage=1000", token, nil, &local); st != http.StatusOK || len(local.events()) == 0 {
		t.Fatalf("default level: HTTP %d, %d events", st, len(local.events()))
	}
	for _, level := range []string{"local", "leader", "linearizable"} {
		var doc eventQueryDoc
		st, _ := call(t, n.srv.URL, "GET", "/epcis/events?perPage=1000&consistency="+level, token, nil, &doc)
		if st != http.StatusOK || doc.Type != "EPCISQueryDocument" || len(doc.events()) != len(local.events()) {
			t.Fatalf("consistency=%s: HTTP %d, %q with %d of %d events", level, st, doc.Type, len(doc.events()), len(local.events()))
		}
	}
	var bad apiErrorBody
	if st, _ := call(t, n.srv.URL, "GET", "/epcis/events?consistency=eventual", token, nil, &bad); st != http.StatusBadRequest || bad.Error.Code != "query_parameter" {
		t.Fatalf("consistency=eventual: HTTP %d %+v", st, bad.Error)
	}
}
