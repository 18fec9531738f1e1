package models

import (
	"crypto/sha256"
	"encoding/base64"
)

// keyIDPrefix separates key ids from every other use of SHA-256 here.
const keyIDPrefix = "pedigree-keyid-v1"

// KeyID derives the id by which signed codes (AI 8030) name a public key:
// the first 3 bytes of SHA-256("pedigree-keyid-v1" 0x00 algorithm 0x00
// key), in base64url (4 characters). alg is AlgEd25519 or AlgECDSAP256 and
// key is the raw public key as RegisterKeyPayload carries it.
//
// This is the one derivation: the registry accepts a key only under the id
// derived from it (registerKey), and package scanner signs and verifies
// with it. So an organisation cannot take, with a key of its own, the id
// another company's key has, short of grinding keys until one of the 2^24
// ids collides: the id is a hint for finding the key, not a security
// property. The registry keeps an id for the first key registered under
// it.
func KeyID(alg string, key []byte) string {
	h := sha256.New()
	h.Write([]byte(keyIDPrefix))
	h.Write([]byte{0})
	h.Write([]byte(alg))
	h.Write([]byte{0})
	h.Write(key)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:3])
}
