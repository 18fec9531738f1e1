package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// ClusterNode is what the cluster and health endpoints need from the local
// node; *raftstore.Store implements it.
type ClusterNode interface {
	Join(ctx context.Context, n raftstore.NodeInfo, voter bool) error
	Remove(ctx context.Context, id string) error
	Nodes() ([]raftstore.Node, error)
	Status() raftstore.Status
	Ready() error
}

const adminRole = models.RoleAdmin

// requireRole refuses callers of any other role with 403. It runs after
// authenticate.
func requireRole(role models.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		cl, err := callerOf(c)
		if err != nil {
			abortErr(c, err)
			return
		}
		if cl.Role != role {
			abortErr(c, errf(http.StatusForbidden, "forbidden", "only an %s may do this; %s is a %s", role, cl.Org, cl.Role))
			return
		}
	}
}

type clusterAPI struct {
	node ClusterNode
}

// joinRequest is the body of POST /api/v1/cluster/join, sent by
// `pedigree serve --join`.
type joinRequest struct {
	ID        string `json:"id"`
	RaftAddr  string `json:"raft_addr"`
	HTTPAddr  string `json:"http_addr"`
	PublicKey string `json:"public_key"`
	// Voter is false for a non-voting read replica; absent means true.
	Voter *bool `json:"voter"`
}

// clusterView is the body of GET /api/v1/cluster.
type clusterView struct {
	Leader string           `json:"leader"`
	Self   raftstore.Status `json:"self"`
	Nodes  []raftstore.Node `json:"nodes"`
}

func (a *clusterAPI) list(c *gin.Context) {
	nodes, err := a.node.Nodes()
	if err != nil {
		abortErr(c, storeErr(err))
		return
	}
	st := a.node.Status()
	c.JSON(http.StatusOK, clusterView{Leader: st.LeaderID, Self: st, Nodes: nodes})
}

// join adds a node (forwarded to the leader by the store if needed).
func (a *clusterAPI) join(c *gin.Context) {
	var req joinRequest
	if err := bindStrict(c, &req); err != nil {
		abortErr(c, err)
		return
	}
	if req.ID == "" || req.RaftAddr == "" {
		abortErr(c, errf(http.StatusBadRequest, "invalid_request", "id and raft_addr are required"))
		return
	}
	// The key is listed as the node's head-signing key, which clients
	// check signed tree heads with. A joiner may leave it out: the node
	// announces its listing, key included, once it is a member.
	if req.PublicKey != "" {
		if err := raftstore.CheckNodeKey(req.ID, req.PublicKey); err != nil {
			abortErr(c, errf(http.StatusBadRequest, "bad_public_key", "public_key: %v", err))
			return
		}
	}
	voter := req.Voter == nil || *req.Voter
	n := raftstore.NodeInfo{ID: req.ID, RaftAddr: req.RaftAddr, HTTPAddr: req.HTTPAddr, PublicKey: req.PublicKey}
	if err := a.node.Join(c.Request.Context(), n, voter); err != nil {
		if errors.Is(err, raftstore.ErrClusterMismatch) {
			// 409: asking again cannot help; the node's data directory
			// must be emptied first.
			abortErr(c, errf(http.StatusConflict, "cluster_mismatch", "%v", err))
			return
		}
		abortErr(c, storeErr(err))
		return
	}
	// The cluster's id, so the joiner can check it joined the cluster it
	// meant to (it learned the id from GET /api/v1/cluster before asking).
	c.JSON(http.StatusOK, gin.H{"id": req.ID, "voter": voter, "cluster_id": a.node.Status().ClusterID})
}

func (a *clusterAPI) remove(c *gin.Context) {
	id := c.Param("id")
	if err := a.node.Remove(c.Request.Context(), id); err != nil {
		abortErr(c, storeErr(err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"removed": id})
}
