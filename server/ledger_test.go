package server

import (
	"net/http"
	"testing"
)

// TestAnExplicitZeroTreeSizeIsNotTheCurrentTree: a proof's second size
// (or an inclusion's size) left out is the current tree, but given as 0 it
// names the empty tree, and is refused rather than read as the current
// tree.
func TestAnExplicitZeroTreeSizeIsNotTheCurrentTree(t *testing.T) {
	n := mustRouterNode(t)
	for _, path := range []string{
		"/api/v1/ledger/proofs/consistency?first=0&second=0",
		"/api/v1/ledger/proofs/consistency?first=1&second=0",
		"/api/v1/ledger/proofs/inclusion?seq=1&size=0",
	} {
		var eb apiErrorBody
		if st, _ := call(t, n.srv.URL, "GET", path, n.admin, nil, &eb); st != http.StatusBadRequest || eb.Error.Code != "bad_tree_size" {
			t.Errorf("%s: %d %+v, want 400 bad_tree_size", path, st, eb.Error)
		}
	}
	size := n.store.Head().Size
	var con consistencyView
	if st, _ := call(t, n.srv.URL, "GET", "/api/v1/ledger/proofs/consistency?first=1", n.admin, nil, &con); st != http.StatusOK || con.Second != size {
		t.Fatalf("consistency without second: %d %+v, want second %d", st, con, size)
	}
	var inc inclusionView
	if st, _ := call(t, n.srv.URL, "GET", "/api/v1/ledger/proofs/inclusion?seq=1", n.admin, nil, &inc); st != http.StatusOK || inc.Size != size {
		t.Fatalf("inclusion without size: %d %+v, want size %d", st, inc, size)
	}
}
