package server

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
)

// TestAnOrganisationListsItsTokens: after a leak, an organisation finds
// every token issued to it, those a leaked token issued itself among
// them, and revokes them by hash. The list holds hashes and labels, never
// a token, revoked ones marked, in the order issued, a page at a time;
// another organisation may not read it, an admin may.
func TestAnOrganisationListsItsTokens(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 20)
	pharmacy := n.client(s.Tokens[net.Pharmacy1.GLN])
	path := "/api/v1/organisations/" + net.Pharmacy1.GLN + "/tokens"
	type issued struct {
		Token       string `json:"token"`
		TokenSHA256 string `json:"token_sha256"`
	}
	var minted []issued
	for _, label := range []string{"counter 1", "counter 2", "minted by a leaked token"} {
		var out issued
		if err := pharmacy.Do(t.Context(), "POST", path, "application/json", map[string]any{"label": label}, &out); err != nil {
			t.Fatal(err)
		}
		minted = append(minted, out)
	}
	if err := pharmacy.Do(t.Context(), "DELETE", "/api/v1/tokens/"+minted[2].TokenSHA256, "", nil, nil); err != nil {
		t.Fatal(err)
	}

	type token struct {
		Hash       string `json:"hash"`
		OrgID      string `json:"org_id"`
		Label      string `json:"label"`
		IssuedSeq  uint64 `json:"issued_seq"`
		RevokedSeq uint64 `json:"revoked_seq"`
	}
	var listed []token
	var bodies strings.Builder
	for next := path + "?limit=2"; next != ""; {
		var page struct {
			Tokens []token `json:"tokens"`
			Next   string  `json:"next"`
		}
		if err := pharmacy.Do(t.Context(), "GET", next, "", nil, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Tokens) > 2 {
			t.Fatalf("a page of %d tokens for limit 2", len(page.Tokens))
		}
		for _, tk := range page.Tokens {
			bodies.WriteString(tk.Hash + tk.Label)
		}
		listed = append(listed, page.Tokens...)
		next = page.Next
	}
	// The seed's token first, then the three in the order issued.
	if len(listed) != 4 {
		t.Fatalf("%d tokens listed, want the seed's and 3: %+v", len(listed), listed)
	}
	for i, tk := range listed {
		if tk.OrgID != net.Pharmacy1.GLN || i > 0 && tk.IssuedSeq <= listed[i-1].IssuedSeq {
			t.Errorf("token %d: %+v, out of order or another organisation's", i, tk)
		}
	}
	for i, m := range minted {
		tk := listed[i+1]
		if tk.Hash != m.TokenSHA256 || (tk.RevokedSeq != 0) != (i == 2) {
			t.Errorf("token %d listed as %+v; issued %s, revoked %v", i, tk, m.TokenSHA256, i == 2)
		}
		if strings.Contains(bodies.String(), m.Token) {
			t.Errorf("the list holds token %d itself", i)
		}
	}

	var ae *demo.APIError
	err := n.client(s.Tokens[net.Pharmacy2.GLN]).Do(t.Context(), "GET", path, "", nil, nil)
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
		t.Errorf("another organisation lists them: %v, want 403", err)
	}
	if err := n.client(n.adminToken).Do(t.Context(), "GET", path, "", nil, nil); err != nil {
		t.Errorf("an admin lists them: %v", err)
	}
	if err := pharmacy.Do(t.Context(), "GET", path+"?after=x", "", nil, nil); !errors.As(err, &ae) || ae.Code != "bad_cursor" {
		t.Errorf("a bad cursor: %v, want 400 bad_cursor", err)
	}
}
