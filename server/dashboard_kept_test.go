package server

import (
	"encoding/hex"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/pedigree-ledger/pedigree/raftstore"
)

// rolledBack is a node whose ledger was rolled back to an earlier head:
// the head it shows is that one, signed with its own key.
type rolledBack struct {
	LifecycleLedger
	head raftstore.Head
}

func (l *rolledBack) Head() raftstore.Head { return l.head }

// consistencyResult is the ledger page's consistency verdict, unescaped.
func consistencyResult(t *testing.T, page string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, `id="consistency-result" class="`)
	if !ok {
		t.Fatalf("no consistency result:\n%s", page)
	}
	res, _, _ := strings.Cut(rest, "</p>")
	return html.UnescapeString(res)
}

// TestDashboardCallsARollbackOnlyOnASignedHead: a size and root above the
// tree, which nothing authenticates, are not called a rollback, made-up
// ones (the largest size) neither: the page says they are none of the
// ledger's heads. A signed checkpoint above the tree, from a node whose
// ledger was rolled back, is; one at or below it proves consistency,
// pasted with a text area's CRLF line ends too; a checkpoint whose
// signature does not check is refused.
func TestDashboardCallsARollbackOnlyOnASignedHead(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 2)
	regulator := s.Tokens[net.Regulator.GLN]
	browser := mustBrowserSignIn(t, n.srv, regulator)
	early := n.store.Head()
	mustIssueToken(t, n)
	head := n.store.Head()
	root := hex.EncodeToString(head.Root)

	for _, q := range []url.Values{
		{"old_size": {"18446744073709551615"}, "old_root": {root}},
		{"old_size": {strconv.FormatUint(head.Size+5, 10)}, "old_root": {root}},
	} {
		_, page := browse(t, browser, n.srv.URL, "/ui/ledger?"+q.Encode())
		got := consistencyResult(t, page)
		if strings.Contains(got, "it was rolled back.") || !strings.Contains(got, "is not one of its heads") {
			t.Errorf("an unsigned head of %s entries over a tree of %d: %q", q.Get("old_size"), head.Size, got)
		}
	}

	// Signed, at or below the tree: consistent.
	crlf := strings.ReplaceAll(early.Checkpoint, "\n", "\r\n")
	for _, note := range []string{early.Checkpoint, crlf} {
		_, page := browse(t, browser, n.srv.URL, "/ui/ledger?"+url.Values{"checkpoint": {note}}.Encode())
		if got := consistencyResult(t, page); !strings.HasPrefix(got, `ok">Verified`) || !strings.Contains(got, "signed by pedigree-n1") {
			t.Errorf("the signed checkpoint of %d entries: %q", early.Size, got)
		}
	}
	forged := strings.Replace(head.Checkpoint, "\n"+strconv.FormatUint(head.Size, 10)+"\n", "\n"+strconv.FormatUint(head.Size+1, 10)+"\n", 1)
	st, page := browse(t, browser, n.srv.URL, "/ui/ledger?"+url.Values{"checkpoint": {forged}}.Encode())
	if st != http.StatusBadRequest || !strings.Contains(page, "no valid signature") || strings.Contains(page, "consistency-result") {
		t.Errorf("a checkpoint whose signature does not check: %d\n%s", st, page)
	}

	// Signed, above the tree of a node rolled back to an earlier head.
	dash, err := NewDashboard(&rolledBack{LifecycleLedger: n.store, head: early})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Create(n.store, nil, dash))
	defer srv.Close()
	back := mustBrowserSignIn(t, srv, regulator)
	_, page = browse(t, back, srv.URL, "/ui/ledger?"+url.Values{"checkpoint": {head.Checkpoint}}.Encode())
	if got := consistencyResult(t, page); !strings.HasPrefix(got, `bad">FAILED`) || !strings.Contains(got, "pedigree-n1 signed a tree head of") ||
		!strings.Contains(got, "it was rolled back.") {
		t.Errorf("a signed head of %d entries over a ledger of %d: %q", head.Size, early.Size, got)
	}
}
