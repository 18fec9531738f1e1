package server

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/models"
)

// counterLedger is a fake node that offers the in-memory revocation
// counter (revocationCounter), as raftstore.Store may.
type counterLedger struct {
	*fakeLedger
	revoked atomic.Uint64
}

func (c *counterLedger) TokenRevocationSeq() uint64 { return c.revoked.Load() }

// revokeInProjection marks the token revoked at seq, as Apply would.
func revokeInProjection(t *testing.T, f *fakeLedger, token string, seq uint64) {
	t.Helper()
	now := time.Now()
	if err := f.db.Model(&models.Token{}).Where("hash = ?", tokenHash(token)).
		Updates(map[string]any{"revoked_seq": seq, "revoked_at": &now}).Error; err != nil {
		t.Fatal(err)
	}
}

// TestTokenAuthFollowsTheNodesRevocationState checks the two ways a node
// may report its revocation state. Without an applied index to gate on,
// the projection is asked every time, so a revocation counts at once.
// With the counter hook, the cache trusts the counter: a revoked row the
// counter does not cover yet is still served from the cache (which shows
// the counter is what is consulted), and raising it refuses the token.
func TestTokenAuthFollowsTheNodesRevocationState(t *testing.T) {
	t.Run("projection", func(t *testing.T) {
		f, tok := mustFakeLedger(t, "4012345000016", models.RolePharmacy)
		a := authFor(f)
		if a.counter != nil || a.applied != nil {
			t.Fatal("the fake offers neither hook")
		}
		if cl, err := a.lookup(t.Context(), tokenHash(tok)); err != nil || cl.Org != "4012345000016" || cl.Role != models.RolePharmacy {
			t.Fatalf("lookup = %+v, %v", cl, err)
		}
		revokeInProjection(t, f, tok, 7)
		if _, err := a.lookup(t.Context(), tokenHash(tok)); !errors.Is(err, errBadToken) {
			t.Fatalf("revoked: %v", err)
		}
	})
	t.Run("counter", func(t *testing.T) {
		f, tok := mustFakeLedger(t, "4012345000016", models.RolePharmacy)
		c := &counterLedger{fakeLedger: f}
		a := authFor(c)
		if a.counter == nil {
			t.Fatal("the counter hook was not picked up")
		}
		if _, err := a.lookup(t.Context(), tokenHash(tok)); err != nil {
			t.Fatal(err)
		}
		revokeInProjection(t, f, tok, 7)
		if _, err := a.lookup(t.Context(), tokenHash(tok)); err != nil {
			t.Fatalf("the counter has not moved, so the cache answers: %v", err)
		}
		c.revoked.Store(7)
		if _, err := a.lookup(t.Context(), tokenHash(tok)); !errors.Is(err, errBadToken) {
			t.Fatalf("the counter covers the revocation: %v", err)
		}
		if _, err := a.lookup(t.Context(), tokenHash("pdg_unknown")); !errors.Is(err, errBadToken) {
			t.Fatalf("unknown token: %v", err)
		}
	})
}
