package server

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
	"github.com/pedigree-ledger/pedigree/raftstore"
	"github.com/pedigree-ledger/pedigree/web"
)

// Dashboard serves the regulator's web pages: chain of custody, alerts,
// recalls, the signed tree head and inclusion-proof checks, and pack
// verification. Pages are rendered on the server and work without
// JavaScript. A browser signs in by posting its API token once and gets a
// server-side session (sessions.go): its HttpOnly, SameSite=Strict cookie
// holds only the random session id, never the token. SameSite=Strict keeps
// other sites from posting forms as the user, and POSTs a browser marks as
// coming from another origin are refused as well.
type Dashboard struct {
	ledger   LifecycleLedger
	auth     *tokenAuth
	pages    map[string]*template.Template
	verify   *verifyAPI
	sessions *sessionStore
}

// NewDashboard parses the embedded templates.
func NewDashboard(l LifecycleLedger) (*Dashboard, error) {
	pages, err := web.Templates()
	if err != nil {
		return nil, err
	}
	return &Dashboard{ledger: l, auth: authFor(l), pages: pages, verify: newVerifyAPI(l), sessions: newSessionStore()}, nil
}

// sessionCookie holds the signed-in browser's session id.
const sessionCookie = "pedigree_session"

// Register mounts the dashboard routes on r, and the GS1 Digital Link
// resolver (/01/...), whose browser answer is a dashboard page.
func (d *Dashboard) Register(r gin.IRouter) {
	(&resolverAPI{ledger: d.ledger, verify: d.verify, dash: d}).Register(r)
	r.StaticFS("/static", http.FS(web.Static()))
	account := r.Group("/", d.session, d.decodedQuery)
	account.POST("/login", d.login)
	account.POST("/logout", d.logout)
	// Every page shows ledger data: a diverged node shows none
	// (diverged.go).
	g := r.Group("/", d.servesLedger, d.session, d.decodedQuery)
	g.GET("/", d.overview)
	g.GET("/ui/alerts", d.alerts)
	g.GET("/ui/recalls", d.recalls)
	g.GET("/ui/ledger", d.ledgerPage)
	g.GET("/ui/provenance", d.provenance)
	g.POST("/ui/verify", d.verifyForm)
}

// page is the data every template gets.
type page struct {
	Title  string
	Caller Caller
	// Head is the tree head the page shows; render reads it when the
	// handler has not, and a handler that checks proofs against a head
	// sets it to that head.
	Head  *raftstore.Head
	Error string
	// Query is the search the user typed, kept in the form on an error.
	Query string

	Alerts  []models.Alert
	Recalls []models.Recall
	Prov    Provenance
	Proof   *raftstore.InclusionProof
	Check   *proofCheck
	Consist *consistencyCheck
	Verify  *verifyResponse
	Product *productAnswer

	// AlertList and RecallList say which page of Alerts and Recalls is
	// shown, and whether older ones exist.
	AlertList, RecallList listPage
}

// session refuses cross-origin form posts and authenticates the browser
// from its session cookie, when it has one. The session's token is checked
// on every request, so revoking the token ends the session. An unknown,
// expired or revoked session is dropped rather than refused, so the user
// sees the login.
func (d *Dashboard) session(c *gin.Context) {
	if c.Request.Method == http.MethodPost && crossOrigin(c.Request) {
		d.render(c, http.StatusForbidden, "login", page{Title: "Sign in", Error: "This form was posted from another site; sign in here instead."})
		c.Abort()
		return
	}
	id, err := c.Cookie(sessionCookie)
	if err != nil || id == "" {
		return
	}
	ss, ok := d.sessions.get(id)
	if !ok {
		clearSessionCookie(c)
		return
	}
	cl, err := d.auth.lookup(c.Request.Context(), ss.tokenHash)
	switch {
	case err == nil && cl.Org == ss.org:
		if err := d.auth.admit(c, ss.tokenHash, ss.org); err != nil {
			d.fail(c, err)
			c.Abort()
			return
		}
		c.Set(callerKey, cl)
	case err == nil, errors.Is(err, errBadToken):
		d.sessions.delete(id)
		clearSessionCookie(c)
	default:
		// The node cannot read its projection now; the session stays for
		// when it can, and this request goes on signed out.
		_ = c.Error(err)
	}
}

// servesLedger refuses every page while the node's ledger is diverged
// (diverged.go), with the error page.
func (d *Dashboard) servesLedger(c *gin.Context) {
	if err := divergedErr(d.ledger); err != nil {
		d.fail(c, err)
		c.Abort()
	}
}

// decodedQuery refuses a page's query that does not decode. A page reads
// its parameters with c.Query, which drops such a one without a word, and
// would answer another question: a lot's custody for a pack's, a tree
// head without the proof asked for. (The resolver, which a session also
// serves, reads its query itself.)
func (d *Dashboard) decodedQuery(c *gin.Context) {
	if _, err := decodedQuery(c); err != nil {
		d.fail(c, err)
		c.Abort()
	}
}

// crossOrigin reports whether the browser says the request comes from
// another origin: by Fetch Metadata, or where a browser sends none, by an
// Origin whose host is not this one (net/http's CrossOriginProtection).
// SameSite=Strict already keeps the session cookie off cross-site posts;
// this also stops sibling subdomains ("same-site") and login forgery,
// which needs no cookie.
func crossOrigin(r *http.Request) bool {
	return crossOriginCheck.Check(r) != nil
}

var crossOriginCheck = http.NewCrossOriginProtection()

// setSessionCookie hands the browser its session id.
func setSessionCookie(c *gin.Context, id string) {
	c.SetSameSite(http.SameSiteStrictMode)
	c.SetCookie(sessionCookie, id, int(sessionLifetime.Seconds()), "/", "", overHTTPS(c), true)
}

func clearSessionCookie(c *gin.Context) {
	c.SetSameSite(http.SameSiteStrictMode)
	c.SetCookie(sessionCookie, "", -1, "/", "", overHTTPS(c), true)
}

// overHTTPS reports whether the browser reached this node over HTTPS:
// directly, or through a proxy that ended TLS and says so
// (X-Forwarded-Proto), as production deployments do. The session cookie
// is then Secure. A client that claims https over plain HTTP only keeps
// its own cookie from being sent back: nobody else's.
func overHTTPS(c *gin.Context) bool {
	return c.Request.TLS != nil || strings.EqualFold(c.GetHeader("X-Forwarded-Proto"), "https")
}

// render executes a page template with status.
func (d *Dashboard) render(c *gin.Context, status int, name string, p page) {
	p.Caller, _ = callerOf(c)
	// The footer shows the tree head, but not a diverged node's: the
	// cluster does not hold that tree.
	if p.Head == nil && divergedErr(d.ledger) == nil {
		h := d.ledger.Head()
		p.Head = &h
	}
	t, ok := d.pages[name]
	if !ok {
		abortErr(c, errf(http.StatusInternalServerError, "internal_error", "no page %q", name))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		_ = c.Error(err)
		c.String(http.StatusInternalServerError, "internal error")
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Security-Policy", "default-src 'self'; form-action 'self'; frame-ancestors 'none'")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// signedIn returns the caller, or renders the login page and false.
func (d *Dashboard) signedIn(c *gin.Context) (Caller, bool) {
	cl, err := callerOf(c)
	if err != nil {
		d.render(c, http.StatusUnauthorized, "login", page{Title: "Sign in"})
		return Caller{}, false
	}
	return cl, true
}

// The dashboard's list sizes. A list is read with one row more than it
// shows, so the page can say when older rows exist rather than end
// silently. The recalls page shows as many as GET /api/v1/recalls answers
// (maxRecallList), so the dashboard never shows fewer than the API.
const (
	overviewAlerts  = 20
	overviewRecalls = 20
	alertsPageSize  = 500
	recallsPageSize = maxRecallList
)

// listPage describes one page of a list shown newest first.
type listPage struct {
	// Limit is the page size; Before the id the page starts below (0: the
	// newest); More says older rows exist, and Next is the id to ask for
	// them with ?before=.
	Limit        int
	Before, Next int64
	More         bool
}

// trimPage cuts rows read with limit+1 to limit and says whether more
// exist; id names a row's id for the next page.
func trimPage[T any](rows []T, lp listPage, id func(T) int64) ([]T, listPage) {
	if len(rows) > lp.Limit {
		rows, lp.More = rows[:lp.Limit], true
		lp.Next = id(rows[len(rows)-1])
	}
	return rows, lp
}

// beforeParam reads ?before= (a positive id), 0 when absent.
func beforeParam(c *gin.Context) (int64, error) {
	s := c.Query("before")
	if s == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, errf(http.StatusBadRequest, "bad_before", "before must be a positive id")
	}
	return id, nil
}

func alertID(a models.Alert) int64   { return a.ID }
func recallID(r models.Recall) int64 { return r.ID }

func (d *Dashboard) overview(c *gin.Context) {
	cl, ok := d.signedIn(c)
	if !ok {
		return
	}
	p := page{Title: "Overview"}
	var err error
	if p.Alerts, p.AlertList, err = d.alertPage(c, cl, listPage{Limit: overviewAlerts}); err != nil {
		d.fail(c, err)
		return
	}
	if p.Recalls, p.RecallList, err = d.recallPage(c.Request.Context(), listPage{Limit: overviewRecalls}); err != nil {
		d.fail(c, err)
		return
	}
	d.render(c, http.StatusOK, "overview", p)
}

func (d *Dashboard) login(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 4096)
	tok := strings.TrimSpace(c.PostForm("token"))
	if tok == "" {
		d.render(c, http.StatusUnauthorized, "login", page{Title: "Sign in", Error: "That token is unknown or revoked."})
		return
	}
	hash := tokenHash(tok)
	cl, err := d.auth.lookup(c.Request.Context(), hash)
	if err != nil {
		if !errors.Is(err, errBadToken) {
			d.fail(c, err)
			return
		}
		d.render(c, http.StatusUnauthorized, "login", page{Title: "Sign in", Error: "That token is unknown or revoked."})
		return
	}
	// A sign-in is a request made with the token, and counts against its
	// rate limit as any other does.
	if err := d.auth.admit(c, hash, cl.Org); err != nil {
		d.render(c, http.StatusTooManyRequests, "login", page{Title: "Sign in", Error: "Too many sign-ins with that token; wait a moment and try again."})
		return
	}
	// A sign-in always starts a new session, so an id planted in the
	// browser before (session fixation) never becomes a signed-in one.
	if old, err := c.Cookie(sessionCookie); err == nil && old != "" {
		d.sessions.delete(old)
	}
	id, err := d.sessions.create(cl.Org, hash)
	if err != nil {
		d.fail(c, err)
		return
	}
	setSessionCookie(c, id)
	c.Redirect(http.StatusSeeOther, "/")
}

// logout ends the session on the node, not only in the browser: a copy of
// the cookie is worthless afterwards.
func (d *Dashboard) logout(c *gin.Context) {
	if id, err := c.Cookie(sessionCookie); err == nil && id != "" {
		d.sessions.delete(id)
	}
	clearSessionCookie(c)
	c.Redirect(http.StatusSeeOther, "/")
}

// alerts lists the alerts the caller may see, a page at a time, newest
// first; ?before=ID pages back.
func (d *Dashboard) alerts(c *gin.Context) {
	cl, ok := d.signedIn(c)
	if !ok {
		return
	}
	before, err := beforeParam(c)
	if err != nil {
		d.fail(c, err)
		return
	}
	p := page{Title: "Alerts"}
	if p.Alerts, p.AlertList, err = d.alertPage(c, cl, listPage{Limit: alertsPageSize, Before: before}); err != nil {
		d.fail(c, err)
		return
	}
	d.render(c, http.StatusOK, "alerts", p)
}

// alertPage reads one page of the alerts the caller may see.
func (d *Dashboard) alertPage(c *gin.Context, cl Caller, lp listPage) ([]models.Alert, listPage, error) {
	db, err := d.ledger.Read(c.Request.Context(), raftstore.Local)
	if err != nil {
		return nil, lp, storeErr(err)
	}
	alerts, err := models.ListAlerts(db, models.AlertQuery{Viewer: viewerOf(cl), BeforeID: lp.Before, Limit: lp.Limit + 1})
	if err != nil {
		return nil, lp, err
	}
	alerts, lp = trimPage(alerts, lp, alertID)
	return alerts, lp, nil
}

// recalls lists the recalls, a page at a time, newest first; ?before=ID
// pages back.
func (d *Dashboard) recalls(c *gin.Context) {
	if _, ok := d.signedIn(c); !ok {
		return
	}
	before, err := beforeParam(c)
	if err != nil {
		d.fail(c, err)
		return
	}
	p := page{Title: "Recalls"}
	if p.Recalls, p.RecallList, err = d.recallPage(c.Request.Context(), listPage{Limit: recallsPageSize, Before: before}); err != nil {
		d.fail(c, err)
		return
	}
	d.render(c, http.StatusOK, "recalls", p)
}

// recallPage reads one page of the recalls.
func (d *Dashboard) recallPage(ctx context.Context, lp listPage) ([]models.Recall, listPage, error) {
	db, err := d.ledger.Read(ctx, raftstore.Local)
	if err != nil {
		return nil, lp, storeErr(err)
	}
	q := db.Order("id DESC").Limit(lp.Limit + 1)
	if lp.Before > 0 {
		q = q.Where("id < ?", lp.Before)
	}
	var out []models.Recall
	if err := q.Find(&out).Error; err != nil {
		return nil, lp, err
	}
	out, lp = trimPage(out, lp, recallID)
	return out, lp, nil
}

// provenance shows the chain of custody of what the query names: q, a
// pack (01+21), a lot (01+10) or a container (00) in any scan form; or,
// as the dashboard's own links give them, gtin with serial or lot as
// separate parameters, so any value a pack or lot holds, "(" included,
// comes back as it was.
func (d *Dashboard) provenance(c *gin.Context) {
	cl, ok := d.signedIn(c)
	if !ok {
		return
	}
	subj, err := provenanceSubject(c)
	if err != nil {
		d.fail(c, err)
		return
	}
	prov, err := loadProvenance(c, d.ledger, cl, subj)
	if err != nil {
		d.fail(c, err)
		return
	}
	d.render(c, http.StatusOK, "provenance", page{Title: "Provenance of " + subj.Key, Prov: prov})
}

// provenanceSubject reads what the provenance page is asked about.
func provenanceSubject(c *gin.Context) (models.Subject, error) {
	if gtin := c.Query("gtin"); gtin != "" {
		if serial := c.Query("serial"); serial != "" {
			return notGS1(models.PackSubject(gtin, serial))
		}
		if lot := c.Query("lot"); lot != "" {
			return notGS1(models.LotSubject(gtin, lot))
		}
		return models.Subject{}, errf(http.StatusBadRequest, "bad_query", "Name the pack's serial or the lot with the GTIN.")
	}
	es, err := gs1.ParseScan(c.Query("q"))
	if err != nil {
		return models.Subject{}, errf(http.StatusBadRequest, "bad_code", "Not a GS1 code: %v", err)
	}
	gtin, hasGTIN := es.Get("01")
	serial, hasSerial := es.Get("21")
	lot, hasLot := es.Get("10")
	sscc, hasSSCC := es.Get("00")
	switch {
	case hasGTIN && hasSerial:
		return notGS1(models.PackSubject(gtin, serial))
	case hasGTIN && hasLot:
		return notGS1(models.LotSubject(gtin, lot))
	case hasSSCC:
		return models.ContainerSubject(models.ContainerKey(gs1.SSCC(sscc))), nil
	}
	return models.Subject{}, errf(http.StatusBadRequest, "bad_query", "Name a pack (01)+(21), a lot (01)+(10) or a case or pallet (00).")
}

// notGS1 words a subject's error for the user.
func notGS1(s models.Subject, err error) (models.Subject, error) {
	if err != nil {
		return s, errf(http.StatusBadRequest, "bad_code", "Not a GS1 code: %v", err)
	}
	return s, nil
}

// proofCheck is the outcome of checking one entry's inclusion proof.
type proofCheck struct {
	OK       bool
	Message  string
	Kind     models.CommandKind
	Actor    string
	Time     time.Time
	Accepted bool
	Code     string
	LeafHash []byte
	Hashes   [][]byte
	Computed []byte
}

// ledgerPage shows the signed tree head and, with ?seq=N, checks entry N's
// inclusion proof: the leaf hash recomputed from the stored entry, the root
// recomputed from the audit path, and both compared with the signed head.
// With ?old_size and ?old_root it checks that the ledger extends a head the
// user kept. The head is read once, after any catching up, and the checks
// and the page all use it: on a ledger being written to, a second read
// could show a newer head than the one the proofs were checked against.
func (d *Dashboard) ledgerPage(c *gin.Context) {
	if _, ok := d.signedIn(c); !ok {
		return
	}
	p := page{Title: "Ledger"}
	bad := func(status int, err error) {
		p.Error = d.message(c, err)
		d.render(c, statusOf(err, status), "ledger", p)
	}
	var seq uint64
	if s := c.Query("seq"); s != "" {
		var err error
		if seq, err = strconv.ParseUint(s, 10, 64); err != nil || seq == 0 {
			bad(http.StatusBadRequest, errf(http.StatusBadRequest, "bad_seq", "The sequence number must be a positive integer."))
			return
		}
	}
	kept, err := d.keptHeadParam(c)
	if err != nil {
		bad(http.StatusBadRequest, err)
		return
	}
	var oldSize uint64
	if kept != nil {
		oldSize = kept.Size
	}
	head := d.ledger.Head()
	// An entry, or a kept head, beyond this node's tree is only "not
	// there" once the node has caught up with the leader: a kept head
	// larger than the tree would read as a ledger rolled back, the tamper
	// alarm this page exists to raise truthfully, so not from a node that
	// is merely behind.
	if need := max(seq, oldSize); need > head.Size {
		if err := catchUpTo(c.Request.Context(), d.ledger, head.Size, need); err != nil {
			bad(http.StatusServiceUnavailable, err)
			return
		}
		head = d.ledger.Head()
	}
	p.Head = &head
	if seq > 0 {
		chk, pr, err := d.checkProof(c, head, seq)
		if err != nil {
			bad(http.StatusNotFound, err)
			return
		}
		p.Check, p.Proof = chk, pr
	}
	if kept != nil {
		p.Consist = d.checkConsistency(head, *kept)
	}
	d.render(c, http.StatusOK, "ledger", p)
}

// consistencyCheck is the outcome of checking that the ledger today extends
// a tree head the user kept: the proof that the ledger was not rewritten.
type consistencyCheck struct {
	OK               bool
	Message          string
	OldSize, NewSize uint64
	Hashes           [][]byte
}

// checkConsistency proves that the tree of head extends the tree head the
// user kept, with an RFC 6962 consistency proof checked here. A head of
// more entries than the tree is the tamper alarm of a rollback only when
// its signature checked (kept.SignedBy): a size and root as typed are
// anybody's, and a head that was never this ledger's proves nothing.
func (d *Dashboard) checkConsistency(head raftstore.Head, kept keptHead) *consistencyCheck {
	oldSize, size := kept.Size, strconv.FormatUint(head.Size, 10)
	old := strconv.FormatUint(oldSize, 10)
	cc := &consistencyCheck{OldSize: oldSize, NewSize: head.Size}
	if oldSize > head.Size {
		if kept.SignedBy != "" {
			cc.Message = "FAILED: " + kept.SignedBy + " signed a tree head of " + old + " entries of this ledger, which holds " + size + " now: it was rolled back."
			return cc
		}
		cc.Message = "FAILED: this ledger holds " + size + " entries, so the tree head of " + old + " entries you gave is not one of its heads. " +
			"If that head carries a valid signature of this cluster, the ledger was rolled back: check its signed checkpoint to know."
		return cc
	}
	pr, err := d.ledger.ConsistencyProof(oldSize, head.Size)
	if err != nil {
		cc.Message = "FAILED: " + err.Error()
		return cc
	}
	cc.Hashes = pr.Hashes
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, oldSize, head.Size, pr.Hashes, kept.Root, head.Root); err != nil {
		if kept.SignedBy != "" {
			cc.Message = "FAILED: the current ledger does not extend the tree head " + kept.SignedBy + " signed (" + err.Error() + "): it was rewritten."
			return cc
		}
		cc.Message = "FAILED: the current ledger does not extend the tree head you kept (" + err.Error() + "): it was rewritten, or the root you gave is wrong."
		return cc
	}
	cc.OK = true
	cc.Message = "Verified: the ledger of " + size + " entries extends the tree of " + old + " entries you kept"
	if kept.SignedBy != "" {
		cc.Message += " (signed by " + kept.SignedBy + ")"
	}
	cc.Message += "; nothing before it was rewritten."
	return cc
}

// checkProof checks entry seq against the signed head.
func (d *Dashboard) checkProof(c *gin.Context, head raftstore.Head, seq uint64) (*proofCheck, *raftstore.InclusionProof, error) {
	if seq > head.Size {
		return nil, nil, errf(http.StatusNotFound, "not_found", "The ledger has %d entries; there is no entry %d.", head.Size, seq)
	}
	entry, err := d.ledger.Entry(seq)
	if err != nil {
		return nil, nil, storeErr(err)
	}
	if err := mayReadEntry(c, d.ledger, entry); err != nil {
		return nil, nil, err
	}
	pr, err := d.ledger.InclusionProof(seq, head.Size)
	if err != nil {
		return nil, nil, storeErr(err)
	}
	chk := &proofCheck{Kind: entry.Command.Kind, Actor: entry.Command.Actor, Time: entry.Command.Time,
		Accepted: entry.Result.Accepted, Code: entry.Result.Code, LeafHash: pr.LeafHash, Hashes: pr.Hashes}
	leaf := raftstore.LeafHash(seq, entry.Command, entry.Result)
	computed, err := proof.RootFromInclusionProof(rfc6962.DefaultHasher, seq-1, head.Size, leaf, pr.Hashes)
	chk.Computed = computed
	switch {
	case !bytes.Equal(leaf, pr.LeafHash):
		chk.Message = "FAILED: the stored entry does not hash to the leaf in the tree."
	case err != nil:
		chk.Message = "FAILED: " + err.Error()
	case !bytes.Equal(computed, head.Root):
		chk.Message = "FAILED: the audit path leads to a different root than the signed tree head."
	default:
		chk.OK = true
		chk.Message = "Verified: entry " + strconv.FormatUint(seq, 10) + " is in the signed tree of size " + strconv.FormatUint(head.Size, 10) + "."
	}
	return chk, &pr, nil
}

// verifyForm verifies a scan typed or pasted into the overview's form. It
// is the API's verification, so a suspect scan raises an alert here too.
func (d *Dashboard) verifyForm(c *gin.Context) {
	cl, ok := d.signedIn(c)
	if !ok {
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxScanLen+1024)
	resp, alert, err := d.verify.check(c.Request.Context(), cl, c.PostForm("scan"), "", checkScan)
	if err != nil {
		d.fail(c, err)
		return
	}
	if alert != nil {
		res, err := proposeAlert(c, d.ledger, cl, *alert)
		if err != nil {
			d.fail(c, err)
			return
		}
		resp.AlertSeq = res.Seq
	}
	d.render(c, http.StatusOK, "verify", page{Title: "Verification", Verify: &resp})
}

// fail renders an error page with the error's status: the message and the
// search forms, and no lists, so it never claims that none exist.
func (d *Dashboard) fail(c *gin.Context, err error) {
	d.render(c, statusOf(err, http.StatusInternalServerError), "error", page{Title: "Error", Error: d.message(c, err), Query: c.Query("q")})
}

// message is what a page tells the user about err: an API error's message,
// without its code; anything else is logged and shown as "internal
// error", since its text is for operators.
func (d *Dashboard) message(c *gin.Context, err error) string {
	var ae *apiErr
	if errors.As(err, &ae) {
		return ae.Message
	}
	_ = c.Error(err)
	return "internal error"
}
