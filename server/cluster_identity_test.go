package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pedigree-ledger/pedigree/raftstore"
)

// mismatchedNode is a real node whose joins fail as the join of another
// cluster's node does.
type mismatchedNode struct{ *raftstore.Store }

func (mismatchedNode) Join(context.Context, raftstore.NodeInfo, bool) error {
	return fmt.Errorf("n2 cannot join: %w", raftstore.ErrClusterMismatch)
}

// TestClusterIdentityOverHTTP: GET /api/v1/cluster names the node's
// cluster (pedigree serve --join reads it before it asks to join), and a
// join refused for another cluster's node is 409 cluster_mismatch,
// which serve --join does not retry.
func TestClusterIdentityOverHTTP(t *testing.T) {
	n := mustAPINode(t)
	var view clusterView
	if st, _ := call(t, n.srv.URL, "GET", "/api/v1/cluster", n.adminToken, nil, &view); st != 200 || view.Self.ClusterID == "" || view.Self.ClusterID != n.store.ClusterID() {
		t.Fatalf("GET /api/v1/cluster: %d, cluster %q, the node's %q", st, view.Self.ClusterID, n.store.ClusterID())
	}
	srv := httptest.NewServer(Create(mismatchedNode{n.store}, nil))
	defer srv.Close()
	var eb apiErrorBody
	st, _ := call(t, srv.URL, "POST", "/api/v1/cluster/join", n.adminToken, map[string]any{"id": "n2", "raft_addr": "127.0.0.1:1"}, &eb)
	if st != http.StatusConflict || eb.Error.Code != "cluster_mismatch" {
		t.Fatalf("join of another cluster's node: %d %+v, want 409 cluster_mismatch", st, eb.Error)
	}
}
