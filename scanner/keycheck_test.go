package scanner

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha512"
	"encoding/json"
	"math/big"
	"slices"
	"testing"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// The Ed25519 checks of keycheck.go (curve25519-voi, plain and with the
// expanded key) must accept exactly what crypto/ed25519 accepts. These
// tests build the cases where Ed25519 implementations are known to
// disagree (RFC 8032 leaves them open or implementations drift: S not
// reduced, small-order R and A, non-canonical encodings) and check that
// both of ours give crypto/ed25519's answer.

// groupOrder is L, the order of the Ed25519 base point.
var groupOrder, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

// leBytes is x as 32 little-endian bytes.
func leBytes(x *big.Int) []byte {
	be := x.FillBytes(make([]byte, 32))
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		be[i], be[j] = be[j], be[i]
	}
	return be
}

// leInt reads 32 little-endian bytes.
func leInt(b []byte) *big.Int {
	be := bytes.Clone(b)
	for i, j := 0, len(be)-1; i < j; i, j = i+1, j-1 {
		be[i], be[j] = be[j], be[i]
	}
	return new(big.Int).SetBytes(be)
}

// secretScalar is the scalar a of an Ed25519 key made from seed, so that
// the public key is [a]B (RFC 8032 §5.1.5).
func secretScalar(seed []byte) *big.Int {
	h := sha512.Sum512(seed)
	h[0] &= 248
	h[31] &= 127
	h[31] |= 64
	return leInt(h[:32])
}

// challenge is k = SHA-512(R || A || msg) mod L.
func challenge(r, a, msg []byte) *big.Int {
	h := sha512.New()
	h.Write(r)
	h.Write(a)
	h.Write(msg)
	return new(big.Int).Mod(leInt(h.Sum(nil)), groupOrder)
}

// stdlibVerify is crypto/ed25519's answer, the reference.
func stdlibVerify(pub, msg, sig []byte) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, msg, sig)
}

// mustAgreeWithStdlib checks that the plain and the prepared Ed25519
// checks give crypto/ed25519's answer, and returns it.
func mustAgreeWithStdlib(t testing.TB, pub, msg, sig []byte) bool {
	t.Helper()
	want := stdlibVerify(pub, msg, sig)
	k := PublicKey{Algorithm: Ed25519, Key: pub}
	plain, err := k.newChecker(false)
	if err != nil {
		if len(pub) == ed25519.PublicKeySize {
			t.Fatalf("a 32-byte key was refused: %v", err)
		}
		return want // no verifier for a key of another length; Validate refuses it
	}
	if got := plain.check(msg, sig); got != want {
		t.Fatalf("plain check says %v, crypto/ed25519 %v\npub %x\nmsg %x\nsig %x", got, want, pub, msg, sig)
	}
	pk, err := k.Prepare()
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if got := pk.prepared.check(msg, sig); got != want {
		t.Fatalf("prepared check says %v, crypto/ed25519 %v\npub %x\nmsg %x\nsig %x", got, want, pub, msg, sig)
	}
	return want
}

func TestEd25519AcceptsWhatStdlibAccepts(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := []byte(priv.Public().(ed25519.PublicKey))
	a := secretScalar(seed)
	msg, err := SignedMessage("GgEs", goldenPack)
	if err != nil {
		t.Fatal(err)
	}
	sig := ed25519.Sign(priv, msg)
	flip := func(b []byte, i int, mask byte) []byte { c := bytes.Clone(b); c[i] ^= mask; return c }

	// S + L: the same point equation, S not reduced.
	sPlusL := bytes.Clone(sig)
	copy(sPlusL[32:], leBytes(new(big.Int).Add(leInt(sig[32:]), groupOrder)))

	identity := leBytes(big.NewInt(1)) // y = 1, x = 0: the neutral point
	// y = p + 1: the neutral point again, a non-canonical encoding.
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	identityNonCanonical := leBytes(new(big.Int).Add(p, big.NewInt(1)))

	// R = neutral point (small order), S = k·a: S·B - k·A is the neutral
	// point, so the cofactorless equation holds.
	smallR := func(r []byte) []byte {
		s := new(big.Int).Mod(new(big.Int).Mul(challenge(r, pub, msg), a), groupOrder)
		return append(bytes.Clone(r), leBytes(s)...)
	}
	// A = neutral point (small order): k·A vanishes, so any R = S·B
	// verifies for any message. Another key's public point is [s]B.
	otherSeed := bytes.Repeat([]byte{9}, ed25519.SeedSize)
	otherPub := ed25519.NewKeyFromSeed(otherSeed).Public().(ed25519.PublicKey)
	sigForNeutralA := append(bytes.Clone(otherPub), leBytes(new(big.Int).Mod(secretScalar(otherSeed), groupOrder))...)

	tests := []struct {
		name          string
		pub, msg, sig []byte
		want          bool
	}{
		{"valid", pub, msg, sig, true},
		{"message altered", pub, flip(msg, len(msg)-1, 1), sig, false},
		{"message empty", pub, nil, sig, false},
		{"R altered", pub, msg, flip(sig, 3, 0x10), false},
		{"S altered", pub, msg, flip(sig, 40, 0x01), false},
		{"key altered", flip(pub, 5, 0x02), msg, sig, false},
		{"S + L (not reduced)", pub, msg, sPlusL, false},
		{"S top bits set", pub, msg, flip(sig, 63, 0xe0), false},
		{"signature short", pub, msg, sig[:63], false},
		{"signature long", pub, msg, append(bytes.Clone(sig), 0), false},
		{"small-order R", pub, msg, smallR(identity), true},
		{"small-order R, non-canonical encoding", pub, msg, smallR(identityNonCanonical), false},
		{"small-order A", identity, msg, sigForNeutralA, true},
		{"small-order A, other message", identity, []byte("anything"), sigForNeutralA, true},
		{"small-order A, non-canonical encoding", identityNonCanonical, msg, sigForNeutralA, true},
		{"all-zero signature", pub, msg, make([]byte, 64), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustAgreeWithStdlib(t, tc.pub, tc.msg, tc.sig); got != tc.want {
				t.Fatalf("crypto/ed25519 says %v, the case was built for %v", got, tc.want)
			}
		})
	}

	// Encodings at the edges of point decoding: x = 0 with the sign bit
	// ("-0"), y = 0 (a point of order 4), and y values up to 40 canonical
	// and not, points or not. Whatever crypto/ed25519 answers, ours must.
	var edges [][]byte
	minusZero := bytes.Clone(identity)
	minusZero[31] |= 0x80
	edges = append(edges, minusZero, make([]byte, 32))
	for y := int64(0); y < 40; y++ {
		edges = append(edges, leBytes(big.NewInt(y)), leBytes(new(big.Int).Add(p, big.NewInt(y%19))))
	}
	for _, e := range edges {
		mustAgreeWithStdlib(t, e, msg, sig)
		mustAgreeWithStdlib(t, e, msg, sigForNeutralA)
		mustAgreeWithStdlib(t, pub, msg, append(bytes.Clone(e), sig[32:]...))
	}
}

// TestPreparedKeys checks what Prepare keeps: the JSON form, a private
// copy of the key bytes, the same answers as an unprepared key for both
// algorithms, and the refusal of a key that does not parse.
func TestPreparedKeys(t *testing.T) {
	for _, alg := range []Algorithm{Ed25519, ECDSAP256} {
		t.Run(string(alg), func(t *testing.T) {
			k := mustKey(t, alg)
			pub := k.Public()
			pub.Key = bytes.Clone(pub.Key)
			prep, err := pub.Prepare()
			if err != nil {
				t.Fatal(err)
			}
			again, err := prep.Prepare()
			if err != nil || again.prepared != prep.prepared {
				t.Fatalf("preparing a prepared key made new state (%v)", err)
			}
			j1, _ := json.Marshal(pub)
			j2, _ := json.Marshal(prep)
			if !bytes.Equal(j1, j2) {
				t.Fatalf("JSON changed: %s, prepared %s", j1, j2)
			}
			pub.Key[0] ^= 0xff // the caller's bytes change; the prepared key's must not
			if bytes.Equal(pub.Key, prep.Key) {
				t.Fatal("the prepared key shares the caller's key bytes")
			}
			good := mustSign(t, k, goldenPack)
			kid, sig, err := ParseDigSig(mustGet(t, good, AIDigSig))
			if err != nil {
				t.Fatal(err)
			}
			sig[10] ^= 1
			altered := kid + encodeSig(sig)
			for _, tc := range []struct {
				name string
				sig  string
				want SignatureStatus
			}{
				{"valid", mustGet(t, good, AIDigSig), SigValid},
				{"altered", altered, SigInvalid},
			} {
				es := append(slices.Clone(goldenPack), gs1.Element{AI: AIDigSig, Value: tc.sig})
				for _, key := range []PublicKey{k.Public(), prep} {
					v, err := verifyFields(context.Background(), fields(es), staticResolver{key})
					if err != nil || v.Status != tc.want {
						t.Fatalf("%s (prepared %v): %+v %v, want %s", tc.name, key.prepared != nil, v, err, tc.want)
					}
				}
			}
		})
	}
	for _, bad := range []PublicKey{
		{Algorithm: Ed25519, Key: make([]byte, 31)},
		{Algorithm: ECDSAP256, Key: make([]byte, 65)},
		{Algorithm: "rsa", Key: make([]byte, 32)},
	} {
		if _, err := bad.Prepare(); err == nil {
			t.Errorf("Prepare accepted a %s key of %d bytes", bad.Algorithm, len(bad.Key))
		}
	}
}

// staticResolver resolves every id to one key.
type staticResolver struct{ k PublicKey }

func (r staticResolver) ResolveKey(context.Context, string) (PublicKey, error) { return r.k, nil }

// FuzzEd25519MatchesStdlib feeds arbitrary keys, messages and signatures
// to both Ed25519 checks and to crypto/ed25519: the answers must agree.
// Seeds include a valid signature and the small-order cases, so mutation
// explores the neighbourhood of accepted input, not only noise.
func FuzzEd25519MatchesStdlib(f *testing.F) {
	seed := bytes.Repeat([]byte{3}, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := []byte(priv.Public().(ed25519.PublicKey))
	msg, _ := SignedMessage("GgEs", goldenPack)
	f.Add(pub, msg, ed25519.Sign(priv, msg))
	f.Add(leBytes(big.NewInt(1)), msg, append(bytes.Clone(pub), leBytes(new(big.Int).Mod(secretScalar(seed), groupOrder))...))
	f.Add(make([]byte, 32), []byte{}, make([]byte, 64))
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		mustAgreeWithStdlib(t, pub, msg, sig)
	})
}

// FuzzEd25519SignedMatchesStdlib signs a message with a key from the
// fuzzer's seed and flips bits of the key, message or signature, so most
// inputs are a few bits from valid: the region where a difference in
// decoding or reduction would show.
func FuzzEd25519SignedMatchesStdlib(f *testing.F) {
	msg, _ := SignedMessage("GgEs", goldenPack)
	f.Add(bytes.Repeat([]byte{1}, 32), msg, uint16(0), byte(0))
	f.Add(bytes.Repeat([]byte{2}, 32), msg, uint16(63), byte(0x10))
	f.Add(bytes.Repeat([]byte{4}, 32), []byte("x"), uint16(95), byte(0x80))
	f.Fuzz(func(t *testing.T, seed, msg []byte, pos uint16, mask byte) {
		if len(seed) < ed25519.SeedSize {
			return
		}
		priv := ed25519.NewKeyFromSeed(seed[:ed25519.SeedSize])
		pub := bytes.Clone(priv.Public().(ed25519.PublicKey))
		sig := ed25519.Sign(priv, msg)
		// pos picks a byte of pub || sig || msg.
		switch i := int(pos); {
		case i < 32:
			pub[i] ^= mask
		case i < 96:
			sig[i-32] ^= mask
		case len(msg) > 0:
			msg = bytes.Clone(msg)
			msg[(i-96)%len(msg)] ^= mask
		}
		got := mustAgreeWithStdlib(t, pub, msg, sig)
		if mask == 0 && !got {
			t.Fatal("an unaltered signature did not verify")
		}
	})
}

// BenchmarkVerifySignature is one signature check of a signed code
// (scanner.Verify: parse 8030, resolve the key, build the message, check)
// with an unprepared key and a prepared one, for both algorithms, beside
// crypto/ed25519.Verify alone for reference:
//
//	go test -run '^$' -bench VerifySignature -cpu 1 ./scanner
func BenchmarkVerifySignature(b *testing.B) {
	ctx := context.Background()
	for _, alg := range []Algorithm{Ed25519, ECDSAP256} {
		k := mustKey(b, alg)
		signed := mustSign(b, k, goldenPack)
		prep, err := k.Public().Prepare()
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range []struct {
			name string
			key  PublicKey
		}{{"unprepared", k.Public()}, {"prepared", prep}} {
			b.Run(string(alg)+"/"+c.name, func(b *testing.B) {
				b.ReportAllocs()
				keys := staticResolver{c.key}
				for b.Loop() {
					if v, err := Verify(ctx, signed, keys); err != nil || v.Status != SigValid {
						b.Fatalf("%+v %v", v, err)
					}
				}
			})
		}
	}
	b.Run("crypto-ed25519-only", func(b *testing.B) {
		priv := goldenKeyRaw()
		msg, _ := SignedMessage("GgEs", goldenPack)
		sig := ed25519.Sign(priv, msg)
		pub := priv.Public().(ed25519.PublicKey)
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("did not verify")
			}
		}
	})
}

// TestKeySetPreparesAtMostMaxPreparedKeys fills a set past the bound: the
// first MaxPreparedKeys keys are prepared, the rest are not, and every
// key verifies its codes either way.
func TestKeySetPreparesAtMostMaxPreparedKeys(t *testing.T) {
	ks := mustKeySet(t)
	var priv []*PrivateKey
	for range MaxPreparedKeys + 2 {
		k := mustKey(t, Ed25519)
		priv = append(priv, k)
		if err := ks.Add(k.Public()); err != nil {
			t.Fatal(err)
		}
	}
	if err := ks.Add(priv[0].Public()); err != nil { // the same key again: no new slot
		t.Fatal(err)
	}
	prepared := 0
	for i, k := range priv {
		pub, err := ks.ResolveKey(context.Background(), k.Public().ID)
		if err != nil {
			t.Fatal(err)
		}
		if pub.Prepared() {
			prepared++
		}
		if want := i < MaxPreparedKeys; pub.Prepared() != want {
			t.Fatalf("key %d prepared %v, want %v", i, pub.Prepared(), want)
		}
		if i < MaxPreparedKeys-2 {
			continue // the keys each side of the bound are enough to sign with
		}
		v, err := Verify(context.Background(), mustSign(t, k, goldenPack), ks)
		if err != nil || v.Status != SigValid {
			t.Fatalf("key %d: %+v %v", i, v, err)
		}
	}
	if prepared != MaxPreparedKeys || ks.Len() != MaxPreparedKeys+2 {
		t.Fatalf("%d of %d keys prepared", prepared, ks.Len())
	}
}

// compressedP256 is the 33-byte SEC 1 compressed form of a P-256 key's
// uncompressed point.
func compressedP256(t testing.TB, uncompressed []byte) []byte {
	t.Helper()
	if len(uncompressed) != 65 || uncompressed[0] != 4 {
		t.Fatalf("not an uncompressed point: %x", uncompressed)
	}
	x, y := new(big.Int).SetBytes(uncompressed[1:33]), new(big.Int).SetBytes(uncompressed[33:])
	return elliptic.MarshalCompressed(elliptic.P256(), x, y)
}

// TestCompressedP256Key: the ledger registers P-256 keys in compressed
// form too, so such a key verifies the codes its private key signed, has
// the id of its uncompressed form (the id the signer writes), and is the
// same key as that form in a KeySet.
func TestCompressedP256Key(t *testing.T) {
	k := mustKey(t, ECDSAP256)
	full := k.Public()
	short := PublicKey{ID: full.ID, Algorithm: ECDSAP256, Key: compressedP256(t, full.Key)}
	if id := KeyID(ECDSAP256, short.Key); id != full.ID {
		t.Fatalf("compressed key id %q, uncompressed %q", id, full.ID)
	}
	if err := short.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	prep, err := short.Prepare()
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	good := mustSign(t, k, goldenPack)
	kid, sig, err := ParseDigSig(mustGet(t, good, AIDigSig))
	if err != nil {
		t.Fatal(err)
	}
	sig[40] ^= 1
	altered := append(slices.Clone(goldenPack), gs1.Element{AI: AIDigSig, Value: kid + encodeSig(sig)})
	for _, key := range []PublicKey{short, prep} {
		for _, tc := range []struct {
			es   gs1.ElementString
			want SignatureStatus
		}{{good, SigValid}, {altered, SigInvalid}} {
			v, err := Verify(context.Background(), tc.es, staticResolver{key})
			if err != nil || v.Status != tc.want {
				t.Fatalf("prepared %v: %+v %v, want %s", key.Prepared(), v, err, tc.want)
			}
		}
	}
	ks, err := NewKeySet(short)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Add(full); err != nil {
		t.Fatalf("the uncompressed form of a key in the set: %v", err)
	}
	if v, err := Verify(context.Background(), good, ks); err != nil || v.Status != SigValid {
		t.Fatalf("KeySet: %+v %v", v, err)
	}

	notOnCurve := append([]byte{2}, bytes.Repeat([]byte{0xff}, 32)...)
	if _, err := (PublicKey{Algorithm: ECDSAP256, Key: notOnCurve}).Prepare(); err == nil {
		t.Fatal("a compressed key off the curve was accepted")
	}
}
