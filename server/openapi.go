package server

import (
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/models"
)

// The OpenAPI 3 document served at /openapi.json, built from one table of
// operations. A test checks that the table and the router's routes are the
// same set, so a route cannot be added without documenting it.

// apiOperation is one documented route.
type apiOperation struct {
	method, path string // gin form: /api/v1/packs/:gtin
	tag, summary string
	auth         string   // "bearer", "cookie", "optional" or "" (public)
	query        []string // query parameters
	body         []string // request content types
	ok           int      // success status
}

// apiOperations documents every route the node serves.
var apiOperations = []apiOperation{
	{"GET", "/healthz", "operations", "Liveness: the process answers.", "", nil, nil, 200},
	{"GET", "/readyz", "operations", "Readiness: the node knows a leader and holds its state of a moment ago (within 2 s), so its own reads are current, and its Merkle tree has not been found to differ from the leader's (audited every 10 s).", "", nil, nil, 200},
	{"GET", "/metrics", "operations", "Prometheus metrics: requests and latency per route, Go runtime.", "", nil, nil, 200},
	{"GET", "/openapi.json", "operations", "This document.", "", nil, nil, 200},

	{"GET", "/api/v1/cluster", "cluster", "The cluster's nodes, their roles and the leader.", "bearer", nil, nil, 200},
	{"POST", "/api/v1/cluster/join", "cluster", "Add a node (admin). Its public_key, when given, must be its head-signing verifier key, named pedigree-<id> (else 400 bad_public_key); left out, the node announces it once a member.", "bearer", nil, []string{"application/json"}, 200},
	{"DELETE", "/api/v1/cluster/nodes/:id", "cluster", "Remove a node (admin).", "bearer", nil, nil, 200},
	{"GET", "/api/v1/cluster/rules", "cluster", "The rules version the ledger judges new entries by, the newest each member's binary applies, and the ledger's adoptions. " + consistencyDoc, "bearer", []string{"consistency"}, nil, 200},
	{"POST", "/api/v1/cluster/rules", "cluster", "Adopt a newer rules version {\"version\": N} (admin), once every member's binary applies it (otherwise 409 rules_unsupported).", "bearer", nil, []string{"application/json"}, 200},
	{"GET", "/api/v1/cluster/backup", "cluster", "A consistent copy of this node's database (admin): the ledger, its Merkle tree and the projection, as one SQLite file (application/vnd.sqlite3), for pedigree serve --bootstrap --restore. " +
		"With consistency=leader or linearizable it holds every write the cluster had acknowledged when asked, even from a follower. Headers " + BackupTreeSizeHeader + " and " + BackupTreeRootHeader + " (hex) give the copy's tree head, " +
		BackupRaftIndexHeader + " its Raft index, " + BackupBytesHeader + " its length; the trailer " + BackupSHA256Trailer + " its SHA-256 (hex).", "bearer", []string{"consistency"}, nil, 200},
	{"GET", "/api/v1/ledger/head", "ledger", "This node's signed tree head (C2SP checkpoint). " + consistencyDoc, "bearer", []string{"consistency"}, nil, 200},
	{"GET", "/api/v1/ledger/entries/:seq", "ledger", "A committed ledger entry (command and result) and its leaf hash, for its writer, regulators, admins and an organisation that sees every event it captured (others: 403 forbidden). " + consistencyDoc, "bearer", []string{"consistency"}, nil, 200},
	{"GET", "/api/v1/ledger/proofs/inclusion", "ledger", "RFC 6962 inclusion proof of entry seq in the tree of size entries; without size, the current tree (size=0: 400 bad_tree_size). " + consistencyDoc, "bearer", []string{"seq", "size", "consistency"}, nil, 200},
	{"GET", "/api/v1/ledger/proofs/consistency", "ledger", "RFC 6962 consistency proof between the trees of first and second entries; without second, the current tree (second=0: 400 bad_tree_size). " + consistencyDoc, "bearer", []string{"first", "second", "consistency"}, nil, 200},

	{"POST", "/epcis/capture", "epcis", "Capture an EPCISDocument, all or nothing; 202 with Location /epcis/capture/{id}. Limits in GS1-EPCIS-Capture-Limit and GS1-EPCIS-Capture-File-Size-Limit. An event's bizLocation, where it names a GLN, must be the caller's premises, as a verification's location must (403 bad_location; regulators may name any), and an SSCC it creates (commissioned, or packed into before the ledger holds it) must be under one of the caller's company prefixes (403 not_your_prefix). Without an Idempotency-Key the capture is named by its events' ids (and error declarations): the same document again gets the first answer once it was captured, and is judged again while it was refused.", "bearer", nil, []string{"application/ld+json", "application/json"}, 202},
	{"GET", "/epcis/capture/:id", "epcis", "The status of a capture job. " + consistencyDoc, "bearer", []string{"consistency"}, nil, 200},
	{"GET", "/epcis/events", "epcis", "Query events (EPCIS 2.0 SimpleEventQuery parameters); pages follow Link rel=next. A list parameter takes at most " + strconv.Itoa(models.MaxQueryValues) + " values (beyond: 413 query_too_complex). The MATCH_ parameters look in the fields the standard names (MATCH_epc: epcList and childEPCs; MATCH_parentID: parentID; MATCH_anyEPC: every instance field; the EPCClass ones: the quantity lists) and take EPC URIs, Digital Links and sgtin/sscc patterns (urn:epc:idpat:sgtin:CP.IIR.*, CP.*.*); patterns may ask for at most " + strconv.Itoa(models.MaxMatchRanges) + " key ranges, ten for a company prefix.", "bearer",
		append([]string{"eventType", "GE_eventTime", "LT_eventTime", "GE_recordTime", "LT_recordTime", "EQ_bizStep", "EQ_disposition", "EQ_action",
			"EQ_eventID", "EQ_bizLocation", "EQ_readPoint", "perPage", "nextPageToken", "consistency"}, models.MatchParams()...), nil, 200},

	{"POST", "/api/v1/organisations", "organisations", "Register an organisation (admin). It lists at most " + strconv.Itoa(maxOrganisationPrefixes) + " company prefixes (beyond: 413 too_many_prefixes).", "bearer", nil, []string{"application/json"}, 201},
	{"GET", "/api/v1/organisations", "organisations", "List the registered organisations by id, " + pagedDoc("after", "the last id", maxOrganisationList) + " " + consistencyDoc, "bearer", []string{"limit", "after", "consistency"}, nil, 200},
	{"POST", "/api/v1/organisations/:id/tokens", "organisations", "Issue an API token; it is answered once, only its hash is stored.", "bearer", nil, []string{"application/json"}, 201},
	{"GET", "/api/v1/organisations/:id/tokens", "organisations", "List an organisation's tokens (hash and label, revoked ones too) in the order issued, for the organisation itself or an admin (403 forbidden otherwise), " + pagedDoc("after", "the last issued_seq", maxTokenList) + " After a leak, revoke by hash the tokens the organisation did not issue. " + consistencyDoc, "bearer", []string{"limit", "after", "consistency"}, nil, 200},
	{"DELETE", "/api/v1/tokens/:hash", "organisations", "Revoke a token by its SHA-256.", "bearer", nil, nil, 200},
	{"POST", "/api/v1/products", "products", "Register a product (GTIN) under the manufacturer's company prefix.", "bearer", nil, []string{"application/json"}, 201},
	{"GET", "/api/v1/products", "products", "List products by GTIN, " + pagedDoc("after", "the last GTIN", maxProductList) + " " + consistencyDoc, "bearer", []string{"limit", "after", "consistency"}, nil, 200},
	{"POST", "/api/v1/keys", "products", "Register a manufacturer's public signing key (AI 8030).", "bearer", nil, []string{"application/json"}, 201},

	{"POST", "/api/v1/verify", "verification", "Verify a scan: raw text, a Digital Link, or an image, with a GTIN (01) and a serial (21) (else 400 bad_gs1); every verdict but authentic raises an alert. An Idempotency-Key makes a retried verification (the same scan and location under the same key) answer the alert it raised first instead of raising another; other scans under the same key each get their verdict and alert. An image is at most " + strconv.Itoa(maxImagePixels/1_000_000) + " MP, 16-bit pixels counting twice and those of a progressive JPEG three times (beyond: 413 image_too_large); a node decodes as many images at once as it has cores (a request that waits too long: 503 busy). " + verifyLocationDoc + " " + consistencyDoc, "bearer", []string{"consistency"},
		[]string{"application/json", "text/plain", "image/png", "image/jpeg", "multipart/form-data"}, 200},
	{"GET", "/api/v1/verify", "verification", "Verify a scan given in the query. " + verifyLocationDoc + " " + consistencyDoc, "bearer", []string{"scan", "location", "consistency"}, nil, 200},
	{"POST", "/api/v1/decommission", "lifecycle", "Set an EU FMD inactive status (dispensed, destroyed, stolen, exported, sample, free_sample, locked). The optional location (a GLN, SGLN or PGLN URI; the caller's own GLN by default) must be the caller's premises, as a verification's (not a location: 400 bad_location; not the caller's: 403 bad_location). Idempotency-Key honoured: a repeat gets the first answer; the key reused for another request 422 idempotency_key_reused.", "bearer", nil, []string{"application/json"}, 200},
	{"POST", "/api/v1/decommission/undo", "lifecycle", "Undo a decommission: same organisation and premises (checked as the decommission's location), within 10 days.", "bearer", nil, []string{"application/json"}, 200},
	{"POST", "/api/v1/recalls", "lifecycle", "Recall a lot (its manufacturer or a regulator).", "bearer", nil, []string{"application/json"}, 201},
	{"GET", "/api/v1/recalls", "lifecycle", "List recalls, newest first, " + pagedDoc("before", "the last id", maxRecallList) + " " + consistencyDoc, "bearer", []string{"limit", "before", "consistency"}, nil, 200},
	{"GET", "/api/v1/alerts", "lifecycle", "Alerts on suspect packs (all for regulators, own for others), newest first; verdict keeps one verdict or finding. " + strconv.Itoa(defaultAlertList) + " at a time unless limit asks for another number, " + pagedDoc("before", "the last id", maxAlertList) + " " + consistencyDoc, "bearer", []string{"limit", "before", "verdict", "consistency"}, nil, 200},
	{"GET", "/api/v1/provenance/packs/:gtin/:serial", "provenance", "A pack's chain of custody: each event checked against the ledger entry that committed it (one that differs: 500 projection_mismatch), with that entry's seq, path (entry) and inclusion proof; an event declared erroneous also against the entry that declared it (declared_in; absent when the node recorded none, and then not checked). The proofs show those entries are in the signed tree, not that the chain lists every event. Beside the events: changes, the pack's decommissions and undos made through /api/v1/decommission, and recall, the recall of its lot, each checked against its entry and with its proof. " + consistencyDoc, "bearer", []string{"consistency"}, nil, 200},
	{"GET", "/api/v1/provenance/lots/:gtin/:lot", "provenance", "A lot's chain of custody, as a pack's (with the changes of the lot's packs): its first 2,000 events in ledger order. An answer that cannot stop early (a lot commissioned whole before it moved, one with fewer events, or a trading partner who saw few of them) reads about a million of the lot's packs for a regulator, 100,000 for others, and then gives the events before the first pack not read, with truncated set; a trading partner's items are those it saw among the first 100,000 packs (items_truncated when the lot has more). " + consistencyDoc, "bearer", []string{"consistency"}, nil, 200},
	{"GET", "/api/v1/provenance/containers/:sscc", "provenance", "A case's or pallet's chain of custody, as a pack's. " + consistencyDoc, "bearer", []string{"consistency"}, nil, 200},

	{"GET", "/01/:gtin", "resolver", "GS1 Digital Link resolver for a product: its page (Accept: text/html) or JSON. " + consistencyDoc, "optional",
		[]string{"linkType", "consistency"}, nil, 200},
	{"GET", "/01/:gtin/*rest", "resolver", "GS1 Digital Link resolver: a verification page (Accept: text/html) or JSON; with linkType=verificationService the DSCSA VRS answer, which is about the identifier and its status, the same whoever asks (a pharmacy's custody of the pack, an EU FMD check, is not part of it). Path and query together are at most " + strconv.Itoa(maxResolverLink) + " bytes (beyond: 400 link_too_long). " + consistencyDoc, "optional",
		[]string{"17", "linkType", "context", "reqGLN", "corrUUID", "consistency"}, nil, 200},

	{"GET", "/", "dashboard", "The dashboard (sign-in page without a session).", "cookie", nil, nil, 200},
	{"POST", "/login", "dashboard", "Sign in with an API token (form); sets an HttpOnly, SameSite=Strict cookie holding a random session id kept by this node, never the token.", "", nil, []string{"application/x-www-form-urlencoded"}, 303},
	{"POST", "/logout", "dashboard", "Sign out: ends the session on this node.", "cookie", nil, nil, 303},
	{"GET", "/ui/alerts", "dashboard", "Alerts page.", "cookie", nil, nil, 200},
	{"GET", "/ui/recalls", "dashboard", "Recalls page.", "cookie", nil, nil, 200},
	{"GET", "/ui/ledger", "dashboard", "Signed tree head; with seq, an entry's inclusion-proof check (its writer's, regulators' and admins': others 403); with checkpoint (a signed checkpoint kept earlier, checked with the keys GET /api/v1/cluster lists), or old_size and old_root, a consistency check against that tree head. A head larger than the tree is called a rollback only when its signature checked.", "cookie", []string{"seq", "checkpoint", "old_size", "old_root"}, nil, 200},
	{"GET", "/ui/provenance", "dashboard", "Chain of custody page for a pack, lot or case in any scan form.", "cookie", []string{"q"}, nil, 200},
	{"POST", "/ui/verify", "dashboard", "Verify a scan from the dashboard form.", "cookie", nil, []string{"application/x-www-form-urlencoded"}, 200},
	{"GET", "/static/*filepath", "dashboard", "The dashboard's style sheet.", "", nil, nil, 200},
	{"HEAD", "/static/*filepath", "dashboard", "The dashboard's style sheet (headers only).", "", nil, nil, 200},
}

// consistencyDoc describes the consistency parameter of the read routes
// (readAtConsistency).
const consistencyDoc = "consistency=local (the default: this node as it is, fastest), leader (after applying all the leader had committed) or linearizable " +
	"(the same, once the leader has confirmed it still leads); otherwise 400 bad_consistency, and 503 unavailable when the level cannot be reached now."

// verifyLocationDoc describes a verification's location (JSON field, form
// field or query parameter), which checkLocation enforces.
const verifyLocationDoc = "An optional location (JSON or form field, or query parameter) is the GLN an alert is recorded at (a pharmacy's own by default): " +
	"it must be the caller's own GLN or a GLN under its company prefix that is no other organisation's; regulators and admins may give any GLN " +
	"(not a GLN: 400 bad_location; not the caller's premises: 403 bad_location)."

var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

// openAPIPath turns a gin pattern into an OpenAPI path template.
func openAPIPath(p string) string { return ginParam.ReplaceAllString(p, "{$1}") }

// openAPIDocument builds the document from apiOperations.
func openAPIDocument() map[string]any {
	errSchema := map[string]any{"$ref": "#/components/schemas/Error"}
	paths := map[string]map[string]any{}
	for _, op := range apiOperations {
		p := openAPIPath(op.path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		var params []any
		for _, m := range ginParam.FindAllStringSubmatch(op.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range op.query {
			params = append(params, map[string]any{"name": q, "in": "query", "required": false, "schema": map[string]any{"type": "string"}})
		}
		// Errors are the JSON Error body, except to a browser: the
		// dashboard's pages answer every error as a page, and the
		// resolver as a page when asked for HTML.
		errContent := map[string]any{"application/json": map[string]any{"schema": errSchema}}
		switch op.tag {
		case "dashboard":
			errContent = map[string]any{"text/html": map[string]any{}}
		case "resolver":
			errContent["text/html"] = map[string]any{}
		}
		o := map[string]any{
			"tags":        []string{op.tag},
			"summary":     op.summary,
			"operationId": strings.ToLower(op.method) + strings.NewReplacer("/", "_", ":", "", "*", "", ".", "_").Replace(op.path),
			"responses": map[string]any{
				strconv.Itoa(op.ok): map[string]any{"description": http.StatusText(op.ok)},
				"4XX":               map[string]any{"description": "The request is wrong.", "content": errContent},
				"5XX":               map[string]any{"description": "The node cannot serve now (503 unavailable: retry; 503 diverged: this node's ledger is not the cluster's, ask another node).", "content": errContent},
			},
		}
		if len(params) > 0 {
			o["parameters"] = params
		}
		if len(op.body) > 0 {
			content := map[string]any{}
			for _, ct := range op.body {
				content[ct] = map[string]any{}
			}
			o["requestBody"] = map[string]any{"required": true, "content": content}
		}
		switch op.auth {
		case "bearer":
			o["security"] = []any{map[string]any{"bearer": []string{}}}
		case "cookie":
			o["security"] = []any{map[string]any{"session": []string{}}}
		case "optional":
			o["security"] = []any{map[string]any{}, map[string]any{"bearer": []string{}}, map[string]any{"session": []string{}}}
		default:
			o["security"] = []any{}
		}
		paths[p][strings.ToLower(op.method)] = o
	}
	tags := map[string]bool{}
	for _, op := range apiOperations {
		tags[op.tag] = true
	}
	var tagList []any
	names := make([]string, 0, len(tags))
	for t := range tags {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		tagList = append(tagList, map[string]any{"name": t})
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "Pedigree",
			"version":     "1",
			"description": "A replicated, tamper-evident ledger for serialized medicine packs: EPCIS 2.0 capture and query, verification, decommissioning, recalls, provenance with Merkle proofs.",
		},
		"tags":  tagList,
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": sessionCookie,
					"description": "A dashboard session id from POST /login, valid on the node that issued it until sign-out, 30 minutes idle, 12 hours, or the revocation of the token it signed in with."},
			},
			"schemas": map[string]any{
				"Error": map[string]any{
					"type":     "object",
					"required": []string{"error"},
					"properties": map[string]any{"error": map[string]any{
						"type":     "object",
						"required": []string{"code", "message"},
						"properties": map[string]any{
							"code":       map[string]any{"type": "string"},
							"message":    map[string]any{"type": "string"},
							"request_id": map[string]any{"type": "string"},
						},
					}},
				},
			},
		},
	}
}

var (
	openAPIOnce sync.Once
	openAPIDoc  map[string]any
)

// openAPIHandler serves /openapi.json.
func openAPIHandler(c *gin.Context) {
	openAPIOnce.Do(func() { openAPIDoc = openAPIDocument() })
	c.JSON(http.StatusOK, openAPIDoc)
}

// pagedDoc describes how a list is paged.
func pagedDoc(param, cursor string, limit int) string {
	return "a page of at most " + strconv.Itoa(limit) + " (limit) at a time; when more follow, the answer's next and its Link rel=\"next\" header are the URL of the next page (" + param + "=" + cursor + ")."
}
