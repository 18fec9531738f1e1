// Package server is Pedigree's HTTP API on a ledger node, built with Gin.
//
// Create (router.go) builds the engine: request ids, access logs,
// Prometheus metrics, JSON panics, health, the cluster and ledger-proof
// routes, then the registrars it is given: the lifecycle API
// (LifecycleAPI: EPCIS 2.0 capture and query, verification,
// decommissioning, recalls, provenance, organisations, products and keys,
// /metrics, /openapi.json) and the dashboard (Dashboard: server-rendered
// pages and the GS1 Digital Link resolver).
//
// Invariants every handler keeps:
//   - A request is authenticated (Authorization: Bearer, or the dashboard's
//     session cookie, which holds a server-side session id, never the
//     token), parsed strictly into a models command, and proposed to the
//     replicated store; the models rules decide on every node, so handlers
//     never write the projection. A committed write answers with its
//     ledger position ("seq").
//   - A revoked token, and every dashboard session signed in with it, fails
//     on a node as soon as that node has applied the revocation (auth.go).
//   - Every error is {"error":{"code","message","request_id"}}; a malformed
//     request or a refused transition is a 4xx, never a 5xx.
//   - Reads take the local projection (raftstore.Local) unless asked for
//     more with ?consistency=leader or linearizable (readAtConsistency,
//     catchup.go); verifications read the node's verify index first, which holds
//     committed rows only. Verifying an authentic pack writes nothing, any
//     other verdict proposes an alert.
//   - Where a node that lags would give a wrong answer rather than an old
//     one, it catches up with the leader first (catchup.go): before it
//     refuses a token it has not seen, answers a verdict other than
//     authentic (and alerts it), or says that a ledger entry, a tree size
//     or a capture does not exist.
//   - A trading partner sees only its own trade; regulators and admins
//     see everything. The rule is models' (models.Viewer): the events
//     query and provenance hand the caller to models.QueryEvents and
//     models.ChainOfCustody, which apply it.
//   - A node whose tree audit found its ledger is not the cluster's
//     (raftstore.ErrDiverged) answers nothing from it: every route but
//     health, readiness and metrics refuses, the cluster's too, 503
//     diverged (diverged.go).
//   - An event served beside an inclusion proof has been checked against
//     the ledger entry the proof covers (provenance_check.go): the
//     projection is a copy, which the proofs do not cover.
//
// Handlers are structs holding the small interfaces they need from the
// node (Propose, Read, proofs), which *raftstore.Store implements and
// tests may fake.
package server
