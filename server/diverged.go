package server

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/raftstore"
)

// A diverged node. Once its tree audit found this node's ledger is not the
// cluster's (raftstore.ErrDiverged, in its readiness), whatever it answers
// from that ledger or its projection would be about a ledger the cluster
// does not hold: a signed head and proofs of another tree, custody and
// verdicts the others would not give. So every route that answers from
// them refuses, 503 "diverged", and the client asks another node, as a
// load balancer already does by /readyz. The check is one middleware,
// mounted on the groups of such routes (the lifecycle API, the ledger
// routes, the resolver and the dashboard's pages), so a route added to
// them is covered too.
//
// /healthz, /readyz and /metrics stay up: they are how an operator sees
// the node and why it is out. The cluster routes do not: the listing's
// keys, which clients check heads with, come from the node's own ledger,
// and so does the token table that would authenticate a join, a removal
// or a rules adoption. An operator removes the node through any other
// (DELETE /api/v1/cluster/nodes/:id).
//
// Writes are refused as well, though the leader applies them: the node
// would forward them on the word of its own projection, which it can no
// longer vouch for. It authenticates the caller against its token table
// (a token the cluster revoked, or never issued, may be there) and the
// leader takes the actor it names; its checks of a decommission's
// premises and a capture's rules version read it too; and a diverged
// node can itself lead for a moment, until it hands the leadership on.

// readiness reports whether a node may serve (raftstore.Store.Ready).
type readiness interface {
	Ready() error
}

// divergedErr is the error every ledger route answers while n's ledger
// is diverged; nil otherwise. Only a divergence counts: a node without a
// leader still answers local reads, as ever.
func divergedErr(n readiness) error {
	err := n.Ready()
	if !errors.Is(err, raftstore.ErrDiverged) {
		return nil
	}
	return errf(http.StatusServiceUnavailable, "diverged",
		"this node's ledger is not the cluster's, so it answers nothing from it (%v); ask another node", err)
}

// servesLedger is divergedErr as a middleware of JSON routes.
func servesLedger(n readiness) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := divergedErr(n); err != nil {
			abortErr(c, err)
		}
	}
}
