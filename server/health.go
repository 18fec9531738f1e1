package server

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

type healthAPI struct {
	node   ClusterNode
	reader projectionReader // to measure how far behind the leader the node is
}

// readyLag is how far behind the leader a ready node may be: it must hold
// the leader's state of a moment ago within this long. A follower in step
// holds it within the leader's next replication (up to twice Raft's
// CommitTimeout, 100 ms); one restoring a snapshot or replaying a long
// log after an outage does not, and would answer reads, verdicts among
// them, from a state hours old.
const readyLag = 2 * time.Second

// healthz answers while the process serves HTTP at all.
func (h *healthAPI) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz answers 200 when the node knows a leader, so writes and
// leader/linearizable reads can succeed, and is not far behind it
// (readyLag), so its own reads are current; 503 otherwise, for load
// balancers.
func (h *healthAPI) readyz(c *gin.Context) {
	if err := h.node.Ready(); err != nil {
		abortErr(c, errf(http.StatusServiceUnavailable, "not_ready", "%v", err))
		return
	}
	if err := awaitLeaderState(c.Request.Context(), h.reader, readyLag); err != nil {
		abortErr(c, errf(http.StatusServiceUnavailable, "not_ready", "this node is catching up with the leader: %v", err))
		return
	}
	st := h.node.Status()
	c.JSON(http.StatusOK, gin.H{"status": "ready", "node": st.ID, "leader": st.LeaderID, "state": st.State})
}

// Starting is what a node's HTTP listener answers while the node opens
// its ledger, which after a crash or on a large ledger takes tens of
// seconds (recovering SQLite's WAL, building indexes, restoring a
// snapshot, loading the verify index). Without it the listener accepts
// connections that nobody answers until then: a load balancer's checks
// and every client hang instead of moving on. /healthz answers 200, as
// the process is alive and busy (a liveness probe that timed out would
// have it restarted, and start over). /metrics answers too: the process's
// memory and CPU during a long opening are what an operator wants to see,
// and a scrape that failed would read as a node down. /readyz and every
// other route answer 503 with code starting and a Retry-After, in the
// API's error form, request id included.
func Starting() http.Handler {
	metrics := metricsHTTP()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metrics":
			metrics.ServeHTTP(w, r)
			return
		case "/healthz":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"status":"starting"}`))
			return
		}
		id := r.Header.Get("X-Request-Id")
		if !saneRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		// saneRequestID admits no character JSON would escape.
		_, _ = w.Write([]byte(`{"error":{"code":"starting","message":"this node is opening its ledger; ask another node, or again in a few seconds","request_id":"` + id + `"}}`))
	})
}
