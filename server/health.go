package server

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

type healthAPI struct {
	node ClusterNode
}

// healthz answers while the process serves HTTP at all.
func (h *healthAPI) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz answers 200 when the node knows a leader, so writes and
// leader/linearizable reads can succeed; 503 otherwise, for load balancers.
func (h *healthAPI) readyz(c *gin.Context) {
	if err := h.node.Ready(); err != nil {
		abortErr(c, errf(http.StatusServiceUnavailable, "not_ready", "%v", err))
		return
	}
	st := h.node.Status()
	c.JSON(http.StatusOK, gin.H{"status": "ready", "node": st.ID, "leader": st.LeaderID, "state": st.State})
}
