package models

import (
	"cmp"
	"encoding/json"
	"errors"
	"testing"
)

// bootstrap registers the admin and the fixture organisations, and adopts
// the rules the test runs by.
func (l *ledger) bootstrap() {
	l.t.Helper()
	l.mustApply("", KindRegisterOrganisation, RegisterOrganisationPayload{ID: adminID, Name: "Cluster admin", Role: RoleAdmin})
	for _, o := range []RegisterOrganisationPayload{
		{ID: glnMaker, Name: "Acme Pharma", Role: RoleManufacturer, Prefixes: []string{"4012345"}},
		{ID: glnMaker2, Name: "Other Pharma", Role: RoleManufacturer, Prefixes: []string{"5012345"}},
		{ID: glnWholesal, Name: "Wholesale Ltd", Role: RoleWholesaler},
		{ID: glnPharmacy, Name: "Corner Pharmacy", Role: RolePharmacy},
		{ID: glnPharm2, Name: "High Street Pharmacy", Role: RolePharmacy},
		{ID: glnReg, Name: "Medicines Agency", Role: RoleRegulator},
	} {
		l.mustApply(adminID, KindRegisterOrganisation, o)
	}
	// A new ledger adopts the newest rules, as pedigree serve --bootstrap
	// does; a test of older rules sets l.rules.
	if v := cmp.Or(l.rules, RulesVersion); v > 1 {
		l.mustApply("", KindAdoptRules, AdoptRulesPayload{Version: v})
	}
}

func TestRegisterOrganisation(t *testing.T) {
	l := newLedger(t)
	l.bootstrap()
	var org Organisation
	if err := l.db.Where("id = ?", glnMaker).Take(&org).Error; err != nil {
		t.Fatal(err)
	}
	if org.Role != RoleManufacturer || org.Prefixes != "4012345" || org.Seq != 2 || !org.RecordTime.Equal(l.now) {
		t.Fatalf("stored organisation = %+v", org)
	}
	tests := []struct {
		name  string
		actor string
		p     RegisterOrganisationPayload
		code  string
	}{
		{"non-admin", glnMaker, RegisterOrganisationPayload{ID: "4044444000000", Name: "X", Role: RolePharmacy}, CodeForbidden},
		{"unknown actor", "4055555000001", RegisterOrganisationPayload{ID: "4044444000000", Name: "X", Role: RolePharmacy}, CodeUnknownActor},
		{"bad role", adminID, RegisterOrganisationPayload{ID: "4044444000000", Name: "X", Role: "doctor"}, CodeBadPayload},
		{"bad GLN check digit", adminID, RegisterOrganisationPayload{ID: "4044444000001", Name: "X", Role: RolePharmacy}, CodeBadPayload},
		{"GLN too short", adminID, RegisterOrganisationPayload{ID: "404444400000", Name: "X", Role: RolePharmacy}, CodeBadPayload},
		{"empty name", adminID, RegisterOrganisationPayload{ID: "4044444000000", Name: " ", Role: RolePharmacy}, CodeBadPayload},
		{"bad prefix", adminID, RegisterOrganisationPayload{ID: "4044444000000", Name: "X", Role: RoleManufacturer, Prefixes: []string{"40A"}}, CodeBadPayload},
		{"duplicate prefix in payload", adminID, RegisterOrganisationPayload{ID: "4044444000000", Name: "X", Role: RoleManufacturer, Prefixes: []string{"404444", "404444"}}, CodeBadPayload},
		{"prefix of another org", adminID, RegisterOrganisationPayload{ID: "4044444000000", Name: "X", Role: RoleManufacturer, Prefixes: []string{"4012345"}}, CodeConflict},
		{"prefix inside another org's", adminID, RegisterOrganisationPayload{ID: "4044444000000", Name: "X", Role: RoleManufacturer, Prefixes: []string{"404444", "40123451"}}, CodeConflict},
		{"prefix holding another org's", adminID, RegisterOrganisationPayload{ID: "4044444000000", Name: "X", Role: RoleManufacturer, Prefixes: []string{"401234"}}, CodeConflict},
		{"shortest prefix holding another org's", adminID, RegisterOrganisationPayload{ID: "4044444000000", Name: "X", Role: RoleManufacturer, Prefixes: []string{"4012"}}, CodeConflict},
		{"longest prefix inside another org's", adminID, RegisterOrganisationPayload{ID: "4044444000000", Name: "X", Role: RoleManufacturer, Prefixes: []string{"401234567890"}}, CodeConflict},
		{"admin with prefix", adminID, RegisterOrganisationPayload{ID: "root2", Name: "X", Role: RoleAdmin, Prefixes: []string{"404444"}}, CodeBadPayload},
		{"admin bad name", adminID, RegisterOrganisationPayload{ID: "root 2", Name: "X", Role: RoleAdmin}, CodeBadPayload},
		{"already registered", adminID, RegisterOrganisationPayload{ID: glnMaker, Name: "Acme", Role: RoleManufacturer}, CodeConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l.t = t
			l.mustReject(tc.code, tc.actor, KindRegisterOrganisation, tc.p)
		})
	}
	// Neighbours that share digits without one extending the other.
	l.t = t
	l.mustApply(adminID, KindRegisterOrganisation, RegisterOrganisationPayload{ID: "4044444000000", Name: "X", Role: RoleManufacturer, Prefixes: []string{"4012344", "4012346", "401235"}})
}

func TestApplyRejectsMalformedCommands(t *testing.T) {
	l := newLedger(t)
	l.bootstrap()
	for _, tc := range []struct {
		name    string
		kind    CommandKind
		payload string
		code    string
	}{
		{"unknown kind", "launch_rockets", `{}`, CodeUnknownKind},
		{"not JSON", KindRegisterOrganisation, `{"id":`, CodeBadPayload},
		{"unknown field", KindRegisterOrganisation, `{"id":"x","name":"y","role":"admin","colour":"red"}`, CodeBadPayload},
		{"wrong type", KindIssueToken, `{"token_sha256":5}`, CodeBadPayload},
		{"trailing data", KindRevokeToken, `{"token_sha256":"ab"} {}`, CodeBadPayload},
		{"empty payload", KindIssueToken, ``, CodeBadPayload},
		{"null payload", KindIssueToken, `null`, CodeBadPayload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l.seq++
			res := l.applyCmd(Command{ID: "x", Kind: tc.kind, Actor: adminID, Time: l.now, Payload: json.RawMessage(tc.payload)})
			if res.Accepted || res.Code != tc.code || res.Message == "" {
				t.Fatalf("result = %+v, want rejection %s", res, tc.code)
			}
			if res.Seq != l.seq {
				t.Fatalf("result seq = %d, want %d", res.Seq, l.seq)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	l := newLedger(t)
	l.bootstrap()
	adminTok, pharmTok, otherTok := hashToken("admin-secret"), hashToken("pharmacy-secret"), hashToken("other-secret")
	l.mustApply("", KindIssueToken, IssueTokenPayload{TokenSHA256: adminTok, OrgID: adminID, Label: "bootstrap"})
	issued := l.mustApply(adminID, KindIssueToken, IssueTokenPayload{TokenSHA256: pharmTok, OrgID: glnPharmacy})
	// An organisation issues its own tokens.
	l.mustApply(glnPharmacy, KindIssueToken, IssueTokenPayload{TokenSHA256: otherTok, OrgID: glnPharmacy, Label: "till 2"})

	tok, err := LookupToken(l.db, pharmTok)
	if err != nil || tok.OrgID != glnPharmacy || tok.Role != RolePharmacy || tok.IssuedSeq != issued.Seq {
		t.Fatalf("LookupToken = %+v, %v", tok, err)
	}
	if _, err := LookupToken(l.db, hashToken("nobody")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown token: err = %v, want ErrNotFound", err)
	}

	rejects := []struct {
		name  string
		actor string
		kind  CommandKind
		p     any
		code  string
	}{
		{"issue for another org", glnPharmacy, KindIssueToken, IssueTokenPayload{TokenSHA256: hashToken("n1"), OrgID: glnPharm2}, CodeForbidden},
		{"issue for unknown org", adminID, KindIssueToken, IssueTokenPayload{TokenSHA256: hashToken("n2"), OrgID: "4044444000000"}, CodeNotFound},
		{"issue duplicate hash", adminID, KindIssueToken, IssueTokenPayload{TokenSHA256: pharmTok, OrgID: glnPharmacy}, CodeConflict},
		{"issue uppercase hash", adminID, KindIssueToken, IssueTokenPayload{TokenSHA256: "AB" + hashToken("n3")[2:], OrgID: glnPharmacy}, CodeBadPayload},
		{"issue short hash", adminID, KindIssueToken, IssueTokenPayload{TokenSHA256: "abcd", OrgID: glnPharmacy}, CodeBadPayload},
		{"issue non-hex hash", adminID, KindIssueToken, IssueTokenPayload{TokenSHA256: "zz" + hashToken("n4")[2:], OrgID: glnPharmacy}, CodeBadPayload},
		{"revoke another org's", glnPharm2, KindRevokeToken, RevokeTokenPayload{TokenSHA256: pharmTok}, CodeForbidden},
		{"revoke unknown", adminID, KindRevokeToken, RevokeTokenPayload{TokenSHA256: hashToken("n5")}, CodeNotFound},
	}
	for _, tc := range rejects {
		t.Run(tc.name, func(t *testing.T) {
			l.t = t
			l.mustReject(tc.code, tc.actor, tc.kind, tc.p)
		})
	}
	l.t = t

	l.mustApply(glnPharmacy, KindRevokeToken, RevokeTokenPayload{TokenSHA256: otherTok})
	l.mustApply(adminID, KindRevokeToken, RevokeTokenPayload{TokenSHA256: pharmTok})
	l.mustReject(CodeConflict, adminID, KindRevokeToken, RevokeTokenPayload{TokenSHA256: pharmTok})
	tok, err = LookupToken(l.db, pharmTok)
	if !errors.Is(err, ErrRevoked) || tok.OrgID != glnPharmacy || tok.RevokedAt == nil || !tok.RevokedAt.Equal(l.now) {
		t.Fatalf("revoked LookupToken = %+v, %v", tok, err)
	}
	if _, err := LookupToken(l.db, adminTok); err != nil {
		t.Fatalf("admin token: %v", err)
	}
}
