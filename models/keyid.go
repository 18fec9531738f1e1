package models

import (
	"crypto/ecdh"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
)

// keyIDPrefix separates key ids from every other use of SHA-256 here.
const keyIDPrefix = "pedigree-keyid-v1"

// KeyID derives the id by which signed codes (AI 8030) name a public key:
// the first 3 bytes of SHA-256("pedigree-keyid-v1" 0x00 algorithm 0x00
// key), in base64url (4 characters). alg is AlgEd25519 or AlgECDSAP256 and
// key is the raw public key as RegisterKeyPayload carries it. A P-256 key
// is hashed as its 65-byte uncompressed point even when given as the
// 33-byte compressed one, so a key has one id in either form, the id its
// signer (scanner.PrivateKey) writes.
//
// This is the one derivation: the registry accepts a key only under the id
// derived from it (registerKey), and package scanner signs and verifies
// with it. So an organisation cannot take, with a key of its own, the id
// another company's key has, short of grinding keys until one of the 2^24
// ids collides (a few seconds of work for an id known before its key is
// registered). The id is a hint for finding the key, not a security
// property: what keeps one company's key from passing for another's is
// Verify's check of the key's owner (VerifyRequest.KeyOwner). The
// registry keeps an id for the first key registered under it.
func KeyID(alg string, key []byte) string {
	if alg == AlgECDSAP256 {
		if u, ok := P256Uncompressed(key); ok {
			key = u
		}
	}
	h := sha256.New()
	h.Write([]byte(keyIDPrefix))
	h.Write([]byte{0})
	h.Write([]byte(alg))
	h.Write([]byte{0})
	h.Write(key)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:3])
}

// P256Uncompressed returns a SEC 1 encoded P-256 public key as its 65-byte
// uncompressed point 0x04 || X || Y: a 33-byte compressed point (0x02 or
// 0x03 || X) expanded, an uncompressed one as it is. ok is false when key
// is neither form of a point on the curve.
func P256Uncompressed(key []byte) (uncompressed []byte, ok bool) {
	switch {
	case len(key) == 65 && key[0] == 4:
		if _, err := ecdh.P256().NewPublicKey(key); err != nil {
			return nil, false
		}
		return key, true
	case len(key) == 33 && (key[0] == 2 || key[0] == 3):
		x, y := elliptic.UnmarshalCompressed(elliptic.P256(), key)
		if x == nil {
			return nil, false
		}
		u := make([]byte, 65)
		u[0] = 4
		x.FillBytes(u[1:33])
		y.FillBytes(u[33:])
		return u, true
	}
	return nil, false
}
