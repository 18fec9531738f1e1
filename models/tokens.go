package models

import (
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// Sentinel errors of the read functions; callers branch on them with
// errors.Is.
var (
	// ErrNotFound means the looked-up thing is not in the projection.
	ErrNotFound = errors.New("models: not found")
	// ErrRevoked means the token exists but was revoked.
	ErrRevoked = errors.New("models: token revoked")
)

// LookupToken finds the token whose SHA-256 (lowercase hex) is given. It
// returns ErrNotFound for an unknown hash and the token with ErrRevoked for
// a revoked one, so the server can log who tried.
func LookupToken(db *gorm.DB, tokenSHA256Hex string) (Token, error) {
	var tok Token
	err := db.Where("hash = ?", tokenSHA256Hex).Take(&tok).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Token{}, ErrNotFound
	}
	if err != nil {
		return Token{}, fmt.Errorf("models: look up token: %w", err)
	}
	if tok.RevokedAt != nil {
		return tok, ErrRevoked
	}
	return tok, nil
}
