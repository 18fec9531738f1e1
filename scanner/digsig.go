package scanner

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"sync"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// AIDigSig is the GS1 Application Identifier of the digital signature.
const AIDigSig = "8030"

// Layout of the AI 8030 value (see the package documentation).
const (
	KeyIDLen      = 4  // base64url characters of the key id (3 bytes)
	sigBytes      = 64 // Ed25519 signature, or P-256 r||s
	sigChars      = 86 // base64url, unpadded, of 64 bytes
	DigSigLen     = KeyIDLen + sigChars
	messagePrefix = "pedigree-digsig-v1"
)

// Algorithm names a signature algorithm as the ledger records it.
type Algorithm string

// The supported algorithms. Both make 64-byte signatures, so a key id and
// a signature fit the 90 characters AI 8030 allows.
const (
	Ed25519   Algorithm = models.AlgEd25519
	ECDSAP256 Algorithm = models.AlgECDSAP256
)

// SignatureStatus is the outcome of checking a code's signature.
type SignatureStatus string

// Signature statuses. Each failure has its own status so a pharmacist's
// terminal and the regulator's alert can say what went wrong.
const (
	// SigValid: the signature verifies against the named key.
	SigValid SignatureStatus = "valid"
	// SigMissing: the code carries no AI 8030.
	SigMissing SignatureStatus = "missing"
	// SigInvalid: the signature does not match the data, so the code was
	// altered (serial, lot, expiry...) or forged.
	SigInvalid SignatureStatus = "invalid"
	// SigMalformed: AI 8030 is not a key id and a 64-byte signature in
	// base64url, e.g. truncated.
	SigMalformed SignatureStatus = "malformed"
	// SigUnknownKey: no registered key has the id the code names.
	SigUnknownKey SignatureStatus = "unknown_key"
)

// ErrUnknownKey is what a KeyResolver returns (wrapped or not) for a key id
// it does not know.
var ErrUnknownKey = errors.New("unknown signing key")

// PublicKey is a manufacturer's verification key as the ledger registers
// it: the id codes name, the algorithm, and the raw key (32 bytes for
// Ed25519; for P-256 the 65-byte uncompressed point, or the 33-byte
// compressed one, whose id is that of the uncompressed point).
type PublicKey struct {
	ID        string    `json:"key_id"`
	Algorithm Algorithm `json:"algorithm"`
	Key       []byte    `json:"public_key"`
	// Owner is the organisation (GLN) the key belongs to, when the
	// resolver knows it: the ledger's registry always does. Verify
	// reports it, so the caller can check that the key's owner made the
	// product (models.Verify does).
	Owner string `json:"org_id,omitempty"`
	// Prefixes are the owner's GS1 company prefixes, when known (a key
	// file may list them). If there are any, Verify accepts a signature
	// only on a GTIN under one of them: a key file holds no products, so
	// this is how an offline check ties a key to the GTINs it may sign.
	Prefixes []string `json:"prefixes,omitempty"`
	// prepared is the verification state Prepare computed, nil if none.
	prepared *keyChecker
}

// KeyID derives the id of a raw public key (models.KeyID, the one
// derivation the ledger's registry also applies): the first 3 bytes of
// SHA-256("pedigree-keyid-v1" 0x00 algorithm 0x00 key), in base64url. The
// id is a hint for finding the key, not a security property: the signature
// covers it, and a registry must refuse two keys with the same id.
func KeyID(alg Algorithm, raw []byte) string { return models.KeyID(string(alg), raw) }

// Validate checks that the key parses for its algorithm, that its id is
// the one derived from it and that its company prefixes, if any, are 4 to
// 12 digits as the registry's are.
func (k PublicKey) Validate() error {
	if _, err := k.checker(); err != nil {
		return err
	}
	if want := KeyID(k.Algorithm, k.Key); k.ID != want {
		return fmt.Errorf("key id %q does not match the key (want %q)", k.ID, want)
	}
	for _, p := range k.Prefixes {
		if !gs1.ValidCompanyPrefix(p) {
			return fmt.Errorf("company prefix %q is not 4 to 12 digits", p)
		}
	}
	return nil
}

// PrivateKey is a manufacturer's signing key.
type PrivateKey struct {
	pub  PublicKey
	sign func(msg []byte) ([]byte, error)
	key  any // ed25519.PrivateKey or *ecdsa.PrivateKey, for marshalling
}

// GenerateKey makes a new signing key. rnd nil means crypto/rand.
func GenerateKey(alg Algorithm, rnd io.Reader) (*PrivateKey, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	switch alg {
	case Ed25519:
		_, priv, err := ed25519.GenerateKey(rnd)
		if err != nil {
			return nil, err
		}
		return newPrivateKey(priv)
	case ECDSAP256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
		if err != nil {
			return nil, err
		}
		return newPrivateKey(priv)
	}
	return nil, fmt.Errorf("unsupported algorithm %q (want %s or %s)", alg, Ed25519, ECDSAP256)
}

// newPrivateKey wraps an ed25519.PrivateKey or *ecdsa.PrivateKey (P-256).
func newPrivateKey(key any) (*PrivateKey, error) {
	switch k := key.(type) {
	case ed25519.PrivateKey:
		raw := []byte(k.Public().(ed25519.PublicKey))
		return &PrivateKey{
			pub:  PublicKey{ID: KeyID(Ed25519, raw), Algorithm: Ed25519, Key: raw},
			sign: func(msg []byte) ([]byte, error) { return ed25519.Sign(k, msg), nil },
			key:  k,
		}, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("ecdsa key is not on P-256")
		}
		ek, err := k.PublicKey.ECDH()
		if err != nil {
			return nil, err
		}
		raw := ek.Bytes()
		return &PrivateKey{
			pub: PublicKey{ID: KeyID(ECDSAP256, raw), Algorithm: ECDSAP256, Key: raw},
			sign: func(msg []byte) ([]byte, error) {
				d := sha256.Sum256(msg)
				r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
				if err != nil {
					return nil, err
				}
				lowS(s)
				sig := make([]byte, sigBytes)
				r.FillBytes(sig[:32])
				s.FillBytes(sig[32:])
				return sig, nil
			},
			key: k,
		}, nil
	}
	return nil, fmt.Errorf("unsupported private key type %T", key)
}

// p256HalfOrder is n/2, rounded down, for the order n of P-256.
var p256HalfOrder = new(big.Int).Rsh(elliptic.P256().Params().N, 1)

// lowS replaces s by n-s when s is above n/2. An ECDSA signature (r, s)
// has a twin, (r, n-s), that verifies as well; writing the low one always
// (as Bitcoin does, BIP 146) gives each code this package signs one
// spelling. Verification still takes both: see ParseDigSig.
func lowS(s *big.Int) {
	if s.Cmp(p256HalfOrder) > 0 {
		s.Sub(elliptic.P256().Params().N, s)
	}
}

// Public returns the key to register on the ledger.
func (k *PrivateKey) Public() PublicKey { return k.pub }

// field is one AI and its value; the gs1-typed API wraps these.
type field struct{ ai, value string }

// signedMessage builds the bytes a signature covers: the prefix, GS, the
// key id, then for every AI except 8030 in ascending AI order, GS, the AI
// and its value. Sorting makes the message independent of the order the
// fields were printed in.
func signedMessage(keyID string, fields []field) ([]byte, error) {
	return appendSignedMessage(nil, keyID, fields)
}

// appendSignedMessage appends signedMessage's bytes to dst. A code has a
// handful of AIs, so they are sorted by insertion in a small array on the
// stack: verification builds this message for every scan, and sort.Slice
// and a strings.Builder were allocations each time.
func appendSignedMessage(dst []byte, keyID string, fields []field) ([]byte, error) {
	var arr [8]field
	sorted := arr[:0]
	for _, f := range fields {
		if f.ai == AIDigSig {
			continue
		}
		sorted = append(sorted, f)
		for i := len(sorted) - 1; i > 0 && sorted[i].ai < sorted[i-1].ai; i-- {
			sorted[i], sorted[i-1] = sorted[i-1], sorted[i]
		}
	}
	if len(sorted) == 0 {
		return nil, errors.New("nothing to sign: no AIs besides 8030")
	}
	dst = append(dst, messagePrefix...)
	dst = append(dst, asciiGS)
	dst = append(dst, keyID...)
	for i, f := range sorted {
		if i > 0 && sorted[i-1].ai == f.ai {
			return nil, fmt.Errorf("AI (%s) appears twice", f.ai)
		}
		if strings.IndexByte(f.value, asciiGS) >= 0 {
			return nil, fmt.Errorf("AI (%s) value contains a separator", f.ai)
		}
		dst = append(dst, asciiGS)
		dst = append(dst, f.ai...)
		dst = append(dst, f.value...)
	}
	return dst, nil
}

// signFields returns the AI 8030 value for the fields.
func (k *PrivateKey) signFields(fields []field) (string, error) {
	for _, f := range fields {
		if f.ai == AIDigSig {
			return "", errors.New("data already carries a signature (8030)")
		}
	}
	msg, err := signedMessage(k.pub.ID, fields)
	if err != nil {
		return "", err
	}
	sig, err := k.sign(msg)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return k.pub.ID + base64.RawURLEncoding.EncodeToString(sig), nil
}

// Verification is the result of checking a code's signature.
type Verification struct {
	Status    SignatureStatus `json:"status"`
	KeyID     string          `json:"key_id,omitempty"`
	Algorithm Algorithm       `json:"algorithm,omitempty"`
	// KeyOwner is the owner of the key the code names, when the resolver
	// knows it (PublicKey.Owner). A valid signature proves only that the
	// holder of that key signed the code: it is the product's only if the
	// owner is the product's manufacturer.
	KeyOwner string `json:"key_owner,omitempty"`
	// Reason explains any status but valid, in one line.
	Reason string `json:"reason,omitempty"`
}

// ParseDigSig splits an AI 8030 value into its key id and 64-byte
// signature. It is strict: exactly 90 base64url characters, no padding,
// and zero trailing bits, so each signature has one spelling in
// characters. An Ed25519 signature is the only one of its message and key
// (RFC 8032 refuses S >= L). An ECDSA P-256 signature (r, s) is not: its
// twin (r, n-s) verifies as well, so anyone can respell the 8030 of a
// genuine code and it still verifies. The signer here writes the low one
// (s <= n/2) only, but codes printed before it did may carry the high one,
// so verification accepts both: a genuine pack must not raise "signature
// invalid". Nothing may therefore tell codes apart by their 8030 text; a
// pack is named by its data (GTIN and serial), never by its signature.
func ParseDigSig(v string) (keyID string, sig []byte, err error) {
	var s [sigBytes]byte
	if keyID, err = parseDigSig(v, &s); err != nil {
		return "", nil, err
	}
	return keyID, s[:], nil
}

// strictBase64URL decodes base64url without padding and refuses nonzero
// trailing bits. Encoding.Strict returns a new Encoding each call, so it
// is made once.
var strictBase64URL = base64.RawURLEncoding.Strict()

// parseDigSig is ParseDigSig into the caller's array, which verification
// keeps on its stack.
func parseDigSig(v string, sig *[sigBytes]byte) (keyID string, err error) {
	if len(v) != DigSigLen {
		return "", fmt.Errorf("8030 is %d characters, want %d (4 key id + 86 signature)", len(v), DigSigLen)
	}
	var (
		src [DigSigLen]byte // Decode takes bytes; a string conversion of 90 would allocate
		kid [3]byte
	)
	copy(src[:], v)
	if n, err := strictBase64URL.Decode(kid[:], src[:KeyIDLen]); err != nil || n != len(kid) {
		return "", fmt.Errorf("8030 key id %q is not base64url", v[:KeyIDLen])
	}
	// 86 characters decode to at most 64 bytes, so sig is large enough.
	if n, err := strictBase64URL.Decode(sig[:], src[KeyIDLen:]); err != nil || n != sigBytes {
		return "", errors.New("8030 signature is not 64 bytes of base64url")
	}
	return v[:KeyIDLen], nil
}

// verifyFields checks the 8030 among fields. The error is only for a
// resolver that failed for another reason than an unknown key (say, the
// ledger was unreachable): then there is no verdict to give.
func verifyFields(ctx context.Context, fields []field, keys KeyResolver) (Verification, error) {
	var ds string
	found := false
	for _, f := range fields {
		if f.ai == AIDigSig {
			if found {
				return Verification{Status: SigMalformed, Reason: "8030 appears twice"}, nil
			}
			ds, found = f.value, true
		}
	}
	if !found {
		return Verification{Status: SigMissing, Reason: "the code carries no signature (8030)"}, nil
	}
	var sig [sigBytes]byte
	kid, err := parseDigSig(ds, &sig)
	if err != nil {
		return Verification{Status: SigMalformed, Reason: err.Error()}, nil
	}
	v := Verification{KeyID: kid}
	if keys == nil {
		v.Status, v.Reason = SigUnknownKey, "no keys to verify with"
		return v, nil
	}
	pub, err := keys.ResolveKey(ctx, kid)
	if errors.Is(err, ErrUnknownKey) {
		v.Status, v.Reason = SigUnknownKey, fmt.Sprintf("no registered key has id %q", kid)
		return v, nil
	}
	if err != nil {
		return v, fmt.Errorf("resolve key %q: %w", kid, err)
	}
	v.Algorithm, v.KeyOwner = pub.Algorithm, pub.Owner
	c, err := pub.checker()
	if err != nil {
		v.Status, v.Reason = SigInvalid, "registered key is unusable: "+err.Error()
		return v, nil
	}
	var buf [256]byte // a pack code's message fits; a longer one grows on the heap
	msg, err := appendSignedMessage(buf[:0], kid, fields)
	if err != nil {
		v.Status, v.Reason = SigMalformed, err.Error()
		return v, nil
	}
	if !c.check(msg, sig[:]) {
		v.Status, v.Reason = SigInvalid, "signature does not match the data (altered or forged code)"
		return v, nil
	}
	if reason, ok := coversGTIN(pub, fields); !ok {
		v.Status, v.Reason = SigInvalid, reason
		return v, nil
	}
	v.Status = SigValid
	return v, nil
}

// coversGTIN checks the code's GTIN against the key's company prefixes,
// when it lists any: a key signs only its owner's products. A key without
// prefixes covers every GTIN here; its owner, if known, is for the caller
// to check.
func coversGTIN(pub PublicKey, fields []field) (reason string, ok bool) {
	if len(pub.Prefixes) == 0 {
		return "", true
	}
	var gtin string
	for _, f := range fields {
		if f.ai == "01" {
			gtin = f.value
		}
	}
	if gs1.UnderCompanyPrefix(gtin, pub.Prefixes) {
		return "", true
	}
	owner := pub.Owner
	if owner == "" {
		owner = "its owner"
	}
	return fmt.Sprintf("the code is signed with key %q of %s, whose company prefixes (%s) do not cover GTIN %s",
		pub.ID, owner, strings.Join(pub.Prefixes, ", "), gtin), false
}

// KeyResolver finds a public key by the id a code names. The server
// implements it over the ledger's key registry; KeySet is the in-memory
// one for offline scanners. ResolveKey returns an error wrapping
// ErrUnknownKey for an id it does not know.
type KeyResolver interface {
	ResolveKey(ctx context.Context, id string) (PublicKey, error)
}

// KeySet is an in-memory KeyResolver, safe for concurrent use.
type KeySet struct {
	mu       sync.RWMutex
	keys     map[string]PublicKey
	prepared int // keys held prepared, at most MaxPreparedKeys
}

// NewKeySet returns a set holding keys; see Add.
func NewKeySet(keys ...PublicKey) (*KeySet, error) {
	s := &KeySet{keys: make(map[string]PublicKey)}
	for _, k := range keys {
		if err := s.Add(k); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Add validates a key and adds it; the first MaxPreparedKeys keys of the
// set are prepared for checking many codes (see PublicKey.Prepare). A
// different key with an id already in the set is refused: codes name keys
// only by id.
func (s *KeySet) Add(k PublicKey) error {
	if err := k.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.keys[k.ID]; ok {
		if old.Algorithm != k.Algorithm || !sameKey(old, k) {
			return fmt.Errorf("key id %q already names another key", k.ID)
		}
		if old.Owner != k.Owner || !slices.Equal(old.Prefixes, k.Prefixes) {
			return fmt.Errorf("key %q is listed twice with different owners or company prefixes", k.ID)
		}
		return nil // the same key again
	}
	if s.prepared < MaxPreparedKeys {
		p, err := k.Prepare()
		if err != nil {
			return err
		}
		k = p
		s.prepared++
	}
	s.keys[k.ID] = k
	return nil
}

// sameKey reports whether a and b are one key: equal bytes, or one P-256
// point in its two encodings.
func sameKey(a, b PublicKey) bool {
	if string(a.Key) == string(b.Key) {
		return true
	}
	if a.Algorithm != ECDSAP256 {
		return false
	}
	ua, okA := models.P256Uncompressed(a.Key)
	ub, okB := models.P256Uncompressed(b.Key)
	return okA && okB && string(ua) == string(ub)
}

// ResolveKey implements KeyResolver.
func (s *KeySet) ResolveKey(_ context.Context, id string) (PublicKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[id]
	if !ok {
		return PublicKey{}, fmt.Errorf("%w: %q", ErrUnknownKey, id)
	}
	return k, nil
}

// Len returns the number of keys in the set.
func (s *KeySet) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.keys)
}
