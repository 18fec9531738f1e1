package scanner

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"math/big"

	"github.com/oasisprotocol/curve25519-voi/curve"
	"github.com/oasisprotocol/curve25519-voi/curve/scalar"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"

	"github.com/pedigree-ledger/pedigree/models"
)

// Checking a signature is most of what verifying a signed code costs, and
// a server checks many codes against the same few manufacturer keys. A
// key can therefore be prepared once (PublicKey.Prepare). An Ed25519 key
// keeps a fixed-base table of multiples of -A (about 40 KiB), so that
// R' = [S]B + [k](-A) is two fixed-base multiplications by precomputed
// tables, with no doublings, instead of one double-scalar multiplication
// that doubles 253 times: 21-24 µs a check on the 2-core benchmark
// machine, against 30-35 µs with curve25519-voi's ExpandedPublicKey and
// 61-70 µs with crypto/ed25519. A P-256 key keeps its parsed point.
//
// Acceptance is exactly crypto/ed25519's, whose equation this is:
// reject a signature that is not 64 bytes or whose S is not below the
// group order L; decode A as crypto/ed25519 does (any 32 bytes that
// decode to a point, non-canonical y and small order included); k =
// SHA-512(R || A || M) mod L over the bytes as given; accept iff the
// canonical encoding of [S]B - [k]A equals the signature's R bytes
// (cofactorless, R never decoded). An unprepared key checks with
// curve25519-voi's VerifyOptionsStdLib preset, which is the same
// equation. keycheck_test.go holds both to crypto/ed25519's answers on
// valid, altered, non-canonical and small-order cases, and its fuzz
// targets compare them on arbitrary and near-valid input. A signature
// valid for one verifier and not for the other would give a pack two
// verdicts depending on which program checked it, so this equivalence is
// a requirement, not a nicety.

// MaxPreparedKeys bounds how many keys a long-lived resolver (KeySet, the
// server's registry cache) keeps prepared. A prepared Ed25519 key holds
// about 40 KiB of tables, so 256 keys are 10 MiB; further keys are kept
// as they are and checked at the unprepared cost (about twice as long).
// The keys used first (on a server, those of the manufacturers whose packs
// are scanned first after a start) get the tables.
const MaxPreparedKeys = 256

// ed25519Options is verification as crypto/ed25519 does it.
var ed25519Options = &voi.Options{Verify: voi.VerifyOptionsStdLib}

// keyChecker checks signatures by one key. It is a concrete type, not a
// func value, so that the message and signature buffers of a check stay
// on the caller's stack (a call through a func value makes them escape).
type keyChecker struct {
	ed      *ed25519Key      // a prepared Ed25519 key
	edPlain voi.PublicKey    // an unprepared Ed25519 key
	ec      *ecdsa.PublicKey // a P-256 key
	// none: an Ed25519 key of 32 bytes that is no point on the curve.
	// crypto/ed25519 accepts such a key and refuses every signature by
	// it, and so does this check (registration takes any 32 bytes).
	none bool
}

// check reports whether sig is a valid signature of msg by the key.
func (c *keyChecker) check(msg, sig []byte) bool {
	switch {
	case c.none:
		return false
	case c.ed != nil:
		return c.ed.verify(msg, sig)
	case c.edPlain != nil:
		return voi.VerifyWithOptions(c.edPlain, msg, sig, ed25519Options)
	case c.ec != nil:
		if len(sig) != sigBytes {
			return false
		}
		d := sha256.Sum256(msg)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		// A high s (> n/2) is accepted: about half the codes signed before
		// the signer wrote low s only have one (see ParseDigSig).
		return ecdsa.Verify(c.ec, d[:], r, s)
	}
	return false
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
	c, err := k.newChecker(true)
	if err != nil {
		return PublicKey{}, err
	}
	k.prepared = c
	return k, nil
}

// Prepared reports whether k carries its verification state (see
// Prepare).
func (k PublicKey) Prepared() bool { return k.prepared != nil }

// checker returns the key's checker: the prepared one, or one made for
// this call.
func (k PublicKey) checker() (*keyChecker, error) {
	if k.prepared != nil {
		return k.prepared, nil
	}
	return k.newChecker(false)
}

// newChecker makes the checker for k. With prepare, an Ed25519 key gets
// its table (about 40 KiB, and the time of a few checks to build, so only
// for keys that are kept).
func (k PublicKey) newChecker(prepare bool) (*keyChecker, error) {
	switch k.Algorithm {
	case Ed25519:
		if len(k.Key) != voi.PublicKeySize {
			return nil, fmt.Errorf("ed25519 public key is %d bytes, want %d", len(k.Key), voi.PublicKeySize)
		}
		if !prepare {
			return &keyChecker{edPlain: voi.PublicKey(k.Key)}, nil
		}
		pk, ok := newEd25519Key(k.Key)
		if !ok {
			return &keyChecker{none: true}, nil
		}
		return &keyChecker{ed: pk}, nil
	case ECDSAP256:
		// The registry takes both SEC 1 forms (models.RegisterKeyPayload).
		raw, ok := models.P256Uncompressed(k.Key)
		if !ok {
			return nil, fmt.Errorf("ecdsa-p256 public key of %d bytes is not a P-256 point (65-byte uncompressed or 33-byte compressed)", len(k.Key))
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
		if err != nil {
			return nil, fmt.Errorf("ecdsa-p256 public key: %w", err)
		}
		return &keyChecker{ec: pub}, nil
	}
	return nil, fmt.Errorf("unsupported algorithm %q", k.Algorithm)
}

// ed25519Key is an Ed25519 public key prepared for many checks.
type ed25519Key struct {
	raw  [voi.PublicKeySize]byte      // the encoding, hashed into every challenge as given
	negA *curve.EdwardsBasepointTable // multiples of -A
}

// newEd25519Key decodes raw as crypto/ed25519 does and builds the table;
// ok is false when raw is not a point.
func newEd25519Key(raw []byte) (k *ed25519Key, ok bool) {
	var enc curve.CompressedEdwardsY
	if _, err := enc.SetBytes(raw); err != nil {
		return nil, false
	}
	var a curve.EdwardsPoint
	if _, err := a.SetCompressedY(&enc); err != nil {
		return nil, false
	}
	k = &ed25519Key{negA: curve.NewEdwardsBasepointTable(a.Neg(&a))}
	copy(k.raw[:], raw)
	return k, true
}

// verify reports whether sig is an Ed25519 signature of msg by the key,
// with crypto/ed25519's acceptance (see the top of this file).
func (k *ed25519Key) verify(msg, sig []byte) bool {
	if len(sig) != voi.SignatureSize {
		return false
	}
	var s scalar.Scalar
	if _, err := s.SetCanonicalBytes(sig[32:]); err != nil {
		return false
	}
	// k = SHA-512(R || A || M) mod L. The three are hashed from one buffer
	// (on the stack for a code's message, which is under 200 bytes): a
	// hash.Hash would be two allocations per check.
	var buf [256]byte
	in := append(append(append(buf[:0], sig[:32]...), k.raw[:]...), msg...)
	digest := sha512.Sum512(in)
	var c scalar.Scalar
	if _, err := c.SetBytesModOrderWide(digest[:]); err != nil {
		return false
	}
	var r, ka curve.EdwardsPoint
	r.MulBasepoint(curve.ED25519_BASEPOINT_TABLE, &s)
	ka.MulBasepoint(k.negA, &c)
	r.Add(&r, &ka)
	var enc curve.CompressedEdwardsY
	enc.SetEdwardsPoint(&r)
	return bytes.Equal(enc[:], sig[:32])
}
