package server

import (
	"net/http"
	"testing"
)

// TestAJoinWithAKeyNotTheNodesIsRefused: a join whose public_key is not
// a verifier key, or is another node's, is refused 400 bad_public_key and
// the node is not listed; without a key the join is taken, as the node
// announces its key itself.
func TestAJoinWithAKeyNotTheNodesIsRefused(t *testing.T) {
	n := mustRouterNode(t)
	_, info := mustJoiner(t, n)
	for _, key := range []string{"trust me", n.store.Info().PublicKey} {
		var eb apiErrorBody
		st, _ := call(t, n.srv.URL, "POST", "/api/v1/cluster/join", n.admin,
			map[string]any{"id": info.ID, "raft_addr": info.RaftAddr, "public_key": key, "voter": false}, &eb)
		if st != http.StatusBadRequest || eb.Error.Code != "bad_public_key" {
			t.Errorf("join with public_key %q: %d %+v, want 400 bad_public_key", key, st, eb.Error)
		}
	}
	var view clusterView
	call(t, n.srv.URL, "GET", "/api/v1/cluster", n.admin, nil, &view)
	if len(view.Nodes) != 1 {
		t.Fatalf("a refused join is listed: %+v", view.Nodes)
	}
	var ok map[string]any
	if st, _ := call(t, n.srv.URL, "POST", "/api/v1/cluster/join", n.admin,
		map[string]any{"id": info.ID, "raft_addr": info.RaftAddr, "voter": false}, &ok); st != http.StatusOK {
		t.Fatalf("join without a key: %d %v", st, ok)
	}
}
