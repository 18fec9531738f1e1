package server

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TestDashboardConsistencyCheckCatchesARewrite signs in with a form, keeps
// the tree head, writes more, and checks the ledger page proves the new
// tree extends the kept one, and refuses a root that was never the
// ledger's.
func TestDashboardConsistencyCheckCatchesARewrite(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	kept := n.store.Head()
	if err := n.client(s.Tokens[net.Manufacturer.GLN]).Do(t.Context(), "POST", "/api/v1/recalls", "application/json",
		map[string]any{"gtin": net.Products[0].GTIN, "lot": net.LotA}, nil); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: n.srv.Client().Transport}
	resp, err := browser.PostForm(n.srv.URL+"/login", url.Values{"token": {s.Tokens[net.Regulator.GLN]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	page := func(q string) string {
		t.Helper()
		resp, err := browser.Get(n.srv.URL + "/ui/ledger?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	good := page(url.Values{"old_size": {strconv.FormatUint(kept.Size, 10)}, "old_root": {hex.EncodeToString(kept.Root)}}.Encode())
	if !strings.Contains(good, `id="consistency-result" class="ok">Verified`) {
		t.Fatalf("kept head not proven consistent:\n%s", good)
	}
	forged := append([]byte(nil), kept.Root...)
	forged[0] ^= 1
	bad := page(url.Values{"old_size": {strconv.FormatUint(kept.Size, 10)}, "old_root": {hex.EncodeToString(forged)}}.Encode())
	if !strings.Contains(bad, `id="consistency-result" class="bad">FAILED`) {
		t.Fatalf("a forged root passed:\n%s", bad)
	}
	if p := page("seq=3"); !strings.Contains(p, `id="proof-result" class="ok">Verified`) {
		t.Fatalf("inclusion of entry 3:\n%s", p)
	}
	// Signed out, the ledger page is the sign-in form.
	resp, err = n.srv.Client().Get(n.srv.URL + "/ui/ledger")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), `action="/login"`) {
		t.Fatalf("signed out: %d", resp.StatusCode)
	}
}
