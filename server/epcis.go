package server

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// epcisAPI is the EPCIS 2.0 REST binding: capture (POST /epcis/capture,
// all or nothing) and the events query (GET /epcis/events). A capture is
// one capture_events command; its id is the capture id clients poll.
type epcisAPI struct {
	ledger LifecycleLedger
}

// The capture limits advertised in GS1-EPCIS-Capture-Limit and
// GS1-EPCIS-Capture-File-Size-Limit. A 10,000-pack commissioning event is
// about 600 KB of JSON; a whole document of 10,000 small events about 8 MB.
const (
	captureFileSizeLimit = 32 << 20
	captureEventLimit    = models.MaxCaptureEvents
)

// setCaptureLimits advertises the capture limits, on every capture answer.
func setCaptureLimits(c *gin.Context) {
	c.Header("GS1-EPCIS-Capture-Limit", strconv.Itoa(captureEventLimit))
	c.Header("GS1-EPCIS-Capture-File-Size-Limit", strconv.Itoa(captureFileSizeLimit))
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
	events, err := decodeCapture(data)
	if err != nil {
		abortErr(c, err)
		return
	}
	id, err := captureID(c, cl, events)
	if err != nil {
		abortErr(c, err)
		return
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

// decodeCapture decodes an EPCISDocument strictly and checks the event limit.
func decodeCapture(data []byte) ([]models.Event, error) {
	events, err := models.DecodeDocument(data)
	if err != nil {
		return nil, errf(http.StatusBadRequest, "bad_epcis", "%v", err)
	}
	if len(events) == 0 {
		return nil, errf(http.StatusBadRequest, "bad_epcis", "epcisBody.eventList is empty")
	}
	if len(events) > captureEventLimit {
		return nil, errf(http.StatusRequestEntityTooLarge, "capture_limit", "%d events; GS1-EPCIS-Capture-Limit is %d", len(events), captureEventLimit)
	}
	return events, nil
}

// captureID names a capture. With an Idempotency-Key it is derived from the
// key; without, from the events' ids (CBV 2.0 hash ids where an event has
// none), so posting the same document twice commits it once and answers
// the first result both times. Both are scoped to the caller.
func captureID(c *gin.Context, cl Caller, events []models.Event) (string, error) {
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
				id = models.EventHashID(e)
			}
			h.Write([]byte(id))
			h.Write([]byte{0})
		}
	}
	return captureIDPrefix + hex.EncodeToString(h.Sum(nil)[:16]), nil
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

// eventQuery is a parsed GET /epcis/events request.
type eventQuery struct {
	types, bizSteps, dispositions, actions, eventIDs []string
	geTime, ltTime, geRecord, ltRecord               time.Time
	epcKeys                                          []string
	bizLocations, readPoints                         []string
	perPage                                          int
	after                                            int64
}

// The query parameters GET /epcis/events understands; any other is refused
// (EPCIS QueryParameterException) rather than silently ignored.
var eventQueryParams = map[string]bool{
	"eventType": true, "GE_eventTime": true, "LT_eventTime": true, "GE_recordTime": true, "LT_recordTime": true,
	"EQ_bizStep": true, "EQ_disposition": true, "EQ_action": true, "MATCH_epc": true, "MATCH_anyEPC": true,
	"MATCH_parentID": true, "EQ_eventID": true, "EQ_bizLocation": true, "EQ_readPoint": true,
	"perPage": true, "nextPageToken": true,
}

const (
	defaultPerPage = 30
	maxPerPage     = 1000
)

// parseEventQuery reads the standard query parameters.
func parseEventQuery(q url.Values) (eventQuery, error) {
	var eq eventQuery
	for k := range q {
		if !eventQueryParams[k] {
			return eq, errf(http.StatusBadRequest, "query_parameter", "unknown query parameter %q", k)
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
	eq.types = list("eventType")
	for _, t := range eq.types {
		switch t {
		case models.ObjectEvent, models.AggregationEvent, models.TransactionEvent, models.TransformationEvent, models.AssociationEvent:
		default:
			return eq, errf(http.StatusBadRequest, "query_parameter", "eventType %q is not an EPCIS event type", t)
		}
	}
	for _, s := range list("EQ_bizStep") {
		eq.bizSteps = append(eq.bizSteps, bareCBV(s, "urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"))
	}
	for _, s := range list("EQ_disposition") {
		eq.dispositions = append(eq.dispositions, bareCBV(s, "urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"))
	}
	eq.actions = list("EQ_action")
	for _, a := range eq.actions {
		if a != "ADD" && a != "OBSERVE" && a != "DELETE" {
			return eq, errf(http.StatusBadRequest, "query_parameter", "EQ_action %q is not ADD, OBSERVE or DELETE", a)
		}
	}
	eq.eventIDs = list("EQ_eventID")
	for _, p := range []struct {
		k   string
		dst *time.Time
	}{{"GE_eventTime", &eq.geTime}, {"LT_eventTime", &eq.ltTime}, {"GE_recordTime", &eq.geRecord}, {"LT_recordTime", &eq.ltRecord}} {
		if v := q.Get(p.k); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return eq, errf(http.StatusBadRequest, "query_parameter", "%s %q is not an RFC 3339 time", p.k, v)
			}
			*p.dst = t.UTC()
		}
	}
	for _, k := range []string{"MATCH_epc", "MATCH_anyEPC", "MATCH_parentID"} {
		for _, s := range list(k) {
			e, err := gs1.ParseEPC(s)
			if err != nil {
				return eq, errf(http.StatusBadRequest, "query_parameter", "%s: %v", k, err)
			}
			eq.epcKeys = append(eq.epcKeys, models.EPCKey(e))
		}
	}
	for _, p := range []struct {
		k   string
		dst *[]string
	}{{"EQ_bizLocation", &eq.bizLocations}, {"EQ_readPoint", &eq.readPoints}} {
		for _, s := range list(p.k) {
			e, err := gs1.ParseEPC(s)
			if err != nil || e.Kind != gs1.EPCSGLN {
				return eq, errf(http.StatusBadRequest, "query_parameter", "%s %q is not an SGLN", p.k, s)
			}
			*p.dst = append(*p.dst, models.LocationKey(e.SGLN))
		}
	}
	eq.perPage = defaultPerPage
	if v := q.Get("perPage"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPerPage {
			return eq, errf(http.StatusBadRequest, "query_parameter", "perPage must be 1 to %d", maxPerPage)
		}
		eq.perPage = n
	}
	if v := q.Get("nextPageToken"); v != "" {
		after, err := decodePageToken(v)
		if err != nil {
			return eq, err
		}
		eq.after = after
	}
	return eq, nil
}

// bareCBV strips a CBV URN or Web URI prefix, the form the projection keeps.
func bareCBV(s, urn, web string) string {
	if strings.HasPrefix(s, urn) {
		return s[len(urn):]
	}
	return strings.TrimPrefix(s, web)
}

// Page tokens are the last event's row id, base64url: opaque to clients,
// and stable while new events are appended (rows only grow).
func encodePageToken(id int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(id))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func decodePageToken(s string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 8 || binary.BigEndian.Uint64(b) > 1<<62 {
		return 0, errf(http.StatusBadRequest, "query_parameter", "nextPageToken is not one this server gave")
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// apply narrows db to the events the query and the caller's visibility
// select. An organisation that is not a regulator sees the events it
// captured and those at its own locations.
func (eq eventQuery) apply(db *gorm.DB, cl Caller) *gorm.DB {
	q := db.Model(&models.EventRecord{})
	if !cl.seesEverything() {
		q = q.Where("(actor = ? OR biz_location = ? OR biz_location LIKE ?)", cl.Org, "(414)"+cl.Org, "(414)"+cl.Org+"(254)%")
	}
	in := func(col string, vals []string) {
		if len(vals) > 0 {
			q = q.Where(col+" IN ?", vals)
		}
	}
	in("type", eq.types)
	in("biz_step", eq.bizSteps)
	in("disposition", eq.dispositions)
	in("action", eq.actions)
	in("event_id", eq.eventIDs)
	in("biz_location", eq.bizLocations)
	in("read_point", eq.readPoints)
	if !eq.geTime.IsZero() {
		q = q.Where("event_time >= ?", eq.geTime)
	}
	if !eq.ltTime.IsZero() {
		q = q.Where("event_time < ?", eq.ltTime)
	}
	if !eq.geRecord.IsZero() {
		q = q.Where("record_time >= ?", eq.geRecord)
	}
	if !eq.ltRecord.IsZero() {
		q = q.Where("record_time < ?", eq.ltRecord)
	}
	if len(eq.epcKeys) > 0 {
		q = q.Where("id IN (?)", db.Model(&models.EventEPC{}).Select("event_id").Where("key IN ?", eq.epcKeys))
	}
	if eq.after > 0 {
		q = q.Where("id > ?", eq.after)
	}
	return q.Order("id").Limit(eq.perPage + 1)
}

// events handles GET /epcis/events.
func (h *epcisAPI) events(c *gin.Context) {
	cl, err := callerOf(c)
	if err != nil {
		abortErr(c, err)
		return
	}
	eq, err := parseEventQuery(c.Request.URL.Query())
	if err != nil {
		abortErr(c, err)
		return
	}
	cons, err := raftstore.ParseConsistency(c.Query("consistency"))
	if err != nil {
		cons = raftstore.Local
	}
	db, err := h.ledger.Read(c.Request.Context(), cons)
	if err != nil {
		abortErr(c, storeErr(err))
		return
	}
	var recs []models.EventRecord
	if err := eq.apply(db, cl).Find(&recs).Error; err != nil {
		abortErr(c, err)
		return
	}
	if len(recs) > eq.perPage {
		recs = recs[:eq.perPage]
		next := c.Request.URL.Query()
		next.Set("nextPageToken", encodePageToken(recs[len(recs)-1].ID))
		c.Header("Link", "<"+c.Request.URL.Path+"?"+next.Encode()+`>; rel="next"`)
	}
	list := make([]json.RawMessage, len(recs))
	for i, r := range recs {
		list[i] = json.RawMessage(r.JSON)
	}
	c.JSON(http.StatusOK, queryDocument(list))
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
