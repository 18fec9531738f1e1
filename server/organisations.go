package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// organisationsAPI issues and revokes organisations' API tokens. The rules
// (an organisation manages its own tokens, an admin any) are checked in
// models.Apply on every node; the handler makes the secret token and puts
// only its hash in the command.
type organisationsAPI struct {
	ledger LifecycleLedger
}

// maxOrganisationPrefixes bounds the company prefixes one registration
// lists. A large manufacturer licenses tens of prefixes, and the rule that
// checks them is one SQL statement with a parameter each, which SQLite
// caps at 32,766: beyond that the ledger would record an internal error.
const maxOrganisationPrefixes = 1000

// checkOrganisation refuses an oversized registration before it is
// proposed; models checks the rest in Apply.
func checkOrganisation(_ context.Context, _ Caller, p *models.RegisterOrganisationPayload) error {
	if len(p.Prefixes) > maxOrganisationPrefixes {
		return errf(http.StatusRequestEntityTooLarge, "too_many_prefixes", "%d company prefixes; at most %d per organisation", len(p.Prefixes), maxOrganisationPrefixes)
	}
	return nil
}

// issueTokenRequest is the body of POST /api/v1/organisations/{id}/tokens.
type issueTokenRequest struct {
	Label string `json:"label"`
}

// issueToken handles POST /api/v1/organisations/{id}/tokens. The token is
// random, answered once, and only its hash enters the ledger.
func (h *organisationsAPI) issueToken(c *gin.Context) {
	cl, err := callerOf(c)
	if err != nil {
		abortErr(c, err)
		return
	}
	var req issueTokenRequest
	if c.Request.ContentLength != 0 {
		if err := bindStrict(c, &req); err != nil {
			abortErr(c, err)
			return
		}
	}
	tok, err := newToken()
	if err != nil {
		abortErr(c, err)
		return
	}
	p := models.IssueTokenPayload{TokenSHA256: tokenHash(tok), OrgID: c.Param("id"), Label: req.Label}
	res, err := proposeOne(c, h.ledger, cl, models.KindIssueToken, p)
	var ae *apiErr
	if errors.As(err, &ae) && ae.Code == models.CodeIDReused {
		// A retry makes a new token, so it never repeats the first
		// request, which issued one this answer cannot show.
		err = errf(ae.Status, ae.Code, "%s. A token is shown only once: if the first answer was lost, revoke the token it issued (its hash is in that ledger entry) and issue another with a new key", ae.Message)
	}
	if err != nil {
		abortErr(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"seq": res.Seq, "org_id": p.OrgID, "token": tok, "token_sha256": p.TokenSHA256,
		"note": "the token is shown once; store it now"})
}

// maxTokenList bounds a page of an organisation's tokens.
const maxTokenList = 500

// listTokens handles GET /api/v1/organisations/{id}/tokens: the
// organisation's tokens, revoked ones too, in the order they were issued,
// for the organisation itself or an admin. A token is answered once, at
// issue, and any of an organisation's tokens may issue it more, so after
// a leak this is how it finds the tokens it did not issue and revokes
// them by hash. Hashes and labels only: the tokens are nowhere.
func (h *organisationsAPI) listTokens(c *gin.Context) {
	cl, err := callerOf(c)
	if err != nil {
		abortErr(c, err)
		return
	}
	org := c.Param("id")
	if cl.Org != org && cl.Role != models.RoleAdmin {
		abortErr(c, errf(http.StatusForbidden, "forbidden", "an organisation lists its own tokens; an admin any organisation's"))
		return
	}
	limit, err := limitParam(c, maxTokenList)
	if err != nil {
		abortErr(c, err)
		return
	}
	var after uint64
	if s := c.Query("after"); s != "" {
		if after, err = strconv.ParseUint(s, 10, 64); err != nil {
			abortErr(c, errf(http.StatusBadRequest, "bad_cursor", "after must be the issued_seq of a token of the previous page"))
			return
		}
	}
	db, err := h.ledger.Read(c.Request.Context(), raftstore.Local)
	if err != nil {
		abortErr(c, storeErr(err))
		return
	}
	tokens := []models.Token{}
	if err := db.Where("org_id = ? AND issued_seq > ?", org, after).Order("issued_seq").Limit(limit + 1).Find(&tokens).Error; err != nil {
		abortErr(c, fmt.Errorf("list tokens: %w", err))
		return
	}
	answerPage(c, "tokens", tokens, limit, "after", func(t models.Token) string { return strconv.FormatUint(t.IssuedSeq, 10) })
}

// revokeToken handles DELETE /api/v1/tokens/{sha256}.
func (h *organisationsAPI) revokeToken(c *gin.Context) {
	cl, err := callerOf(c)
	if err != nil {
		abortErr(c, err)
		return
	}
	res, err := proposeOne(c, h.ledger, cl, models.KindRevokeToken, models.RevokeTokenPayload{TokenSHA256: c.Param("hash")})
	if err != nil {
		abortErr(c, err)
		return
	}
	// The revocation is applied on the leader now, but perhaps not yet
	// here. Waiting until this node has caught up with the leader makes the
	// token fail on this node from the moment the client hears it is
	// revoked; other nodes refuse it as soon as they apply the entry. The
	// revocation is committed either way, so a failed wait (no leader to
	// ask) still answers success: this node applies it when it can.
	_, _ = h.ledger.Read(c.Request.Context(), raftstore.Leader)
	c.JSON(http.StatusOK, gin.H{"seq": res.Seq, "revoked": c.Param("hash")})
}

// NewToken makes a fresh bearer token: 32 random bytes, base64url, with a
// "pdg_" prefix so a leaked one is easy to recognise in logs and scanners.
func NewToken() (string, error) { return newToken() }

func newToken() (string, error) {
	id, err := randomSecret()
	if err != nil {
		return "", err
	}
	return "pdg_" + id, nil
}

// randomSecret is an unguessable identifier, a token's or a dashboard
// session's: 32 bytes from crypto/rand, base64url without padding.
func randomSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// proposeOne builds a command of kind for the caller and commits it. The id
// is the caller's Idempotency-Key (scoped to the caller, so two
// organisations cannot collide), or one the store makes.
func proposeOne(c *gin.Context, p commandProposer, cl Caller, kind models.CommandKind, payload any) (models.Result, error) {
	k, err := idempotencyKey(c)
	if err != nil {
		return models.Result{}, err
	}
	id := ""
	if k != "" {
		id = "idem:" + cl.Org + ":" + string(kind) + ":" + k
	}
	cmd, err := models.NewCommand(id, kind, cl.Org, time.Time{}, payload)
	if err != nil {
		return models.Result{}, err
	}
	return propose(c, p, cmd)
}

// idempotencyKey is the request's Idempotency-Key, "" without one.
func idempotencyKey(c *gin.Context) (string, error) {
	k := c.GetHeader("Idempotency-Key")
	if len(k) > 200 {
		return "", errf(http.StatusBadRequest, "bad_idempotency_key", "Idempotency-Key is longer than 200 characters")
	}
	return k, nil
}

// TokenSHA256 is the hash under which a token is stored and looked up
// (lowercase hex SHA-256), for bootstrap code that issues the first token.
func TokenSHA256(token string) string { return tokenHash(token) }
