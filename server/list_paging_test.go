package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pedigree-ledger/pedigree/models"
)

// TestAPIListsArePagedByNextLinks walks each list of the API a few rows at
// a time by its "next" URLs (and Link headers): the pages together are the
// whole list, in its order, each row once, and a filter holds on every
// page. A bad limit or cursor is refused with a code.
func TestAPIListsArePagedByNextLinks(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	var alerts, recalls []any
	for i := range 7 {
		verdict := models.VerdictUnknownSerial
		if i%2 == 1 {
			verdict = models.VerdictRecalled
		}
		alerts = append(alerts, models.AlertPayload{Verdict: verdict, Message: "alert " + strconv.Itoa(i)})
	}
	for i := range 5 {
		recalls = append(recalls, models.RecallPayload{GTIN: net.Products[0].GTIN, Lot: "P" + strconv.Itoa(i)})
	}
	mustProposeAll(t, n, models.KindAlert, alerts...)
	mustProposeAll(t, n, models.KindRecall, recalls...)
	reg := s.Tokens[net.Regulator.GLN]

	for _, tc := range []struct {
		path, field, key string
		limit            int
	}{
		{"/api/v1/alerts", "alerts", "id", 3},
		{"/api/v1/alerts?verdict=" + string(models.VerdictRecalled), "alerts", "id", 2},
		{"/api/v1/recalls", "recalls", "id", 2},
		{"/api/v1/products", "products", "gtin", 1},
		{"/api/v1/organisations", "organisations", "id", 2},
	} {
		t.Run(tc.path, func(t *testing.T) {
			whole := listKeys(t, n.srv.URL, tc.path, tc.field, tc.key, reg)
			if len(whole.keys) <= tc.limit || whole.next != "" {
				t.Fatalf("the whole list has %d rows, next %q", len(whole.keys), whole.next)
			}
			var paged []string
			sep := "?"
			if strings.Contains(tc.path, "?") {
				sep = "&"
			}
			path, pages := tc.path+sep+"limit="+strconv.Itoa(tc.limit), 0
			for path != "" {
				page := listKeys(t, n.srv.URL, path, tc.field, tc.key, reg)
				if len(page.keys) > tc.limit || page.next != "" && len(page.keys) != tc.limit {
					t.Fatalf("%s: %d rows, next %q", path, len(page.keys), page.next)
				}
				paged, path = append(paged, page.keys...), page.next
				if pages++; pages > len(whole.keys) {
					t.Fatalf("more pages than rows: %v", paged)
				}
			}
			if !slices.Equal(paged, whole.keys) || pages < 2 {
				t.Fatalf("%d pages hold %v, the whole list %v", pages, paged, whole.keys)
			}
		})
	}

	var recalled struct{ Alerts []models.Alert }
	if st, _ := call(t, n.srv.URL, "GET", "/api/v1/alerts?verdict="+string(models.VerdictRecalled), reg, nil, &recalled); st != http.StatusOK || len(recalled.Alerts) < 3 {
		t.Fatalf("recalled alerts: %d, %d", st, len(recalled.Alerts))
	}
	for _, a := range recalled.Alerts {
		if a.Verdict != string(models.VerdictRecalled) {
			t.Fatalf("a %s alert among the recalled ones", a.Verdict)
		}
	}

	for _, bad := range []struct{ path, code string }{
		{"/api/v1/alerts?limit=0", "bad_limit"},
		{"/api/v1/alerts?limit=1001", "bad_limit"},
		{"/api/v1/recalls?limit=x", "bad_limit"},
		{"/api/v1/products?limit=-3", "bad_limit"},
		{"/api/v1/alerts?before=-1", "bad_before"},
		{"/api/v1/recalls?before=x", "bad_before"},
	} {
		var body struct{ Error struct{ Code string } }
		if st, _ := call(t, n.srv.URL, "GET", bad.path, reg, nil, &body); st != http.StatusBadRequest || body.Error.Code != bad.code {
			t.Errorf("%s: %d %q, want 400 %s", bad.path, st, body.Error.Code, bad.code)
		}
	}
}

// apiListPage is one answer of a paged list: its rows' keys, and the next
// page's URL.
type apiListPage struct {
	keys []string
	next string
}

// listKeys reads one page of a list and checks that its Link header and
// its "next" agree.
func listKeys(t *testing.T, base, path, field, key, token string) apiListPage {
	t.Helper()
	var body map[string]json.RawMessage
	st, h := call(t, base, "GET", path, token, nil, &body)
	if st != http.StatusOK {
		t.Fatalf("%s: %d", path, st)
	}
	var rows []map[string]any
	if err := json.Unmarshal(body[field], &rows); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var p apiListPage
	for _, r := range rows {
		p.keys = append(p.keys, formatKey(r[key]))
	}
	if raw, ok := body["next"]; ok {
		if err := json.Unmarshal(raw, &p.next); err != nil {
			t.Fatal(err)
		}
	}
	if link, want := h.Get("Link"), "<"+p.next+`>; rel="next"`; p.next != "" && link != want || p.next == "" && link != "" {
		t.Fatalf("%s: Link %q with next %q", path, link, p.next)
	}
	return p
}

// formatKey writes a JSON key (a number or a string) as text.
func formatKey(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s, _ := v.(string)
	return s
}
