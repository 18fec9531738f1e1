package models

import "testing"

// TestTokenRevocationSeqGrowsWithEachRevocation: no revocation reads 0,
// issuing changes nothing, each revocation raises the value to its seq,
// and a rejected revocation leaves it alone.
func TestTokenRevocationSeqGrowsWithEachRevocation(t *testing.T) {
	l := newLedger(t)
	l.bootstrap()
	seq := func() uint64 {
		t.Helper()
		s, err := TokenRevocationSeq(l.db)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := seq(); s != 0 {
		t.Fatalf("no revocation yet: %d", s)
	}
	a, b := hashToken("rev-a"), hashToken("rev-b")
	l.mustApply(adminID, KindIssueToken, IssueTokenPayload{TokenSHA256: a, OrgID: glnPharmacy})
	l.mustApply(adminID, KindIssueToken, IssueTokenPayload{TokenSHA256: b, OrgID: glnPharmacy})
	if s := seq(); s != 0 {
		t.Fatalf("issuing is not revoking: %d", s)
	}
	first := l.mustApply(adminID, KindRevokeToken, RevokeTokenPayload{TokenSHA256: a})
	if s := seq(); s != first.Seq || s == 0 {
		t.Fatalf("after the first revocation (seq %d): %d", first.Seq, s)
	}
	second := l.mustApply(glnPharmacy, KindRevokeToken, RevokeTokenPayload{TokenSHA256: b})
	l.mustReject(CodeConflict, adminID, KindRevokeToken, RevokeTokenPayload{TokenSHA256: a})
	if s := seq(); s != second.Seq || s <= first.Seq {
		t.Fatalf("after the second revocation (seq %d): %d", second.Seq, s)
	}
}
