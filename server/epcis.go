package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// epcisAPI is the EPCIS 2.0 REST binding: capture (POST /epcis/capture,
// all or nothing) and the events query (GET /epcis/events). A capture is
// one capture_events command; its id is the capture id clients poll.
type epcisAPI struct {
	ledger LifecycleLedger
	// premises checks where an event says it happened (checkLocation).
	premises *verifyAPI
}

// The capture limits advertised in GS1-EPCIS-Capture-Limit and
// GS1-EPCIS-Capture-File-Size-Limit. A 10,000-pack commissioning event is
// about 600 KB of JSON; a whole document of 10,000 small events about 8 MB.
const (
	captureFileSizeLimit = 32 << 20
	captureEventLimit    = models.MaxCaptureEvents
)

// captureDecodes bounds the documents this process decodes at once to its
// cores, as imageDecodes bounds images: a document at the limits takes a
// core for a tenth of a second or more and several times its size in
// memory while decoded, so more at once would add memory, not captures.
var captureDecodes = newDecodeSlots(runtime.NumCPU())

// captureDecodeWait is how long a capture waits for a decode slot before
// it is answered 503: a few documents at the limits' decoding time.
const captureDecodeWait = 10 * time.Second

// setCaptureLimits advertises the capture limits, on every capture answer.
func setCaptureLimits(c *gin.Context) {
	c.Header("GS1-EPCIS-Capture-Limit", strconv.Itoa(captureEventLimit))
	c.Header("GS1-EPCIS-Capture-File-Size-Limit", strconv.Itoa(captureFileSizeLimit))
	setVersions(c)
}

// setVersions names the standards' versions, on capture and query answers
// alike (the REST binding lists them on both).
func setVersions(c *gin.Context) {
	c.Header("GS1-EPCIS-Version", "2.0.0")
	c.Header("GS1-CBV-Version", "2.0.0")
}

// captureIDPrefix marks capture command ids; the rest is hex, so the id is
// safe in a URL path.
const captureIDPrefix = "capture-"

// capture handles POST /epcis/capture.
func (h *epcisAPI) capture(c *gin.Context) {
	setCaptureLimits(c)
	cl, err := callerOf(c)
	if err != nil {
		abortErr(c, err)
		return
	}
	if ct := c.ContentType(); ct != "application/json" && ct != "application/ld+json" {
		abortErr(c, errf(http.StatusUnsupportedMediaType, "unsupported_media_type", "send an EPCISDocument as application/ld+json or application/json, not %q", ct))
		return
	}
	if b := c.GetHeader("GS1-Capture-Error-Behaviour"); b != "" && !strings.EqualFold(b, "rollback") {
		abortErr(c, errf(http.StatusBadRequest, "unsupported_error_behaviour", "GS1-Capture-Error-Behaviour %q: this repository captures all or nothing (rollback)", b))
		return
	}
	data, err := readBody(c, captureFileSizeLimit)
	if err != nil {
		abortErr(c, err)
		return
	}
	// The ledger's rules say how a document reads and how its events are
	// named; the rules that apply it are those at its entry, which an
	// adoption committing meanwhile could change (it then judges the
	// events by its own reading).
	rules := h.ledger.ActiveRules()
	events, err := decodeCaptureInSlot(c.Request.Context(), data, rules)
	if err != nil {
		abortErr(c, err)
		return
	}
	if err := h.checkEventPremises(c.Request.Context(), cl, events); err != nil {
		abortErr(c, err)
		return
	}
	if err := h.checkNewContainers(c.Request.Context(), cl, events); err != nil {
		abortErr(c, err)
		return
	}
	id, err := captureID(c, cl, events, rules)
	if err != nil {
		abortErr(c, err)
		return
	}
	if c.GetHeader("Idempotency-Key") == "" {
		id = h.afterRefusals(id)
	}
	cmd, err := models.NewCommand(id, models.KindCaptureEvents, cl.Org, time.Time{}, models.CaptureEventsPayload{Events: events})
	if err != nil {
		abortErr(c, errf(http.StatusBadRequest, "bad_event", "%v", err))
		return
	}
	c.Header("Location", "/epcis/capture/"+id)
	res, err := propose(c, h.ledger, cmd)
	if err != nil {
		abortErr(c, err)
		return
	}
	var out models.CaptureResult
	if len(res.Data) > 0 {
		_ = json.Unmarshal(res.Data, &out)
	}
	c.JSON(http.StatusAccepted, gin.H{"captureID": id, "seq": res.Seq, "eventIDs": out.EventIDs})
}

// checkEventPremises refuses a capture with an event whose bizLocation
// is not the caller's premises, as checkLocation judges a verification's
// or a decommission's location. Where an event happened decides who sees
// it (a trading partner sees the events at its sites), and a dispensing
// or destroying event's location is where verifiers and regulators are
// told the pack went: a location the caller could choose freely would
// put its events in another organisation's records. A location that
// names no GLN (a geographic URI) names nobody's premises, but one shaped
// like a stored location key ("(414)...") is refused: stored as it is, it
// would read as the GLN's location. An error declaration restates an
// event already captured and moves nothing, so it is not checked: the
// capturer of an event misplaced before this check may still retract it.
func (h *epcisAPI) checkEventPremises(ctx context.Context, cl Caller, events []models.Event) error {
	checked := map[string]bool{}
	for i, e := range events {
		if e.ErrorDeclaration != nil {
			continue
		}
		gln, ok := models.LocationGLN(e.BizLocation)
		if !ok && strings.HasPrefix(e.BizLocation, "(") {
			return errf(http.StatusBadRequest, "bad_location", "event %d: bizLocation %q is not a location URI: give an SGLN (urn:epc:id:sgln:...) or a GS1 Digital Link (.../414/...)", i, e.BizLocation)
		}
		if !ok || checked[gln] {
			continue
		}
		if err := h.premises.checkLocation(ctx, cl, gln); err != nil {
			var ae *apiErr
			if errors.As(err, &ae) && ae.Code == "bad_location" {
				return errf(ae.Status, ae.Code, "event %d: bizLocation %s is not your premises: an event is captured where it happened, at your own GLN or one under your company prefix", i, e.BizLocation)
			}
			return err
		}
		checked[gln] = true
	}
	return nil
}

// checkNewContainers refuses a capture that would create a container
// (SSCC) outside the caller's company prefixes: one it commissions, or
// one it packs into before the ledger holds it (the rules create both).
// SSCCs run in sequence, so anyone could otherwise take a manufacturer's
// next ones first and have its own commissioning of them refused. A
// container the ledger holds already is the rules' to judge (custody).
// As for premises, a refusal is given after catching up with the leader.
func (h *epcisAPI) checkNewContainers(ctx context.Context, cl Caller, events []models.Event) error {
	if cl.seesEverything() {
		return nil
	}
	type container struct {
		event int
		uri   string
		key   string
	}
	var created []container
	for i, e := range events {
		if e.ErrorDeclaration != nil {
			continue // a restatement: it creates nothing
		}
		var uris []string
		switch {
		case e.Type == models.ObjectEvent && e.Action == models.ActionAdd && (e.BizStep == "" || e.BizStep == "commissioning" || e.BizStep == "encoding"):
			uris = e.EPCList
		case e.Type == models.AggregationEvent && e.Action == models.ActionAdd && e.ParentID != "":
			uris = []string{e.ParentID}
		}
		for _, u := range uris {
			if epc, err := gs1.ParseEPC(u); err == nil && epc.Kind == gs1.EPCSSCC {
				created = append(created, container{i, u, models.EPCKey(epc)})
			}
		}
	}
	if len(created) == 0 {
		return nil
	}
	refused := func() (*container, error) {
		db, err := h.ledger.Read(ctx, raftstore.Local)
		if err != nil {
			return nil, storeErr(err)
		}
		var prefixes []string
		if err := db.Model(&models.CompanyPrefix{}).Where("org_id = ?", cl.Org).Pluck("prefix", &prefixes).Error; err != nil {
			return nil, fmt.Errorf("capture: company prefixes: %w", err)
		}
		for i, ct := range created {
			digits := ct.key[len("(00)")+1:] // after the extension digit
			if slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(digits, p) }) {
				continue
			}
			var held int64
			if err := db.Model(&models.Item{}).Where(`"key" = ?`, ct.key).Count(&held).Error; err != nil {
				return nil, fmt.Errorf("capture: containers: %w", err)
			}
			if held == 0 {
				return &created[i], nil
			}
		}
		return nil, nil
	}
	ct, err := refused()
	if err == nil && ct != nil {
		if err := catchUp(ctx, h.ledger); err != nil {
			return err
		}
		ct, err = refused()
	}
	if err != nil || ct == nil {
		return err
	}
	return errf(http.StatusForbidden, "not_your_prefix", "event %d: %s would create a container outside your company prefixes; an SSCC is made under the prefix of the organisation that builds the case or pallet", ct.event, ct.uri)
}

// decodeCaptureInSlot is decodeCapture in one of captureDecodes' slots,
// or 503 busy if none is free within captureDecodeWait.
func decodeCaptureInSlot(ctx context.Context, data []byte, rules int) ([]models.Event, error) {
	wait, cancel := context.WithTimeout(ctx, captureDecodeWait)
	release, err := captureDecodes.acquire(wait)
	cancel()
	if err != nil {
		return nil, errf(http.StatusServiceUnavailable, "busy",
			"this node is decoding %d captures already and none finished in time; try again", cap(captureDecodes))
	}
	defer release()
	return decodeCapture(data, rules)
}

// decodeCapture decodes an EPCISDocument strictly, as a ledger at rules
// version rules reads it, and checks the event limit (before it decodes
// any event).
func decodeCapture(data []byte, rules int) ([]models.Event, error) {
	events, err := models.DecodeDocumentAt(data, rules)
	var tooMany *models.TooManyEventsError
	switch {
	case errors.As(err, &tooMany):
		return nil, errf(http.StatusRequestEntityTooLarge, "capture_limit", "%d events; GS1-EPCIS-Capture-Limit is %d", tooMany.Events, captureEventLimit)
	case err != nil:
		return nil, errf(http.StatusBadRequest, "bad_epcis", "%v", err)
	case len(events) == 0:
		return nil, errf(http.StatusBadRequest, "bad_epcis", "epcisBody.eventList is empty")
	}
	return events, nil
}

// captureID names a capture. With an Idempotency-Key it is derived from the
// key; without, from the events' ids (CBV 2.0 hash ids where an event has
// none, as the ledger's rules version names them) and their error
// declarations, so posting the same document twice commits it once and
// answers the first result both times, on any node, while a declaration
// that an event was in error (which restates the event's id) is a capture
// of its own. Both are scoped to the caller.
func captureID(c *gin.Context, cl Caller, events []models.Event, rules int) (string, error) {
	h := sha256.New()
	h.Write([]byte(cl.Org))
	h.Write([]byte{0})
	if k := c.GetHeader("Idempotency-Key"); k != "" {
		if len(k) > 200 {
			return "", errf(http.StatusBadRequest, "bad_idempotency_key", "Idempotency-Key is longer than 200 characters")
		}
		h.Write([]byte("key\x00" + k))
	} else {
		for _, e := range events {
			id := e.EventID
			if id == "" {
				id = models.EventHashIDAt(e, rules)
			}
			h.Write([]byte(id))
			h.Write([]byte{0})
			if d := e.ErrorDeclaration; d != nil {
				// Only declarations add to the hash, so the ids of
				// documents without them are as before.
				decl, err := json.Marshal(d)
				if err != nil {
					return "", fmt.Errorf("capture id: %w", err)
				}
				h.Write([]byte("declared\x00"))
				h.Write(decl)
				h.Write([]byte{0})
			}
		}
	}
	return captureIDPrefix + hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// maxRefusedRetries bounds the refusals afterRefusals follows, each a
// lookup: a document refused this often stays refused under its id (send
// it with an Idempotency-Key of its own, or changed).
const maxRefusedRetries = 100

// afterRefusals is the id a capture without an Idempotency-Key goes
// under. The id derived from its events (captureID) makes a retry after a
// lost answer commit the document once. But the ledger answers a used id
// with its first result, so a document once refused (a receipt sent
// before its shipment) would be refused for ever, though a refused
// capture changed nothing and may be sent again once what refused it has
// changed. So a refused capture's id is followed by "<id>.<seq>", the
// seq of its refusal, and so on: as deterministic, so retries of the
// same document on any node reach the same id and commit it once. A node
// that has not yet applied a refusal proposes the earlier id, and its
// client gets the refusal again, as before.
func (h *epcisAPI) afterRefusals(id string) string {
	next := id
	for range maxRefusedRetries {
		e, err := h.ledger.EntryByID(next)
		if err != nil || e.Result.Accepted {
			break
		}
		next = id + "." + strconv.FormatUint(e.Seq, 10)
	}
	return next
}

// captureStatus handles GET /epcis/capture/{id}: the capture job, which is
// already finished when POST answered, since the command is committed
// before the answer.
func (h *epcisAPI) captureStatus(c *gin.Context) {
	setCaptureLimits(c)
	cl, err := callerOf(c)
	if err != nil {
		abortErr(c, err)
		return
	}
	id := c.Param("id")
	if !strings.HasPrefix(id, captureIDPrefix) {
		abortErr(c, errf(http.StatusNotFound, "not_found", "no capture %q", id))
		return
	}
	e, err := h.ledger.EntryByID(id)
	if errors.Is(err, raftstore.ErrNotFound) {
		// The capture may be one this node has yet to apply (catchup.go):
		// its client was answered by another node, or by this one as a
		// follower, before this node applied it.
		if err := catchUp(c.Request.Context(), h.ledger); err != nil {
			abortErr(c, err)
			return
		}
		e, err = h.ledger.EntryByID(id)
	}
	if err != nil || e.Command.Kind != models.KindCaptureEvents || (e.Command.Actor != cl.Org && !cl.seesEverything()) {
		abortErr(c, errf(http.StatusNotFound, "not_found", "no capture %q", id))
		return
	}
	body := gin.H{"captureID": id, "running": false, "success": e.Result.Accepted,
		"captureErrorBehaviour": "rollback", "seq": e.Seq, "errors": []gin.H{}}
	if !e.Result.Accepted {
		body["errors"] = []gin.H{{"type": "epcisException:ValidationException", "title": e.Result.Code, "detail": e.Result.Message, "status": rejectionStatus(e.Result.Code)}}
	}
	c.JSON(http.StatusOK, body)
}

// The query parameters GET /epcis/events understands; any other is refused
// (EPCIS QueryParameterException) rather than silently ignored. All but
// consistency (the read's level, which events reads itself) are EPCIS's.
var eventQueryParams = func() map[string]bool {
	params := map[string]bool{
		"eventType": true, "GE_eventTime": true, "LT_eventTime": true, "GE_recordTime": true, "LT_recordTime": true,
		"EQ_bizStep": true, "EQ_disposition": true, "EQ_action": true, "EQ_eventID": true, "EQ_bizLocation": true,
		"EQ_readPoint": true, "perPage": true, "nextPageToken": true, "consistency": true,
	}
	for _, k := range models.MatchParams() {
		params[k] = true
	}
	return params
}()

// parseRawQuery is url.ParseQuery less its refusal of ";": pairs are
// separated by "&" alone, so a value may hold ";", as RFC 3986 allows and
// every EPCIS 2.0 hash event id does ("ni:///sha-256;...?ver=CBV2.0"). A
// key or value that does not decode is an error.
func parseRawQuery(raw string) (url.Values, error) {
	q := url.Values{}
	for _, param := range strings.Split(raw, "&") {
		if param == "" {
			continue
		}
		k, v, _ := strings.Cut(param, "=")
		key, err := url.QueryUnescape(k)
		if err == nil {
			v, err = url.QueryUnescape(v)
		}
		if err != nil {
			return nil, err
		}
		q.Add(key, v)
	}
	return q, nil
}

// singleValued are the query parameters that take one value, not a list.
var singleValued = map[string]bool{"GE_eventTime": true, "LT_eventTime": true, "GE_recordTime": true, "LT_recordTime": true,
	"perPage": true, "nextPageToken": true, "consistency": true}

// parseEventQuery reads the standard query parameters into the models
// query, which judges their values (models.QueryEvents is the one
// implementation of the query). Lists may repeat a parameter or separate
// values with commas.
func parseEventQuery(q url.Values) (models.EventQuery, error) {
	var eq models.EventQuery
	for k, vs := range q {
		if !eventQueryParams[k] {
			return eq, errf(http.StatusBadRequest, "query_parameter", "unknown query parameter %q", k)
		}
		// A list parameter may be repeated; one of a single value given
		// twice would have all but its first ignored.
		if singleValued[k] && len(vs) > 1 {
			return eq, errf(http.StatusBadRequest, "query_parameter", "%s is given %d times; it takes one value", k, len(vs))
		}
	}
	list := func(k string) []string {
		var out []string
		for _, v := range q[k] {
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
		}
		return out
	}
	eq.EventType = list("eventType")
	eq.BizStep = list("EQ_bizStep")
	eq.Disposition = list("EQ_disposition")
	eq.Action = list("EQ_action")
	eq.EventID = list("EQ_eventID")
	eq.BizLocation = list("EQ_bizLocation")
	eq.ReadPoint = list("EQ_readPoint")
	for _, k := range models.MatchParams() {
		if vals := list(k); len(vals) > 0 {
			eq.Match = append(eq.Match, models.EPCMatch{Param: k, Values: vals})
		}
	}
	for _, p := range []struct {
		k   string
		dst **time.Time
	}{{"GE_eventTime", &eq.GEEventTime}, {"LT_eventTime", &eq.LTEventTime}, {"GE_recordTime", &eq.GERecordTime}, {"LT_recordTime", &eq.LTRecordTime}} {
		if v := q.Get(p.k); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return eq, errf(http.StatusBadRequest, "query_parameter", "%s %q is not an RFC 3339 time", p.k, v)
			}
			*p.dst = &t
		}
	}
	eq.PerPage = models.DefaultPerPage
	if v := q.Get("perPage"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return eq, errf(http.StatusBadRequest, "query_parameter", "perPage must be a positive integer")
		}
		// The REST binding lets a server answer fewer than asked, up to
		// its own limit: more than that is a longer walk of next links,
		// not an error.
		eq.PerPage = min(n, models.MaxPerPage)
	}
	eq.NextPageToken = q.Get("nextPageToken")
	return eq, nil
}

// viewerOf is the caller as models' visibility rule sees it.
func viewerOf(cl Caller) *models.Viewer {
	return &models.Viewer{Org: cl.Org, Role: cl.Role}
}

// queryErr maps a models query error to the API's: a query the client got
// wrong is a 400 QueryParameterException, one asking for too much at once
// a 413 QueryTooComplexException.
func queryErr(err error) error {
	switch {
	case errors.Is(err, models.ErrBadQuery):
		msg := strings.TrimPrefix(err.Error(), models.ErrBadQuery.Error()+": ")
		return errf(http.StatusBadRequest, "query_parameter", "%s", msg)
	case errors.Is(err, models.ErrQueryTooComplex):
		msg := strings.TrimPrefix(err.Error(), models.ErrQueryTooComplex.Error()+": ")
		return errf(http.StatusRequestEntityTooLarge, "query_too_complex", "%s", msg)
	}
	return err
}

// events handles GET /epcis/events: the caller sees only what models'
// visibility rule lets it see.
func (h *epcisAPI) events(c *gin.Context) {
	cl, err := callerOf(c)
	if err != nil {
		abortErr(c, err)
		return
	}
	// url.Values drops a pair that does not decode, and with it a filter:
	// the answer would hold events the client did not ask for.
	q, err := parseRawQuery(c.Request.URL.RawQuery)
	if err != nil {
		abortErr(c, errf(http.StatusBadRequest, "query_parameter", "the query does not decode: %v", err))
		return
	}
	eq, err := parseEventQuery(q)
	if err != nil {
		abortErr(c, err)
		return
	}
	eq.Viewer = viewerOf(cl)
	setVersions(c)
	cons, err := raftstore.ParseConsistency(q.Get("consistency"))
	if err != nil {
		abortErr(c, errf(http.StatusBadRequest, "query_parameter", "consistency %q is not local, leader or linearizable", q.Get("consistency")))
		return
	}
	db, err := h.ledger.Read(c.Request.Context(), cons)
	if err != nil {
		abortErr(c, storeErr(err))
		return
	}
	page, err := models.QueryEvents(db, eq)
	if err != nil {
		abortErr(c, queryErr(err))
		return
	}
	if page.NextPageToken != "" {
		q.Set("nextPageToken", page.NextPageToken) // the query as read, ";" and all
		c.Header("Link", "<"+c.Request.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	c.JSON(http.StatusOK, queryDocument(page.Events))
}

// queryDocument wraps events in an EPCISQueryDocument.
func queryDocument(list []json.RawMessage) gin.H {
	return gin.H{
		"@context":      []string{"https://ref.gs1.org/standards/epcis/epcis-context.jsonld"},
		"type":          "EPCISQueryDocument",
		"schemaVersion": "2.0",
		"creationDate":  time.Now().UTC().Format(time.RFC3339Nano),
		"epcisBody": gin.H{"queryResults": gin.H{
			"queryName":   "SimpleEventQuery",
			"resultsBody": gin.H{"eventList": list},
		}},
	}
}
