package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
	"github.com/pedigree-ledger/pedigree/raftstore"
	"github.com/pedigree-ledger/pedigree/scanner"
)

// verifyAPI answers "is this pack genuine?" for a scan given as raw scanner
// text, a GS1 Digital Link URI or a photo of the code. It checks the code's
// signature (AI 8030) against the keys registered on the ledger, judges the
// pack with models.Verify on this node's projection (a local read: the
// fastest, and what EU FMD's 300 ms answer needs), from the node's verify
// index when it holds the pack, and proposes an alert for every verdict
// but authentic. Verifying an authentic pack writes nothing.
type verifyAPI struct {
	ledger LifecycleLedger
	keys   *ledgerKeys
	sigs   *sigCache // nil: check every signature (benchmarks of the uncached path)
	// index is the ledger's verify index, nil when it keeps none (or a
	// benchmark measures the SQLite path).
	index *models.VerifyIndex
	// session is the projection's session that prepares statements.
	session atomic.Pointer[preparedSession]
}

// preparedSession is a gorm session with prepared statements over the
// projection whose connection pool (one per opened database) is pool.
type preparedSession struct {
	pool gorm.ConnPool
	db   *gorm.DB
}

// prepared returns a session over db's database that prepares statements:
// verification runs the same query at a high rate, and preparing it each
// time was a sixth of its CPU. The session is made once per database, not
// per request (a gorm session is three allocations and a statement clone);
// models.Verify uses only its connection pool, not its context, so the
// request's context need not be in it.
func (h *verifyAPI) prepared(db *gorm.DB) *gorm.DB {
	if s := h.session.Load(); s != nil && s.pool == db.ConnPool {
		return s.db
	}
	s := &preparedSession{pool: db.ConnPool, db: db.Session(&gorm.Session{PrepareStmt: true, Context: context.Background()})}
	h.session.Store(s)
	return s.db
}

// verifyIndexer is a ledger that keeps a verify index (raftstore.Store
// does): the rows verifications read, in memory, exactly as committed.
type verifyIndexer interface {
	VerifyIndex() *models.VerifyIndex
}

func newVerifyAPI(l LifecycleLedger) *verifyAPI {
	h := &verifyAPI{ledger: l, keys: &ledgerKeys{reader: l}, sigs: newSigCache(sigCacheSize)}
	if vi, ok := l.(verifyIndexer); ok {
		h.index = vi.VerifyIndex()
	}
	return h
}

// Limits on verification input. A scan is at most a few hundred
// characters; an image is a phone photo.
const (
	maxScanLen   = 4096
	maxImageSize = 8 << 20
	imageTimeout = 3 * time.Second
)

// verifyRequest is the JSON body of POST /api/v1/verify.
type verifyRequest struct {
	// Scan is what the scanner sent: raw with GS separators, bracketed, or
	// a Digital Link URI.
	Scan string `json:"scan"`
	// Location is the GLN where the scan happens, recorded on an alert;
	// a pharmacy's defaults to its own GLN. It must be the caller's
	// premises (see checkLocation), or an alert would show up in another
	// organisation's list.
	Location string `json:"location,omitempty"`
}

// verifyResponse is the answer of a verification.
type verifyResponse struct {
	Verdict        models.Verdict       `json:"verdict"`
	Verified       bool                 `json:"verified"`
	Reasons        []models.Reason      `json:"reasons"`
	AlertCode      string               `json:"alert_code,omitempty"`
	FailureReason  string               `json:"verification_failure_reason,omitempty"`
	AdditionalInfo string               `json:"additional_info,omitempty"`
	Product        *models.Product      `json:"product,omitempty"`
	Pack           *packView            `json:"pack,omitempty"`
	Recall         *models.Recall       `json:"recall,omitempty"`
	Signature      scanner.Verification `json:"signature"`
	Scan           scanView             `json:"scan"`
	// AlertSeq is the ledger position of the alert this verification
	// raised; absent for an authentic pack.
	AlertSeq uint64 `json:"alert_seq,omitempty"`

	// fromIndex tells where the pack's rows were read, for the metric of
	// verifications by source; it is not part of the answer.
	fromIndex bool
}

// packView is what a verifier learns about a pack: its identity, lot,
// expiry, status and holder.
type packView struct {
	GTIN             string     `json:"gtin"`
	Serial           string     `json:"serial"`
	Lot              string     `json:"lot"`
	Expiry           string     `json:"expiry"`
	Status           string     `json:"status"`
	Holder           string     `json:"holder"`
	DecommissionedBy string     `json:"decommissioned_by,omitempty"`
	DecommissionedAt *time.Time `json:"decommissioned_at,omitempty"`
	Seq              uint64     `json:"seq"`
}

// scanView echoes the parsed scan.
type scanView struct {
	HRI string            `json:"hri"`
	AIs gs1.ElementString `json:"ais"`
}

// verifyGet handles GET /api/v1/verify?scan=...
func (h *verifyAPI) verifyGet(c *gin.Context) {
	cl, err := callerOf(c)
	if err != nil {
		abortErr(c, err)
		return
	}
	for k := range c.Request.URL.Query() {
		if k != "scan" && k != "location" && k != "consistency" {
			abortErr(c, errf(http.StatusBadRequest, "query_parameter", "unknown query parameter %q", k))
			return
		}
	}
	h.answer(c, cl, c.Query("scan"), c.Query("location"))
}

// verifyPost handles POST /api/v1/verify: JSON {"scan":...}, the scan as
// text/plain, an image (image/png, image/jpeg, image/gif), or a multipart
// form with a "scan" field or an "image" file.
func (h *verifyAPI) verifyPost(c *gin.Context) {
	cl, err := callerOf(c)
	if err != nil {
		abortErr(c, err)
		return
	}
	var scan, loc string
	switch ct := c.ContentType(); {
	case ct == "application/json":
		var req verifyRequest
		if err := bindStrict(c, &req); err != nil {
			abortErr(c, err)
			return
		}
		scan, loc = req.Scan, req.Location
	case ct == "text/plain":
		data, err := readBody(c, maxScanLen)
		if err != nil {
			abortErr(c, err)
			return
		}
		scan = strings.TrimRight(string(data), "\r\n")
	case strings.HasPrefix(ct, "image/"):
		data, err := readBody(c, maxImageSize)
		if err != nil {
			abortErr(c, err)
			return
		}
		scan, err = decodeImage(c.Request.Context(), bytes.NewReader(data))
		if err != nil {
			abortErr(c, err)
			return
		}
	case ct == "multipart/form-data":
		scan, loc, err = h.fromForm(c)
		if err != nil {
			abortErr(c, err)
			return
		}
	default:
		abortErr(c, errf(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send application/json, text/plain, an image or multipart/form-data, not %q", ct))
		return
	}
	h.answer(c, cl, scan, loc)
}

// fromForm reads a multipart form: a "scan" field or an "image" file.
func (h *verifyAPI) fromForm(c *gin.Context) (scan, loc string, err error) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxImageSize+64<<10)
	if err := c.Request.ParseMultipartForm(maxImageSize); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", "", errf(http.StatusRequestEntityTooLarge, "body_too_large", "the form exceeds %d bytes", maxImageSize)
		}
		return "", "", errf(http.StatusBadRequest, "bad_form", "multipart form: %v", err)
	}
	loc = c.Request.FormValue("location")
	if s := c.Request.FormValue("scan"); s != "" {
		return s, loc, nil
	}
	f, _, err := c.Request.FormFile("image")
	if err != nil {
		return "", "", errf(http.StatusBadRequest, "bad_form", "the form has neither a scan field nor an image file")
	}
	defer f.Close()
	scan, err = decodeImage(c.Request.Context(), f)
	return scan, loc, err
}

// answer parses, checks and judges one scan and writes the answer.
func (h *verifyAPI) answer(c *gin.Context, cl Caller, scan, loc string) {
	if err := h.checkLocation(c.Request.Context(), cl, loc); err != nil {
		abortErr(c, err)
		return
	}
	resp, alert, err := h.check(c.Request.Context(), cl, scan, loc, checkScan)
	if err != nil {
		abortErr(c, err)
		return
	}
	if alert != nil {
		res, err := proposeAlert(c, h.ledger, cl, *alert)
		if err != nil {
			abortErr(c, err)
			return
		}
		resp.AlertSeq = res.Seq
	}
	bp := answerBufs.Get().(*[]byte)
	defer answerBufs.Put(bp)
	body, err := resp.appendJSON((*bp)[:0])
	if err != nil { // a time encoding/json refuses too: its own error path
		c.JSON(http.StatusOK, resp)
		return
	}
	*bp = body
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}

// answerBufs holds encoding buffers of answers; net/http copies what a
// handler writes, so a buffer is free again when c.Data returns.
var answerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// checkKind says where a verification comes from, which decides what it
// judges besides the pack's identifier and status.
type checkKind int

const (
	// checkScan is a printed code scanned (or typed): everything is
	// judged, a pharmacy's custody of the pack included (EU FMD).
	checkScan checkKind = iota
	// checkLink is a Digital Link on the web, which carries no signature
	// as printed codes do, so a missing 8030 is "not checked" rather than
	// suspect.
	checkLink
	// checkVRS is a DSCSA Verification Router Service request: a link, as
	// checkLink, asking whether the manufacturer assigned the identifier
	// and what its status is. Custody is EU FMD's notion, no part of that
	// question: a genuine pack held elsewhere is verified whoever asks.
	checkVRS
)

// check does a verification without writing: it returns the answer and,
// for a verdict other than authentic, the alert to propose; kind says
// what it judges.
//
// An authentic verdict comes from this node's state as it is, which keeps
// the common answer local and fast. Any other verdict is judged again
// once the node has caught up with the leader (catchup.go): a pack just
// received, a dispense just undone or a key just registered would
// otherwise be judged suspect, and alerted to regulators, from a state
// the ledger has left. The alert is a write through the leader anyway, so
// catching up needs no availability the answer did not already need.
func (h *verifyAPI) check(ctx context.Context, cl Caller, scan, loc string, kind checkKind) (verifyResponse, *models.AlertPayload, error) {
	if strings.TrimSpace(scan) == "" {
		return verifyResponse{}, nil, errf(http.StatusBadRequest, "bad_scan", "the scan is empty")
	}
	if len(scan) > maxScanLen {
		return verifyResponse{}, nil, errf(http.StatusRequestEntityTooLarge, "bad_scan", "the scan is longer than %d characters", maxScanLen)
	}
	es, err := gs1.ParseScan(scan)
	if err != nil {
		return verifyResponse{}, nil, errf(http.StatusBadRequest, "bad_gs1", "%v", err)
	}
	return h.checkElements(ctx, cl, es, loc, kind)
}

// checkElements is check of a scan already parsed and validated, such as
// a Digital Link the resolver read, which need not be written out and
// parsed again.
func (h *verifyAPI) checkElements(ctx context.Context, cl Caller, es gs1.ElementString, loc string, kind checkKind) (verifyResponse, *models.AlertPayload, error) {
	resp, alert, err := h.judge(ctx, cl, es, loc, kind)
	if err == nil && alert != nil {
		if err := catchUp(ctx, h.ledger); err != nil {
			return resp, nil, err
		}
		resp, alert, err = h.judge(ctx, cl, es, loc, kind)
	}
	if err == nil {
		countVerifyRead(resp.fromIndex)
	}
	return resp, alert, err
}

// judge is one verification against this node's state as it is.
func (h *verifyAPI) judge(ctx context.Context, cl Caller, es gs1.ElementString, loc string, kind checkKind) (verifyResponse, *models.AlertPayload, error) {
	var resp verifyResponse
	if _, ok := es.Get("01"); !ok {
		return resp, nil, errf(http.StatusBadRequest, "bad_gs1", "the scan has no GTIN (01)")
	}
	// A pack is verified by its serial; a scan without one (a pack's linear
	// barcode, which carries the GTIN alone) is a misread to scan again,
	// not a suspect pack to raise an alert about. The VRS answers it alike.
	if _, ok := es.Get("21"); !ok {
		return resp, nil, errf(http.StatusBadRequest, "bad_gs1",
			"the scan has no serial number (21): scan the pack's 2D code (GS1 DataMatrix), which carries GTIN, serial, lot and expiry")
	}
	sig, err := h.sigs.verify(ctx, es, h.keys)
	if err != nil {
		return resp, nil, err
	}
	req := models.VerifyRequest{Scan: es, Signature: signatureStatus(sig.Status), KeyOwner: sig.KeyOwner}
	if kind != checkScan && sig.Status == scanner.SigMissing {
		req.Signature = models.SignatureNotChecked
		sig.Reason = "a Digital Link carries no signature; scan the printed code to check it"
	}
	if cl.Role == models.RolePharmacy && kind != checkVRS {
		req.Pharmacy = cl.Org
	}
	// From memory when the node's verify index holds the pack, else from
	// the projection; the answer is the same.
	v, fromIndex, err := h.index.Verify(req)
	if err == nil && !fromIndex {
		db, rerr := h.ledger.Read(ctx, raftstore.Local)
		if rerr != nil {
			return resp, nil, storeErr(rerr)
		}
		v, err = models.Verify(h.prepared(db), req)
	}
	if err != nil {
		return resp, nil, fmt.Errorf("verify: %w", err)
	}
	// A signature that verifies with a key the product's manufacturer does
	// not own is no signature of the product: Verify judged so (the only
	// way it finds a valid signature invalid), and the answer's signature
	// says the same. sig is this request's copy; the cache keeps the
	// check of the code as it was made, owner included.
	if sig.Status == scanner.SigValid {
		for _, r := range v.Reasons {
			if r.Verdict == models.VerdictSignatureInvalid {
				sig.Status, sig.Reason = scanner.SigInvalid, r.Message
				break
			}
		}
	}
	resp = verifyResponse{Verdict: v.Verdict, Verified: v.Verified, Reasons: v.Reasons, AlertCode: v.AlertCode,
		FailureReason: v.FailureReason, AdditionalInfo: v.AdditionalInfo, Product: v.Product, Recall: v.Recall,
		Signature: sig, Scan: scanView{HRI: es.HRI(), AIs: es}, fromIndex: fromIndex}
	if p := v.Pack; p != nil {
		resp.Pack = &packView{GTIN: p.GTIN, Serial: p.Serial, Lot: p.Lot, Expiry: p.Expiry, Status: string(p.Status),
			Holder: p.Holder, DecommissionedBy: p.DecommissionedBy, DecommissionedAt: p.DecommissionedAt, Seq: p.Seq}
	}
	alert, ok := v.Alert(req)
	if !ok {
		return resp, nil, nil
	}
	if loc != "" {
		alert.Location = loc
	}
	return resp, &alert, nil
}

// checkLocation refuses a verification's location (the GLN an alert is
// recorded at) unless it is a GLN and the caller's premises: its own GLN,
// or a GLN under one of its GS1 company prefixes that is not another
// organisation's. An organisation sees the alerts raised by it or at its
// GLN, so a location the caller could choose freely would put alerts in
// another organisation's list. Regulators and admins may name any GLN.
//
// A refusal is given after catching up with the leader: a node behind it
// may not know a prefix registered a moment ago.
func (h *verifyAPI) checkLocation(ctx context.Context, cl Caller, loc string) error {
	if loc == "" {
		return nil
	}
	if len(loc) != 13 || !gs1.ValidCheckDigit(loc) {
		return errf(http.StatusBadRequest, "bad_location", "location %q is not a GLN", loc)
	}
	if loc == cl.Org || cl.seesEverything() {
		return nil
	}
	owns, err := h.ownsGLN(ctx, cl.Org, loc)
	if err == nil && !owns {
		if err := catchUp(ctx, h.ledger); err != nil {
			return err
		}
		owns, err = h.ownsGLN(ctx, cl.Org, loc)
	}
	if err != nil {
		return err
	}
	if !owns {
		return errf(http.StatusForbidden, "bad_location",
			"location %s is not your premises: give your own GLN (%s) or one under your company prefix, or leave location out", loc, cl.Org)
	}
	return nil
}

// ownsGLN reports whether gln is under one of org's company prefixes and
// is not another organisation's id, on this node's projection.
func (h *verifyAPI) ownsGLN(ctx context.Context, org, gln string) (bool, error) {
	db, err := h.ledger.Read(ctx, raftstore.Local)
	if err != nil {
		return false, storeErr(err)
	}
	var prefixes []models.CompanyPrefix
	if err := db.Where("org_id = ?", org).Find(&prefixes).Error; err != nil {
		return false, fmt.Errorf("verify: location: %w", err)
	}
	under := false
	for _, p := range prefixes {
		under = under || strings.HasPrefix(gln, p.Prefix)
	}
	if !under {
		return false, nil
	}
	var others int64
	if err := db.Model(&models.Organisation{}).Where("id = ? AND id <> ?", gln, org).Count(&others).Error; err != nil {
		return false, fmt.Errorf("verify: location: %w", err)
	}
	return others == 0, nil
}

// signatureStatus maps the scanner's signature check to the status
// models.Verify judges by; a malformed 8030 is as bad as a wrong one.
func signatureStatus(s scanner.SignatureStatus) models.SignatureStatus {
	switch s {
	case scanner.SigValid:
		return models.SignatureValid
	case scanner.SigMissing:
		return models.SignatureMissing
	case scanner.SigUnknownKey:
		return models.SignatureUnknownKey
	}
	return models.SignatureInvalid
}

// ledgerKeys resolves signing keys, with their owners, from the ledger's
// key registry. A registered key never changes, nor does its owner (the
// registry refuses a second key with the same id), so found keys are
// cached, prepared for checking, for the life of the process.
type ledgerKeys struct {
	reader projectionReader
	cache  sync.Map // key id -> scanner.PublicKey
	// mu serializes misses; prepared counts the prepared keys in cache.
	mu       sync.Mutex
	prepared int
}

// ResolveKey implements scanner.KeyResolver.
func (k *ledgerKeys) ResolveKey(ctx context.Context, id string) (scanner.PublicKey, error) {
	if v, ok := k.cache.Load(id); ok {
		return v.(scanner.PublicKey), nil
	}
	// A miss happens once per key: requests that miss together wait for
	// one lookup, so a key is read and prepared once and counted once.
	k.mu.Lock()
	defer k.mu.Unlock()
	if v, ok := k.cache.Load(id); ok {
		return v.(scanner.PublicKey), nil
	}
	db, err := k.reader.Read(ctx, raftstore.Local)
	if err != nil {
		return scanner.PublicKey{}, err
	}
	var sk models.SigningKey
	if err := db.Where("key_id = ?", id).Limit(1).Find(&sk).Error; err != nil {
		return scanner.PublicKey{}, err
	}
	if sk.KeyID == "" {
		return scanner.PublicKey{}, fmt.Errorf("%w: %q", scanner.ErrUnknownKey, id)
	}
	// The owner goes with the key: models.Verify accepts its signatures
	// only on the owner's own products.
	pk := scanner.PublicKey{ID: sk.KeyID, Algorithm: scanner.Algorithm(sk.Algorithm), Key: sk.PublicKey, Owner: sk.OrgID}
	// Prepared once, the key checks every later code at a third of
	// crypto/ed25519's cost (see scanner.PublicKey.Prepare); at most
	// scanner.MaxPreparedKeys keys are, for their tables' memory. A key
	// that does not parse is kept as it is: scanner.Verify answers its
	// codes "invalid, the key is unusable".
	if k.prepared < scanner.MaxPreparedKeys {
		if prep, err := pk.Prepare(); err == nil {
			pk = prep
			k.prepared++
		}
	}
	k.cache.Store(id, pk)
	return pk, nil
}
