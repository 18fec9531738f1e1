package server

import (
	"errors"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/models"
)

// revokeInProjection marks the token revoked at seq, as Apply would.
func revokeInProjection(t *testing.T, f *fakeLedger, token string, seq uint64) {
	t.Helper()
	now := time.Now()
	if err := f.db.Model(&models.Token{}).Where("hash = ?", tokenHash(token)).
		Updates(map[string]any{"revoked_seq": seq, "revoked_at": &now}).Error; err != nil {
		t.Fatal(err)
	}
}

// TestTokenAuthFollowsTheNodesRevocationState checks a node that offers no
// applied index to gate on: the projection is asked every time, so a
// revocation counts at once. TestRevokedTokenFailsAtOnceOnEveryNode covers
// real nodes, which gate on their applied index.
func TestTokenAuthFollowsTheNodesRevocationState(t *testing.T) {
	f, tok := mustFakeLedger(t, "4012345000016", models.RolePharmacy)
	a := authFor(f)
	if a.applied != nil {
		t.Fatal("the fake offers no applied index")
	}
	if cl, err := a.lookup(t.Context(), tokenHash(tok)); err != nil || cl.Org != "4012345000016" || cl.Role != models.RolePharmacy {
		t.Fatalf("lookup = %+v, %v", cl, err)
	}
	revokeInProjection(t, f, tok, 7)
	if _, err := a.lookup(t.Context(), tokenHash(tok)); !errors.Is(err, errBadToken) {
		t.Fatalf("revoked: %v", err)
	}
	if _, err := a.lookup(t.Context(), tokenHash("pdg_unknown")); !errors.Is(err, errBadToken) {
		t.Fatalf("unknown token: %v", err)
	}
}
