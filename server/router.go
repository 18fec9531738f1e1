package server

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// Registrar mounts a group of routes; the lifecycle API and the dashboard
// are registrars, and so is anything added later.
type Registrar interface {
	Register(r gin.IRouter)
}

// Node is what the router needs from the local ledger node for the routes it
// mounts itself (health, cluster, backup, ledger head and proofs);
// *raftstore.Store implements it.
type Node interface {
	ClusterNode
	LedgerProofs
	projectionReader
	RulesNode
	BackupSource
}

// Router is a node's HTTP handler: its Gin engine, which routes by the
// escaped path, behind the normalisation of that path (ServeHTTP).
type Router struct {
	*gin.Engine
}

// ServeHTTP routes req by its escaped path with every percent-encoded
// unreserved character (RFC 3986 2.3: letters, digits, "-._~") decoded,
// the normalisation RFC 3986 6.2.2.2 allows: "/ui/%61lerts" is
// "/ui/alerts", while "%2F" and "%25" stay escaped, inside their segment.
func (r Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.RawPath != "" {
		req.URL.RawPath = decodeUnreserved(req.URL.RawPath)
	}
	r.Engine.ServeHTTP(w, req)
}

// decodeUnreserved decodes the percent-encodings of unreserved characters
// in an escaped path, and leaves every other escape as it is.
func decodeUnreserved(p string) string {
	if !strings.Contains(p, "%") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) {
			if c, err := strconv.ParseUint(p[i+1:i+3], 16, 8); err == nil && isUnreserved(byte(c)) {
				b.WriteByte(byte(c))
				i += 2
				continue
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0
}

// Create builds the HTTP handler of a node: request ids, access logs, a
// JSON panic handler, /healthz and /readyz, the cluster and ledger routes,
// then every extra registrar in order (the lifecycle API, the dashboard).
// Errors are {"error":{"code","message","request_id"}} everywhere.
func Create(node Node, log *slog.Logger, extra ...Registrar) Router {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "http")
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// Route by the path as sent, escaped, then unescape each parameter once:
	// a serial or lot may hold "/" (CSET 82), sent as %2F, which must stay
	// inside its parameter rather than split the path. Gin's own unescaping
	// is a query's, which reads "+" as a space; a path's keeps it
	// (pathParams). The escaped path, not RawPath, which a request without
	// escapes lacks: routed by the decoded path, "A%2541" would be
	// unescaped twice, to "AA". Gin's trailing-slash redirect writes the
	// decoded path, which loses a %2F, so a trailing slash is not
	// redirected (the resolver routes /01/{gtin} itself).
	r.UseEscapedPath = true
	r.UnescapePathValues = false
	r.RedirectTrailingSlash = false
	r.Use(pathParams, requestID(), accessLog(log), metricsMiddleware(), errorBody(), gin.CustomRecovery(func(c *gin.Context, p any) {
		abortErr(c, fmt.Errorf("panic: %v", p))
	}))
	r.NoRoute(func(c *gin.Context) {
		abortErr(c, errf(http.StatusNotFound, "not_found", "no route %s %s", c.Request.Method, c.Request.URL.EscapedPath()))
	})
	r.NoMethod(func(c *gin.Context) {
		abortErr(c, errf(http.StatusMethodNotAllowed, "method_not_allowed", "%s is not allowed on %s", c.Request.Method, c.Request.URL.EscapedPath()))
	})

	h := &healthAPI{node: node, reader: node}
	r.GET("/healthz", h.healthz)
	r.GET("/readyz", h.readyz)

	auth := authenticate(node, true)
	// A diverged node answers no cluster route either (diverged.go): the
	// listing's keys and its token table are its own ledger's, and an
	// operator removes it through any other node.
	v1 := r.Group("/api/v1", servesLedger(node), auth)
	cl := &clusterAPI{node: node}
	v1.GET("/cluster", cl.list)
	v1.POST("/cluster/join", requireRole(adminRole), cl.join)
	v1.DELETE("/cluster/nodes/:id", requireRole(adminRole), cl.remove)
	rules := &rulesAPI{node: node, reader: node}
	v1.GET("/cluster/rules", readAtConsistency(node), rules.get)
	v1.POST("/cluster/rules", requireRole(adminRole), rules.adopt)
	v1.GET("/cluster/backup", requireRole(adminRole), (&backupAPI{node: node}).backup)
	// The ledger's routes answer from this node's tree: a diverged node
	// refuses them (diverged.go).
	lg := &ledgerAPI{ledger: node, local: node, nodeID: node.Status().ID}
	ledger := r.Group("/api/v1/ledger", servesLedger(node), auth, readAtConsistency(node))
	ledger.GET("/head", lg.head)
	ledger.GET("/entries/:seq", lg.entry)
	ledger.GET("/proofs/inclusion", lg.inclusion)
	ledger.GET("/proofs/consistency", lg.consistency)

	for _, x := range extra {
		x.Register(r)
	}
	return Router{r}
}

// pathParams unescapes the route's parameters as path segments (RFC 3986:
// "+" is a plus); one that does not unescape stays as sent, as Gin leaves
// it.
func pathParams(c *gin.Context) {
	for i, p := range c.Params {
		if v, err := url.PathUnescape(p.Value); err == nil {
			c.Params[i].Value = v
		}
	}
}

// requestID takes the client's X-Request-Id when it is sane, or makes one,
// and repeats it in the response header, the logs and error bodies.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-Id")
		if !saneRequestID(id) {
			id = newRequestID()
		}
		c.Set(requestIDKey, id)
		c.Header("X-Request-Id", id)
		c.Next()
	}
}

// saneRequestID reports whether a client's request id may be repeated in
// logs and headers: 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-' (a loop,
// not a regular expression: it runs on every request).
func saneRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}

// newRequestID makes a request id: 64 random bits in hex. An id must be
// unique, not secret, so it comes from math/rand/v2's generator (ChaCha8
// seeded by the runtime, per-thread state) rather than a getrandom system
// call per request.
func newRequestID() string {
	var raw [8]byte
	binary.BigEndian.PutUint64(raw[:], rand.Uint64())
	var b [16]byte
	hex.Encode(b[:], raw[:])
	return string(b[:])
}

// errorBody is the error middleware: a handler may also just record an
// error with c.Error and return; if nothing was written, the last error is
// answered in the API's JSON form, with store errors mapped by storeErr
// (503 for no leader, 400 for invalid requests...) and anything else a 500.
func errorBody() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if c.Writer.Written() || len(c.Errors) == 0 {
			return
		}
		abortErr(c, storeErr(c.Errors.Last().Err))
	}
}

// maxLoggedMethod bounds the method a log line copies: a client may send a
// method of any length (up to the header limit), and every failed request
// is logged whatever the level.
const maxLoggedMethod = 16

// logMethod is the method as the access log records it: the first
// maxLoggedMethod bytes of an unusual one, marked as cut.
func logMethod(m string) string {
	if len(m) <= maxLoggedMethod {
		return m
	}
	return m[:maxLoggedMethod] + "..."
}

// accessLog logs every request, and the cause of every 5xx that a handler
// recorded with c.Error.
func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		// Most requests succeed and the access level is usually off:
		// then nothing is logged, so nothing is built.
		if len(c.Errors) == 0 && !log.Enabled(c.Request.Context(), slog.LevelDebug) {
			return
		}
		attrs := []any{
			"method", logMethod(c.Request.Method), "path", c.FullPath(), "status", c.Writer.Status(),
			"duration_ms", time.Since(start).Milliseconds(), "request_id", c.GetString(requestIDKey),
		}
		if len(c.Errors) > 0 {
			log.Error("request failed", append(attrs, "error", c.Errors.String())...)
			return
		}
		log.Debug("request", attrs...)
	}
}
