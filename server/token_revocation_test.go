package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRevokedTokenFailsAtOnceOnEveryNode warms every node's token cache
// with two tokens, revokes one through the leader and one through the
// follower, and checks each is refused on the node that revoked it the
// moment the revocation is answered, and on the other node the moment it
// has applied the revocation: no cache lets a revoked token through.
func TestRevokedTokenFailsAtOnceOnEveryNode(t *testing.T) {
	n := mustAPINode(t)
	f := mustOpenNode(t, "n2", false)
	if err := f.PrepareJoin(n.store.ClusterID()); err != nil {
		t.Fatal(err)
	}
	if err := n.store.Join(t.Context(), f.Info(), true); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the follower to catch up", func() bool { return f.Status().Applied >= n.store.Status().Applied })
	fsrv := httptest.NewServer(Create(f, nil, NewLifecycleAPI(f)))
	t.Cleanup(fsrv.Close)
	nodes := map[string]string{"leader": n.srv.URL, "follower": fsrv.URL}

	// Both authenticating route groups of a node (the router's and the
	// lifecycle API's, which share the node's tokenAuth) are exercised:
	// the ledger head and the recalls list.
	status := func(node, tok string) [2]int {
		t.Helper()
		a, _ := call(t, nodes[node], "GET", "/api/v1/ledger/head", tok, nil, nil)
		b, _ := call(t, nodes[node], "GET", "/api/v1/recalls", tok, nil, nil)
		return [2]int{a, b}
	}
	ok, refused := [2]int{200, 200}, [2]int{401, 401}

	viaLeader, hashL := mustIssueToken(t, n)
	viaFollower, hashF := mustIssueToken(t, n)
	waitUntil(t, "the follower to apply the tokens", func() bool { return f.Status().Applied >= n.store.Status().Applied })
	for _, tok := range []string{viaLeader, viaFollower} {
		for node := range nodes {
			if got := status(node, tok); got != ok {
				t.Fatalf("fresh token on the %s: %v", node, got)
			}
		}
	}

	if st, _ := call(t, n.srv.URL, "DELETE", "/api/v1/tokens/"+hashL, n.adminToken, nil, nil); st != http.StatusOK {
		t.Fatalf("revoke through the leader: %d", st)
	}
	if got := status("leader", viaLeader); got != refused {
		t.Fatalf("revoked on the leader, the leader answers %v", got)
	}
	applied := n.store.Status().Applied
	waitUntil(t, "the follower to apply the revocation", func() bool { return f.Status().Applied >= applied })
	if got := status("follower", viaLeader); got != refused {
		t.Fatalf("the follower applied the revocation and answers %v", got)
	}

	if st, _ := call(t, fsrv.URL, "DELETE", "/api/v1/tokens/"+hashF, n.adminToken, nil, nil); st != http.StatusOK {
		t.Fatalf("revoke through the follower: %d", st)
	}
	for node := range nodes {
		if got := status(node, viaFollower); got != refused {
			t.Fatalf("revoked through the follower, the %s answers %v", node, got)
		}
	}
	// The admin's own token, cached all along, still works.
	for node := range nodes {
		if got := status(node, n.adminToken); got != ok {
			t.Fatalf("the admin token on the %s: %v", node, got)
		}
	}
}
