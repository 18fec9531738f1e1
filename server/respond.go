package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// This file holds what the lifecycle handlers (capture, verify, decommission,
// recall, provenance, organisations) share: the error body, the mapping of
// rule rejections and store errors to HTTP statuses, and strict JSON bodies.

// apiErr is an error a handler answers with: an HTTP status and the
// {"error":{"code","message"}} body the whole API uses.
type apiErr struct {
	Status  int
	Code    string
	Message string
}

func (e *apiErr) Error() string { return e.Code + ": " + e.Message }

// errf builds an apiErr with a formatted message.
func errf(status int, code, format string, args ...any) *apiErr {
	return &apiErr{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// statusOf is err's HTTP status if it is an apiErr, else fallback.
func statusOf(err error, fallback int) int {
	var ae *apiErr
	if errors.As(err, &ae) {
		return ae.Status
	}
	return fallback
}

// requestIDKey is where the request-id middleware leaves the id; error
// bodies repeat it so a user can quote it to an operator.
const requestIDKey = "request_id"

// abortErr writes err as the API's JSON error and stops the chain. An error
// that is not an apiErr is a server fault: the client sees a generic 500
// and the cause goes to the log through c.Error.
func abortErr(c *gin.Context, err error) {
	var ae *apiErr
	if !errors.As(err, &ae) {
		_ = c.Error(err)
		ae = &apiErr{Status: http.StatusInternalServerError, Code: "internal_error", Message: "internal error"}
	}
	body := gin.H{"code": ae.Code, "message": ae.Message}
	if id := c.GetString(requestIDKey); id != "" {
		body["request_id"] = id
	}
	c.AbortWithStatusJSON(ae.Status, gin.H{"error": body})
}

// rejectionStatus is the HTTP status of a rule's rejection code: 403 when
// the caller may not act, 404 when what it names is unknown, 409 when the
// pack's state forbids the change, 400 for a payload the rules refused.
func rejectionStatus(code string) int {
	switch code {
	case models.CodeBadPayload, models.CodeUnsupportedEvent, models.CodeIDReused:
		return http.StatusUnprocessableEntity
	case models.CodeUnknownActor, models.CodeForbidden, models.CodeNotYourPrefix,
		models.CodeNotCustodian, models.CodeNotDestination, models.CodeUndoOtherOrg:
		return http.StatusForbidden
	case models.CodeNotFound, models.CodeUnknownProduct, models.CodeUnknownItem:
		return http.StatusNotFound
	case models.CodeInternal:
		return http.StatusInternalServerError
	}
	// Conflicts with the ledger's state: already commissioned, inactive,
	// final, in a container, recalled, not in transit, undo refused.
	return http.StatusConflict
}

// rejectionErr turns a rejected Result into the error a client sees.
func rejectionErr(res models.Result) *apiErr {
	return &apiErr{Status: rejectionStatus(res.Code), Code: res.Code, Message: res.Message}
}

// storeErr maps a raftstore error to a status: a bad request stays 4xx, a
// cluster without a leader or a timeout is 503 so clients retry (commands
// are idempotent by id, so a retry is safe).
func storeErr(err error) error {
	switch {
	case errors.Is(err, raftstore.ErrInvalid):
		return errf(http.StatusBadRequest, "invalid_request", "%v", err)
	case errors.Is(err, raftstore.ErrNotFound):
		return errf(http.StatusNotFound, "not_found", "%v", err)
	case errors.Is(err, raftstore.ErrRulesUnsupported):
		return errf(http.StatusConflict, "rules_unsupported", "%v", err)
	case errors.Is(err, raftstore.ErrNotCaughtUp):
		// 503, so `pedigree serve --join` keeps asking while the node
		// catches up or its operator fixes what keeps it unreachable.
		return errf(http.StatusServiceUnavailable, "not_caught_up", "%v; join again", err)
	case errors.Is(err, raftstore.ErrNoLeader), errors.Is(err, raftstore.ErrNotLeader),
		errors.Is(err, raftstore.ErrTimeout), errors.Is(err, raftstore.ErrClosed):
		return errf(http.StatusServiceUnavailable, "unavailable", "the ledger cannot take writes now (%v); retry with the same id", err)
	}
	return err
}

// maxJSONBody bounds the JSON bodies of the /api/v1 write endpoints; EPCIS
// capture has its own, larger limit.
const maxJSONBody = 1 << 20

// smallBody is the largest body readBody reads into a buffer of the
// announced size.
const smallBody = 64 << 10

// readBody reads at most limit bytes of the request body, answering 413
// beyond it.
func readBody(c *gin.Context, limit int64) ([]byte, error) {
	if c.Request.ContentLength > limit {
		return nil, errf(http.StatusRequestEntityTooLarge, "body_too_large", "the body is %d bytes; the limit is %d", c.Request.ContentLength, limit)
	}
	// A small body of announced length (a scan, most JSON requests) is
	// read into one buffer of that size: net/http ends the body there, so
	// no limit reader is needed, and io.ReadAll's growing buffer was three
	// allocations a verification. A large one grows as it arrives, so a
	// client cannot make the server allocate what it has not sent.
	if n := c.Request.ContentLength; n >= 0 && n <= smallBody {
		data := make([]byte, n)
		if _, err := io.ReadFull(c.Request.Body, data); err != nil {
			return nil, errf(http.StatusBadRequest, "bad_body", "read body: %v", err)
		}
		return data, nil
	}
	data, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errf(http.StatusRequestEntityTooLarge, "body_too_large", "the body exceeds %d bytes", limit)
		}
		return nil, errf(http.StatusBadRequest, "bad_body", "read body: %v", err)
	}
	return data, nil
}

// bindStrict decodes a JSON body into dst, refusing unknown fields, trailing
// data and anything but application/json, so a typo fails loudly.
func bindStrict(c *gin.Context, dst any) error {
	if ct := c.ContentType(); ct != "" && ct != "application/json" {
		return errf(http.StatusUnsupportedMediaType, "unsupported_media_type", "send application/json, not %q", ct)
	}
	data, err := readBody(c, maxJSONBody)
	if err != nil {
		return err
	}
	return decodeStrict(data, dst)
}

// decodeStrict is bindStrict's decoding step.
func decodeStrict(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return errf(http.StatusBadRequest, "bad_json", "%s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return errf(http.StatusBadRequest, "bad_json", "trailing data after the JSON value")
	}
	return nil
}

// jsonProblem words a decoding error for a client.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q must be %s, not %s", te.Field, te.Type, te.Value)
	}
	if errors.Is(err, io.EOF) {
		return "the body is empty"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// propose commits one command and turns a rejection into its apiErr, so a
// handler only sees accepted results.
func propose(c *gin.Context, p commandProposer, cmd models.Command) (models.Result, error) {
	res, err := p.Propose(c.Request.Context(), cmd)
	if err != nil {
		return models.Result{}, storeErr(err)
	}
	if len(res) != 1 {
		return models.Result{}, fmt.Errorf("propose %s: %d results for one command", cmd.Kind, len(res))
	}
	if !res[0].Accepted {
		return res[0], rejectionErr(res[0])
	}
	return res[0], nil
}
