package server

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// The lifecycle API: EPCIS capture and query, verification, decommission,
// recalls, provenance, the Digital Link resolver and the organisation
// registry. Its handlers hold the small interfaces below, which
// *raftstore.Store satisfies; tests may pass fakes.

// commandProposer commits commands to the ledger (raftstore.Store.Propose).
type commandProposer interface {
	Propose(ctx context.Context, cmds ...models.Command) ([]models.Result, error)
}

// projectionReader gives the SQLite projection at a consistency level
// (raftstore.Store.Read).
type projectionReader interface {
	Read(ctx context.Context, c raftstore.Consistency) (*gorm.DB, error)
}

// proofSource answers Merkle inclusion proofs, ledger entries and the tree
// head (raftstore.Store).
type proofSource interface {
	InclusionProof(seq, size uint64) (raftstore.InclusionProof, error)
	ConsistencyProof(first, second uint64) (raftstore.ConsistencyProof, error)
	Entry(seq uint64) (raftstore.Entry, error)
	EntryByID(id string) (raftstore.Entry, error)
	Head() raftstore.Head
}

// LifecycleLedger is everything the lifecycle API needs from a ledger node;
// *raftstore.Store implements it.
type LifecycleLedger interface {
	commandProposer
	projectionReader
	proofSource
	// ActiveRules is the rules version the ledger is at, by which a
	// captured document is read (models.DecodeDocumentAt).
	ActiveRules() int
	// Nodes lists the cluster's members with their head-signing keys, by
	// which the dashboard checks a signed checkpoint a user kept.
	Nodes() ([]raftstore.Node, error)
	// Ready says whether the node may serve; while it answers
	// raftstore.ErrDiverged, no route answers from the ledger
	// (diverged.go).
	Ready() error
}

// Caller is the authenticated organisation a request acts for.
type Caller struct {
	// Org is the organisation's id (its GLN, or an admin's name).
	Org  string
	Role models.Role
}

// seesEverything reports whether the caller may read every organisation's
// trade; the rule is models' (Viewer.SeesEverything): regulators and admins.
func (c Caller) seesEverything() bool {
	return models.Viewer{Org: c.Org, Role: c.Role}.SeesEverything()
}

// callerKey is the gin context key under which authentication leaves the
// Caller.
const callerKey = "pedigree.caller"

// callerOf returns the request's authenticated caller, or a 401 error.
func callerOf(c *gin.Context) (Caller, error) {
	if v, ok := c.Get(callerKey); ok {
		if cl, ok := v.(Caller); ok && cl.Org != "" {
			return cl, nil
		}
	}
	return Caller{}, errf(http.StatusUnauthorized, "unauthenticated", "send Authorization: Bearer <token>")
}

// LifecycleAPI bundles the lifecycle handlers; Register mounts them.
type LifecycleAPI struct {
	ledger LifecycleLedger
	epcis  *epcisAPI
	orgs   *organisationsAPI
	verify *verifyAPI
	prov   *provenanceAPI
}

// NewLifecycleAPI builds the lifecycle handlers over a ledger node.
func NewLifecycleAPI(l LifecycleLedger) *LifecycleAPI {
	verify := newVerifyAPI(l)
	return &LifecycleAPI{
		ledger: l,
		epcis:  &epcisAPI{ledger: l, premises: verify},
		orgs:   &organisationsAPI{ledger: l},
		verify: verify,
		prov:   &provenanceAPI{ledger: l},
	}
}

// SetRateLimit sets the per-token limit (requests per second and burst)
// of every route of the ledger's node, the resolver's and the dashboard's
// too, and so each organisation's (orgRateFactor times it, over all its
// tokens); perSecond 0 lifts both.
func (a *LifecycleAPI) SetRateLimit(perSecond float64, burst int) {
	authFor(a.ledger).setLimit(perSecond, burst)
}

// Register mounts the lifecycle routes on r. Every route but the Digital
// Link resolver needs a bearer token, and every route but /metrics and
// /openapi.json answers from the ledger, so a diverged node refuses it
// (diverged.go), before it reads the caller's token.
func (a *LifecycleAPI) Register(r gin.IRouter) {
	r.GET("/metrics", metricsHandler())
	r.GET("/openapi.json", openAPIHandler)
	auth := authenticate(a.ledger, true)
	held := servesLedger(a.ledger)
	ep := r.Group("/epcis", held, auth)
	ep.POST("/capture", a.epcis.capture)
	ep.GET("/capture/:id", readAtConsistency(a.ledger), a.epcis.captureStatus)
	ep.GET("/events", a.epcis.events)

	v1 := r.Group("/api/v1", held, auth)
	l := a.ledger
	decommission := decommissionChecks{premises: a.verify}
	read := readAtConsistency(l) // ?consistency= on every read
	v1.POST("/organisations", commandRoute(l, models.KindRegisterOrganisation, http.StatusCreated, checkOrganisation,
		func(p models.RegisterOrganisationPayload, _ models.Result) gin.H { return gin.H{"organisation": p} }))
	v1.GET("/organisations", read, listRoute(l, listSpec{name: "organisations", key: "id", limit: maxOrganisationList},
		func(o models.Organisation) string { return o.ID }))
	v1.POST("/organisations/:id/tokens", a.orgs.issueToken)
	v1.GET("/organisations/:id/tokens", read, a.orgs.listTokens)
	v1.DELETE("/tokens/:hash", a.orgs.revokeToken)
	v1.POST("/verify", read, a.verify.verifyPost)
	v1.GET("/verify", read, a.verify.verifyGet)
	v1.POST("/decommission", commandRoute(l, models.KindDecommission, http.StatusOK, decommission.decommission,
		func(p models.DecommissionPayload, res models.Result) gin.H {
			return gin.H{"status": p.Status, "epcs": p.EPCs, "result": res.Data}
		}))
	v1.POST("/decommission/undo", commandRoute(l, models.KindUndoDecommission, http.StatusOK, decommission.undo,
		func(p models.UndoDecommissionPayload, res models.Result) gin.H {
			return gin.H{"status": models.StatusActive, "epcs": p.EPCs, "result": res.Data}
		}))
	v1.POST("/recalls", commandRoute(l, models.KindRecall, http.StatusCreated, checkRecall,
		func(p models.RecallPayload, res models.Result) gin.H { return gin.H{"recall": p, "result": res.Data} }))
	v1.GET("/recalls", read, listRoute(l, listSpec{name: "recalls", key: "id", desc: true, limit: maxRecallList},
		func(r models.Recall) string { return strconv.FormatInt(r.ID, 10) }))
	v1.GET("/provenance/packs/:gtin/:serial", read, a.prov.pack)
	v1.GET("/provenance/lots/:gtin/:lot", read, a.prov.lot)
	v1.GET("/provenance/containers/:sscc", read, a.prov.container)
	v1.POST("/products", commandRoute(l, models.KindRegisterProduct, http.StatusCreated, nil,
		func(p models.RegisterProductPayload, _ models.Result) gin.H { return gin.H{"product": p} }))
	v1.GET("/products", read, listRoute(l, listSpec{name: "products", key: "gtin", limit: maxProductList},
		func(p models.Product) string { return p.GTIN }))
	v1.POST("/keys", commandRoute(l, models.KindRegisterKey, http.StatusCreated, nil,
		func(p models.RegisterKeyPayload, _ models.Result) gin.H { return gin.H{"key_id": p.KeyID} }))
	v1.GET("/alerts", read, listAlerts(a.ledger))
}
