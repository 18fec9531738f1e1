package models

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/pedigree-ledger/pedigree/models/gs1"
	"gorm.io/gorm"
)

// Rules for organisations and API tokens. Only an admin (or the cluster
// itself, at bootstrap) registers organisations; an organisation may issue
// and revoke its own tokens, an admin anyone's.

func (a *applier) registerOrganisation(p RegisterOrganisationPayload) error {
	if !a.isAdmin() {
		return reject(CodeForbidden, "only an admin registers organisations")
	}
	if !p.Role.Valid() {
		return reject(CodeBadPayload, "role %q is not one of manufacturer, wholesaler, pharmacy, regulator, admin", p.Role)
	}
	if err := validOrgID(p.ID, p.Role); err != nil {
		return err
	}
	if strings.TrimSpace(p.Name) == "" {
		return reject(CodeBadPayload, "name is empty")
	}
	seen := make(map[string]bool, len(p.Prefixes))
	for _, pre := range p.Prefixes {
		if !gs1.ValidCompanyPrefix(pre) {
			return reject(CodeBadPayload, "company prefix %q is not 4 to 12 digits", pre)
		}
		if seen[pre] {
			return reject(CodeBadPayload, "company prefix %q is listed twice", pre)
		}
		seen[pre] = true
	}
	if len(p.Prefixes) > 0 && p.Role == RoleAdmin {
		return reject(CodeBadPayload, "an admin has no company prefixes")
	}
	var n int64
	if err := a.tx.Model(&Organisation{}).Where("id = ?", p.ID).Count(&n).Error; err != nil {
		return fmt.Errorf("look up organisation: %w", err)
	}
	if n > 0 {
		return reject(CodeConflict, "organisation %q is already registered", p.ID)
	}
	for _, pre := range p.Prefixes {
		if err := a.prefixFree(pre); err != nil {
			return err
		}
	}
	org := Organisation{ID: p.ID, Name: p.Name, Role: p.Role, Prefixes: strings.Join(p.Prefixes, " "), Seq: a.seq, RecordTime: a.at}
	if err := a.tx.Create(&org).Error; err != nil {
		return fmt.Errorf("create organisation: %w", err)
	}
	for _, pre := range p.Prefixes {
		if err := a.tx.Create(&CompanyPrefix{Prefix: pre, OrgID: p.ID}).Error; err != nil {
			return fmt.Errorf("create prefix: %w", err)
		}
	}
	return nil
}

// prefixFree checks that a company prefix neither is, nor extends, nor is
// extended by one already registered: a GTIN under both would belong to
// two manufacturers (gs1.UnderCompanyPrefix). The prefixes of pre are few (it has at
// most 12 digits) and those extending it sort just after it, so both are
// primary key lookups.
func (a *applier) prefixFree(pre string) error {
	var shorter []string
	for n := 4; n <= len(pre); n++ {
		shorter = append(shorter, pre[:n])
	}
	var taken []CompanyPrefix
	// ':' sorts just after '9': every extension of pre lies between.
	err := a.tx.Where("prefix IN ? OR (prefix > ? AND prefix < ?)", shorter, pre, pre+":").
		Order("prefix").Limit(1).Find(&taken).Error
	if err != nil {
		return fmt.Errorf("look up prefixes: %w", err)
	}
	if len(taken) == 0 {
		return nil
	}
	if taken[0].Prefix == pre {
		return reject(CodeConflict, "company prefix %s already belongs to %s", pre, taken[0].OrgID)
	}
	return reject(CodeConflict, "company prefix %s overlaps %s, which belongs to %s", pre, taken[0].Prefix, taken[0].OrgID)
}

// validOrgID checks an organisation id: a GLN with a good check digit for a
// trading partner or regulator, a short name for an admin.
func validOrgID(id string, role Role) error {
	if role == RoleAdmin {
		if id == "" || len(id) > 64 {
			return reject(CodeBadPayload, "admin id must be 1 to 64 characters")
		}
		for _, c := range id {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				return reject(CodeBadPayload, "admin id %q may hold only letters, digits, '-', '_' and '.'", id)
			}
		}
		return nil
	}
	if len(id) != 13 || !gs1.ValidCheckDigit(id) {
		return reject(CodeBadPayload, "organisation id %q is not a 13-digit GLN with a valid check digit", id)
	}
	return nil
}

func (a *applier) issueToken(p IssueTokenPayload) error {
	if err := validTokenHash(p.TokenSHA256); err != nil {
		return err
	}
	if !a.isAdmin() && p.OrgID != a.actorID() {
		return reject(CodeForbidden, "%s may issue tokens only for itself", a.actorID())
	}
	org, err := a.registeredOrg(p.OrgID, "organisation")
	if err != nil {
		return err
	}
	var n int64
	if err := a.tx.Model(&Token{}).Where("hash = ?", p.TokenSHA256).Count(&n).Error; err != nil {
		return fmt.Errorf("look up token: %w", err)
	}
	if n > 0 {
		return reject(CodeConflict, "a token with this hash already exists")
	}
	tok := Token{Hash: p.TokenSHA256, OrgID: org.ID, Role: org.Role, Label: p.Label, IssuedSeq: a.seq, IssuedAt: a.at}
	if err := a.tx.Create(&tok).Error; err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

func (a *applier) revokeToken(p RevokeTokenPayload) error {
	if err := validTokenHash(p.TokenSHA256); err != nil {
		return err
	}
	var tok Token
	err := a.tx.Where("hash = ?", p.TokenSHA256).Take(&tok).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return reject(CodeNotFound, "no token has this hash")
	}
	if err != nil {
		return fmt.Errorf("look up token: %w", err)
	}
	if !a.isAdmin() && tok.OrgID != a.actorID() {
		return reject(CodeForbidden, "%s may revoke only its own tokens", a.actorID())
	}
	if tok.RevokedAt != nil {
		return reject(CodeConflict, "token was already revoked at seq %d", tok.RevokedSeq)
	}
	at := a.at
	if err := a.tx.Model(&Token{}).Where("hash = ?", tok.Hash).
		Updates(map[string]any{"revoked_seq": a.seq, "revoked_at": at}).Error; err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// validTokenHash checks for 64 lowercase hex digits, the one spelling stored.
func validTokenHash(h string) error {
	if len(h) != 64 || strings.ToLower(h) != h {
		return reject(CodeBadPayload, "token_sha256 must be 64 lowercase hex digits")
	}
	if _, err := hex.DecodeString(h); err != nil {
		return reject(CodeBadPayload, "token_sha256 must be 64 lowercase hex digits")
	}
	return nil
}
