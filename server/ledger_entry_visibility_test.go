package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// TestAPharmacyReadsOnlyItsOwnLedgerEntries walks the whole seeded ledger
// as a pharmacy and as the regulator: the regulator reads every entry, the
// pharmacy its own (its receipts and dispenses) and is refused the others,
// on the API and on the dashboard's ledger page alike.
func TestAPharmacyReadsOnlyItsOwnLedgerEntries(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	pharmacy, regulator := s.Tokens[net.Pharmacy1.GLN], s.Tokens[net.Regulator.GLN]
	size := n.store.Head().Size
	own, refused := 0, 0
	var othersEntry uint64
	for seq := uint64(1); seq <= size; seq++ {
		path := fmt.Sprintf("/api/v1/ledger/entries/%d", seq)
		var ev entryView
		if st, _ := call(t, n.srv.URL, "GET", path, regulator, nil, &ev); st != http.StatusOK || ev.Seq != seq {
			t.Fatalf("regulator, entry %d: %d", seq, st)
		}
		var body apiErrorBody
		st, _ := call(t, n.srv.URL, "GET", path, pharmacy, nil, &body)
		switch {
		case ev.Command.Actor == net.Pharmacy1.GLN && st == http.StatusOK:
			own++
		case ev.Command.Actor != net.Pharmacy1.GLN && st == http.StatusForbidden && body.Error.Code == "forbidden":
			refused++
			othersEntry = seq
		default:
			t.Fatalf("pharmacy, entry %d by %s: %d %+v", seq, ev.Command.Actor, st, body)
		}
	}
	if own == 0 || refused == 0 {
		t.Fatalf("the seeded ledger gave the pharmacy %d own entries and %d others'; the test needs both", own, refused)
	}

	// The dashboard's ledger page checks an entry only for those who may
	// read it, and shows nothing of it to the others.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: n.srv.Client().Transport}
	resp, err := browser.PostForm(n.srv.URL+"/login", url.Values{"token": {pharmacy}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = browser.Get(fmt.Sprintf("%s/ui/ledger?seq=%d", n.srv.URL, othersEntry))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(page), `id="proof-result"`) {
		t.Fatalf("the pharmacy's ledger page for another's entry %d: %d\n%s", othersEntry, resp.StatusCode, page)
	}
}
