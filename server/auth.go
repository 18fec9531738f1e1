package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// Bearer-token authentication. A token is looked up by its SHA-256 in the
// projection's token table, and found tokens are cached per node, so a busy
// verification terminal costs one hash and a map lookup per request rather
// than a SQLite query.
//
// Revocation takes effect on a node as soon as that node has applied the
// revoke command: every cache entry remembers the node's revocation state
// (the ledger seq of the newest revocation it had applied, which only
// grows) at the time the token was found, and is used only while that
// state is unchanged. Reading the state is cheap: a look at the node's
// applied index, and one indexed SQL aggregate only after the node has
// applied more entries.

// appliedIndexer reports how far a node has applied the log
// (raftstore.Store.Status().Applied, published after each batch commits).
// The projection, and so its revocations, can change only when it grows.
type appliedIndexer interface {
	Status() raftstore.Status
}

// tokenAuth authenticates tokens against one node's projection.
type tokenAuth struct {
	reader  projectionReader
	applied appliedIndexer // nil: query the projection every time

	// known is the revocation state read from the projection and the
	// applied index it is valid for.
	known   atomic.Pointer[revocationState]
	refresh sync.Mutex // one projection query at a time per node

	cache sync.Map // token hash → cachedToken

	// limit is each token's rate limit on every route it reaches: the
	// API's, the resolver's and the dashboard's draw on one bucket.
	limit atomic.Pointer[rateLimiter]
	// orgLimit is each organisation's, over all its tokens (setLimit).
	orgLimit atomic.Pointer[rateLimiter]
}

type revocationState struct {
	applied uint64 // the node's applied index before the query ran
	seq     uint64 // max(revoked_seq) the query found
}

type cachedToken struct {
	caller Caller
	revSeq uint64 // the revocation state when the token was found valid
}

// auths holds one tokenAuth per node. Production has one node per process;
// tests run several in one, and their token tables differ.
var auths sync.Map // projectionReader → *tokenAuth

// setLimit sets the limit of each token, and of each organisation's
// tokens together (orgRateFactor of it); perSecond 0 lifts both.
func (a *tokenAuth) setLimit(perSecond float64, burst int) {
	a.limit.Store(newRateLimiter(perSecond, burst))
	a.orgLimit.Store(newOrgRateLimiter(perSecond, burst))
}

// admit takes one request of the token whose hash is given, and one of
// its organisation's, or refuses it 429 (see rateLimiter.admit).
func (a *tokenAuth) admit(c *gin.Context, hash, org string) error {
	if err := a.limit.Load().admit(c, hash); err != nil {
		return err
	}
	return a.orgLimit.Load().admit(c, org)
}

// authFor returns the authenticator of the node behind reader.
func authFor(reader projectionReader) *tokenAuth {
	if a, ok := auths.Load(reader); ok {
		return a.(*tokenAuth)
	}
	a := &tokenAuth{reader: reader}
	a.applied, _ = reader.(appliedIndexer)
	a.setLimit(defaultRatePerSecond, defaultRateBurst)
	got, _ := auths.LoadOrStore(reader, a)
	return got.(*tokenAuth)
}

// revocationSeq returns the node's current revocation state. Whatever it
// returns covers every revocation the node had applied when it was called.
func (a *tokenAuth) revocationSeq(ctx context.Context) (uint64, error) {
	if a.applied == nil {
		return a.querySeq(ctx)
	}
	// The applied index is read before the query: the batch that raised it
	// was committed first, so the query sees at least that state.
	applied := a.applied.Status().Applied
	if k := a.known.Load(); k != nil && k.applied >= applied {
		return k.seq, nil
	}
	a.refresh.Lock()
	defer a.refresh.Unlock()
	if k := a.known.Load(); k != nil && k.applied >= applied {
		return k.seq, nil
	}
	seq, err := a.querySeq(ctx)
	if err != nil {
		return 0, err
	}
	if k := a.known.Load(); k != nil && k.seq != seq {
		// Entries of an older state can never be used again.
		a.cache.Clear()
	}
	a.known.Store(&revocationState{applied: applied, seq: seq})
	return seq, nil
}

// querySeq reads the projection's revocation state: the seq of the newest
// revocation (revocations are never undone, so it only grows).
func (a *tokenAuth) querySeq(ctx context.Context) (uint64, error) {
	db, err := a.reader.Read(ctx, raftstore.Local)
	if err != nil {
		return 0, storeErr(err)
	}
	return models.TokenRevocationSeq(db)
}

// lookup finds the organisation the token with hash authenticates.
func (a *tokenAuth) lookup(ctx context.Context, hash string) (Caller, error) {
	cl, err := a.lookupLocal(ctx, hash)
	if !errors.Is(err, models.ErrNotFound) {
		return cl, err
	}
	// The cluster may have issued the token since this node last applied
	// an entry (catchup.go). Answering bad_token would tell the holder of
	// a valid token that it is unknown or revoked, and make a node that
	// joins through this one give up, so the node catches up and looks
	// again. A revoked token needs no such check: revocations are final.
	if err := catchUp(ctx, a.reader); err != nil {
		return Caller{}, err
	}
	cl, err = a.lookupLocal(ctx, hash)
	if errors.Is(err, models.ErrNotFound) {
		return Caller{}, errBadToken
	}
	return cl, err
}

// lookupLocal finds the token in this node's projection as it is: the
// caller, errBadToken for a revoked token, or models.ErrNotFound.
func (a *tokenAuth) lookupLocal(ctx context.Context, hash string) (Caller, error) {
	rev, err := a.revocationSeq(ctx)
	if err != nil {
		return Caller{}, err
	}
	if v, ok := a.cache.Load(hash); ok {
		if e := v.(cachedToken); e.revSeq == rev {
			return e.caller, nil
		}
		a.cache.Delete(hash)
	}
	db, err := a.reader.Read(ctx, raftstore.Local)
	if err != nil {
		return Caller{}, storeErr(err)
	}
	// This read sees at least the state rev was taken from, so a token it
	// finds valid was valid at rev.
	t, err := models.LookupToken(db.Session(&gorm.Session{PrepareStmt: true}), hash)
	switch {
	case err == nil:
		cl := Caller{Org: t.OrgID, Role: t.Role}
		a.cache.Store(hash, cachedToken{caller: cl, revSeq: rev})
		return cl, nil
	case errors.Is(err, models.ErrRevoked):
		return Caller{}, errBadToken
	}
	return Caller{}, err
}

// errBadToken answers an unknown or revoked token.
var errBadToken = errf(http.StatusUnauthorized, "bad_token", "the token is unknown or revoked")

// tokenHash is the stored form of a bearer token: lowercase hex SHA-256.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// bearerToken extracts the token of an Authorization: Bearer header.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const p = "bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return "", false
	}
	tok := strings.TrimSpace(h[len(p):])
	return tok, tok != ""
}

// authenticate resolves a bearer token against the projection's token table
// and leaves the Caller in the context. With required false a request
// without a token goes on anonymously (the Digital Link resolver and the
// dashboard's public pages); a bad or revoked token is refused either way.
func authenticate(reader projectionReader, required bool) gin.HandlerFunc {
	auth := authFor(reader)
	return func(c *gin.Context) {
		tok, ok := bearerToken(c.Request)
		if !ok {
			if required {
				abortErr(c, errf(http.StatusUnauthorized, "unauthenticated", "send Authorization: Bearer <token>"))
			}
			return
		}
		hash := tokenHash(tok)
		cl, err := auth.lookup(c.Request.Context(), hash)
		if err != nil {
			abortErr(c, err)
			return
		}
		if err := auth.admit(c, hash, cl.Org); err != nil {
			abortErr(c, err)
			return
		}
		c.Set(callerKey, cl)
	}
}

// lookupCaller finds the organisation a bearer token authenticates on the
// node behind reader.
func lookupCaller(ctx context.Context, reader projectionReader, tok string) (Caller, error) {
	return authFor(reader).lookup(ctx, tokenHash(tok))
}
