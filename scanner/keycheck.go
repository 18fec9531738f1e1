package scanner

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"fmt"
	"math/big"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// Checking a signature is most of what verifying a signed code costs, and
// a server checks many codes against the same few manufacturer keys. A
// key can therefore be prepared once (PublicKey.Prepare): an Ed25519 key
// keeps its point expanded into the tables of curve25519-voi's
// ExpandedPublicKey, which halves the cost of a check against
// crypto/ed25519 on amd64 (30 µs against 61 µs on the 2-core benchmark
// machine), and a P-256 key keeps its parsed point.
//
// Acceptance is exactly crypto/ed25519's: curve25519-voi's
// VerifyOptionsStdLib checks with the cofactorless equation and compares
// encodings of R as crypto/ed25519 does, rejects S >= L, and accepts the
// small-order and non-canonically encoded public keys crypto/ed25519
// accepts. keycheck_test.go holds the two to the same answers on valid,
// altered, non-canonical and small-order cases, and its fuzz targets
// compare them on arbitrary input. A signature valid for one verifier and
// not for the other would give a pack two verdicts depending on which
// program checked it, so this equivalence is a requirement, not a nicety.

// ed25519Options is verification as crypto/ed25519 does it.
var ed25519Options = &voi.Options{Verify: voi.VerifyOptionsStdLib}

// preparedKey is a key's verification state, computed once.
type preparedKey struct {
	check func(msg, sig []byte) bool
}

// Prepare returns a copy of k ready for many checks: its verification
// state is computed once and kept in the copy (the JSON form is
// unchanged). Resolvers that hand the same key out again and again (KeySet,
// the server's registry cache) keep prepared keys. It fails when k does
// not parse for its algorithm, as Validate does; the key id is not
// checked here.
func (k PublicKey) Prepare() (PublicKey, error) {
	if k.prepared != nil {
		return k, nil
	}
	k.Key = bytes.Clone(k.Key) // the state is derived from these bytes: keep them
	check, err := k.newVerifier(true)
	if err != nil {
		return PublicKey{}, err
	}
	k.prepared = &preparedKey{check: check}
	return k, nil
}

// verifier returns a function that checks a 64-byte signature over msg:
// the prepared one, or one made for this call.
func (k PublicKey) verifier() (func(msg, sig []byte) bool, error) {
	if k.prepared != nil {
		return k.prepared.check, nil
	}
	return k.newVerifier(false)
}

// newVerifier makes the check function for k. With expand, an Ed25519
// key's point is expanded for repeated checks (about 1.5 KiB and the time
// of one check, so only for keys that are kept).
func (k PublicKey) newVerifier(expand bool) (func(msg, sig []byte) bool, error) {
	switch k.Algorithm {
	case Ed25519:
		if len(k.Key) != voi.PublicKeySize {
			return nil, fmt.Errorf("ed25519 public key is %d bytes, want %d", len(k.Key), voi.PublicKeySize)
		}
		pub := voi.PublicKey(k.Key)
		if !expand {
			return func(msg, sig []byte) bool { return voi.VerifyWithOptions(pub, msg, sig, ed25519Options) }, nil
		}
		x, err := voi.NewExpandedPublicKey(pub)
		if err != nil {
			// 32 bytes that are no point on the curve: crypto/ed25519
			// accepts the key and refuses every signature by it, and so
			// does this check (registration takes any 32 bytes).
			return func(msg, sig []byte) bool { return false }, nil
		}
		return func(msg, sig []byte) bool { return voi.VerifyExpandedWithOptions(x, msg, sig, ed25519Options) }, nil
	case ECDSAP256:
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), k.Key)
		if err != nil {
			return nil, fmt.Errorf("ecdsa-p256 public key: %w", err)
		}
		return func(msg, sig []byte) bool {
			if len(sig) != sigBytes {
				return false
			}
			d := sha256.Sum256(msg)
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			return ecdsa.Verify(pub, d[:], r, s)
		}, nil
	}
	return nil, fmt.Errorf("unsupported algorithm %q", k.Algorithm)
}
