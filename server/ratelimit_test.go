package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
)

func TestRateLimiterBucket(t *testing.T) {
	now := time.Unix(0, 0)
	l := newRateLimiter(10, 3)
	l.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait != 100*time.Millisecond {
		t.Fatalf("past the burst: ok %v wait %v", ok, wait)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Fatal("another token is limited by the first's bucket")
	}
	now = now.Add(100 * time.Millisecond)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("not refilled after 1/rate")
	}
	if ok, _ := newRateLimiter(0, 0).allow("a"); !ok {
		t.Fatal("rate 0 must mean unlimited")
	}
}

func TestRateLimitAnswers429(t *testing.T) {
	gin.SetMode(gin.TestMode)
	l := newRateLimiter(1, 1)
	r := gin.New()
	r.GET("/x", func(c *gin.Context) {
		if err := l.admit(c, "h"); err != nil {
			abortErr(c, err)
			return
		}
		c.Status(204)
	})
	codes := []int{}
	for i := 0; i < 2; i++ {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
		codes = append(codes, w.Code)
		if w.Code == http.StatusTooManyRequests && w.Header().Get("Retry-After") != "1" {
			t.Fatalf("Retry-After %q", w.Header().Get("Retry-After"))
		}
	}
	if codes[0] != 204 || codes[1] != 429 {
		t.Fatalf("codes %v", codes)
	}
}

// TestATokensRateLimitCoversEveryRoute: one bucket per token, drawn on by
// every route the token reaches: the API's lifecycle and ledger routes,
// the Digital Link resolver (whose signed-in checks raise alerts) and the
// dashboard it signs in to. Another token is not affected.
func TestATokensRateLimitCoversEveryRoute(t *testing.T) {
	// A burst of 2: the admin token issues the other, then is checked.
	n := mustAPINode(t, func(a *LifecycleAPI) { a.SetRateLimit(0.001, 2) })
	limited, _ := mustIssueToken(t, n)
	session := mustSignIn(t, n, limited).Value // the bucket's first request
	get := func(token, path string) int {
		t.Helper()
		status, _ := getWith(t, n, path, "", token)
		return status
	}
	if code := get(limited, "/api/v1/ledger/head"); code != http.StatusOK {
		t.Fatalf("the request after the sign-in: %d", code)
	}
	for _, path := range []string{"/api/v1/ledger/head", "/api/v1/verify?scan=(01)09506000134352(21)S1", "/api/v1/products",
		"/epcis/events", "/01/09506000134352/21/S1", "/api/v1/cluster"} {
		if code := get(limited, path); code != http.StatusTooManyRequests {
			t.Errorf("%s once the bucket is empty: %d, want 429", path, code)
		}
	}
	if code, body, _ := dashboardGet(t, n, "/ui/alerts", session); code != http.StatusTooManyRequests || !strings.Contains(body, "this token may make") {
		t.Errorf("the dashboard once the bucket is empty: %d", code)
	}
	// Signing in again and again would otherwise fill the node's session
	// table at any rate.
	resp, err := noRedirect(n).PostForm(n.srv.URL+"/login", url.Values{"token": {limited}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || len(resp.Cookies()) != 0 {
		t.Errorf("a sign-in once the bucket is empty: %d, cookies %v; want 429 and no session", resp.StatusCode, resp.Cookies())
	}
	if code := get(n.adminToken, "/api/v1/ledger/head"); code != http.StatusOK {
		t.Errorf("another token: %d", code)
	}
}

// TestAnOrganisationsTokensShareALimit: any organisation may issue itself
// tokens, so a limit per token alone would let it take any share of a
// node by issuing more. Its tokens together may make orgRateFactor
// tokens' worth; another organisation is not affected.
func TestAnOrganisationsTokensShareALimit(t *testing.T) {
	const burst = 4
	n := mustAPINode(t, func(a *LifecycleAPI) { a.SetRateLimit(0.001, burst) })
	admin := n.client(n.adminToken)
	org := glnOf("4099999", 1)
	if err := admin.Do(t.Context(), "POST", "/api/v1/organisations", "application/json",
		map[string]any{"id": org, "name": "Busy Pharmacy", "role": "pharmacy"}, nil); err != nil {
		t.Fatal(err)
	}
	issue := func(c *demo.Client) string {
		t.Helper()
		var out struct{ Token string }
		if err := c.Do(t.Context(), "POST", "/api/v1/organisations/"+org+"/tokens", "application/json", map[string]any{}, &out); err != nil {
			t.Fatal(err)
		}
		return out.Token
	}
	first := issue(admin)
	// The first token spends its burst issuing orgRateFactor more, which
	// together could make orgRateFactor bursts of requests.
	var tokens []string
	for range orgRateFactor {
		tokens = append(tokens, issue(n.client(first)))
	}
	ok := 0
	var last string
	for _, tok := range tokens {
		for range burst {
			status, body := getWith(t, n, "/api/v1/ledger/head", "", tok)
			if status == http.StatusOK {
				ok++
			}
			last = body
		}
	}
	// The organisation's bucket held orgRateFactor bursts, less the
	// issues its first token made.
	if want := orgRateFactor*burst - orgRateFactor; ok != want {
		t.Errorf("%d tokens of one organisation made %d requests together, want %d", len(tokens), ok, want)
	}
	if !strings.Contains(last, "this organisation's tokens together") {
		t.Errorf("the refusal once the organisation's bucket is empty: %s", last)
	}
	if status, _ := getWith(t, n, "/api/v1/ledger/head", "", n.adminToken); status != http.StatusOK {
		t.Errorf("another organisation's token: %d", status)
	}
}
