package scanner

import (
	"context"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// goldenPack and the known answers below pin the byte layout the package
// documentation describes, so other scanners can test against it.
var goldenPack = gs1.ElementString{
	{AI: "01", Value: "09506000134352"},
	{AI: "17", Value: "280131"},
	{AI: "10", Value: "LOT7"},
	{AI: "21", Value: "SN12345abc"},
}

func goldenKeyRaw() ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	return ed25519.NewKeyFromSeed(seed)
}

func encodeSig(sig []byte) string { return base64.RawURLEncoding.EncodeToString(sig) }

func goldenKey(t *testing.T) *PrivateKey {
	k, err := newPrivateKey(goldenKeyRaw())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestDigSigKnownAnswer(t *testing.T) {
	k := goldenKey(t)
	msg, err := SignedMessage(k.Public().ID, goldenPack)
	if err != nil {
		t.Fatal(err)
	}
	wantMsg := "pedigree-digsig-v1\x1d" + k.Public().ID + "\x1d0109506000134352\x1d10LOT7\x1d17280131\x1d21SN12345abc"
	if string(msg) != wantMsg {
		t.Fatalf("message %q\nwant    %q", msg, wantMsg)
	}
	signed := mustSign(t, k, goldenPack)
	v, _ := signed.Get(AIDigSig)
	if len(v) != 90 || !strings.HasPrefix(v, k.Public().ID) {
		t.Fatalf("8030 = %q", v)
	}
	if got := KeyID(Ed25519, k.Public().Key); got != k.Public().ID {
		t.Fatalf("KeyID %q != %q", got, k.Public().ID)
	}
	// Ed25519 is deterministic: the value must not change between runs or
	// versions, or printed packs stop verifying.
	if v != goldenDigSig {
		t.Fatalf("8030 = %q, want %q", v, goldenDigSig)
	}
}

func TestParseDigSig(t *testing.T) {
	good := goldenDigSig
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"good", good, true},
		{"empty", "", false},
		{"one short", good[:89], false},
		{"one long", good + "A", false},
		{"padding", good[:88] + "==", false},
		{"standard base64 alphabet", good[:10] + "+" + good[11:], false},
		{"bad key id", "!" + good[1:], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kid, sig, err := ParseDigSig(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && (kid != good[:4] || len(sig) != 64) {
				t.Fatalf("kid %q, %d bytes", kid, len(sig))
			}
		})
	}
}

// TestECDSASignerWritesLowS: an ECDSA signature (r, s) has a twin,
// (r, n-s), that verifies as well. The signer writes s <= n/2 only, so a
// code it signs has one spelling. A random s is high half the time: 64
// low ones by chance are 1 in 2^64.
func TestECDSASignerWritesLowS(t *testing.T) {
	k := mustKey(t, ECDSAP256)
	half := new(big.Int).Rsh(elliptic.P256().Params().N, 1)
	for i := range 64 {
		es := append(slices.Clone(goldenPack[:3]), gs1.Element{AI: "21", Value: fmt.Sprint("S", i)})
		v, _ := mustSign(t, k, es).Get(AIDigSig)
		_, sig, err := ParseDigSig(v)
		if err != nil {
			t.Fatal(err)
		}
		if s := new(big.Int).SetBytes(sig[32:]); s.Cmp(half) > 0 {
			t.Fatalf("signature %d has s > n/2: %x", i, s)
		}
	}
}

// TestECDSAHighSTwinStillVerifies pins the documented choice (see
// ParseDigSig): the twin (r, n-s) of a signature verifies, because about
// half the codes signed before the signer wrote low s only carry a high s,
// and a genuine pack must not raise "signature invalid". Only the twin:
// any other change to s is invalid.
func TestECDSAHighSTwinStillVerifies(t *testing.T) {
	k := mustKey(t, ECDSAP256)
	keys := mustKeySet(t, k)
	signed := mustSign(t, k, goldenPack)
	v, _ := signed.Get(AIDigSig)
	kid, sig, err := ParseDigSig(v)
	if err != nil {
		t.Fatal(err)
	}
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	withS := func(s *big.Int) gs1.ElementString {
		alt := slices.Clone(sig)
		s.FillBytes(alt[32:])
		es := slices.Clone(signed)
		es[len(es)-1].Value = kid + encodeSig(alt)
		return es
	}
	for _, c := range []struct {
		name string
		es   gs1.ElementString
		want SignatureStatus
	}{
		{"as signed (low s)", signed, SigValid},
		{"twin (high s)", withS(new(big.Int).Sub(n, s)), SigValid},
		{"s+1", withS(new(big.Int).Add(s, big.NewInt(1))), SigInvalid},
		{"n-s-1", withS(new(big.Int).Sub(n, new(big.Int).Add(s, big.NewInt(1)))), SigInvalid},
	} {
		got, err := Verify(context.Background(), c.es, keys)
		if err != nil || got.Status != c.want {
			t.Errorf("%s: %+v, %v; want %s", c.name, got, err, c.want)
		}
	}
}

func TestKeyFiles(t *testing.T) {
	for _, alg := range []Algorithm{Ed25519, ECDSAP256} {
		t.Run(string(alg), func(t *testing.T) {
			k := mustKey(t, alg)
			pem, err := k.MarshalPEM()
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParsePrivateKeyPEM(pem)
			if err != nil {
				t.Fatal(err)
			}
			if back.Public().ID != k.Public().ID || string(back.Public().Key) != string(k.Public().Key) {
				t.Fatal("private key round trip changed the public key")
			}
			wantLen := map[Algorithm]int{Ed25519: 32, ECDSAP256: 65}[alg]
			if len(k.Public().Key) != wantLen {
				t.Fatalf("raw public key is %d bytes, want %d", len(k.Public().Key), wantLen)
			}
			js, _ := json.Marshal(k.Public())
			keys, err := ReadPublicKeys(strings.NewReader(string(js) + "\n[" + string(js) + "]"))
			if err != nil || len(keys) != 2 || keys[0].ID != k.Public().ID {
				t.Fatalf("ReadPublicKeys: %v %v", keys, err)
			}
			// A key signed by back verifies with the original public key.
			signed := mustSign(t, back, goldenPack)
			v, err := Verify(context.Background(), signed, mustKeySet(t, k))
			if err != nil || v.Status != SigValid {
				t.Fatalf("%+v %v", v, err)
			}
		})
	}
	bad := []string{
		`{"key_id":"AAAA","algorithm":"ed25519","public_key":"AAAA"}`,
		`{"key_id":"AAAA","algorithm":"rsa","public_key":"AAAA"}`,
		``,
		`{"key_id":`,
	}
	for _, in := range bad {
		if _, err := ReadPublicKeys(strings.NewReader(in)); err == nil {
			t.Errorf("ReadPublicKeys(%q) succeeded", in)
		}
	}
	if _, err := ParsePrivateKeyPEM([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")); err == nil {
		t.Error("garbage PEM accepted")
	}
	if _, err := GenerateKey("rsa-2048", nil); err == nil {
		t.Error("unsupported algorithm accepted")
	}
}

func TestKeySet(t *testing.T) {
	k := mustKey(t, Ed25519)
	ks := mustKeySet(t, k)
	if err := ks.Add(k.Public()); err != nil {
		t.Fatalf("re-adding the same key: %v", err)
	}
	forged := k.Public()
	forged.Key = append([]byte(nil), forged.Key...)
	forged.Key[0] ^= 1
	if err := ks.Add(forged); err == nil {
		t.Fatal("a key whose id does not match was accepted")
	}
	if _, err := ks.ResolveKey(context.Background(), "zzzz"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown id: %v", err)
	}
	if ks.Len() != 1 {
		t.Fatalf("Len = %d", ks.Len())
	}
}

// failingResolver stands for a ledger that cannot be reached.
type failingResolver struct{}

func (failingResolver) ResolveKey(context.Context, string) (PublicKey, error) {
	return PublicKey{}, errors.New("ledger unreachable")
}

func TestVerifyResolverError(t *testing.T) {
	signed := mustSign(t, goldenKey(t), goldenPack)
	if _, err := Verify(context.Background(), signed, failingResolver{}); err == nil {
		t.Fatal("a resolver failure became a verdict")
	}
}

// goldenDigSig is AI 8030 for goldenPack signed by goldenKey (Ed25519 seed
// 00 01 .. 1f), key id "GgEs".
const goldenDigSig = "GgEspkzpeTChsWXeCj4sF_4EGvlQJloY9hMCOGNaC2bMETI0tugbiP7ny5L6Xr-_0PXkAP2ki6LIVU1f_xHzcW3bDA"

// TestKeyOwnerAndPrefixes: a key that names its owner's company prefixes
// signs only GTINs under them; a key file may carry them (and the owner)
// beside the fields it always had, and the owner is reported.
func TestKeyOwnerAndPrefixes(t *testing.T) {
	k := mustKey(t, Ed25519)
	signed := mustSign(t, k, goldenPack) // GTIN 09506000134352, company prefix 9506000
	const owner = "9506000000009"
	for _, tc := range []struct {
		name     string
		prefixes []string
		want     SignatureStatus
	}{
		{"no prefixes", nil, SigValid},
		{"the GTIN's prefix", []string{"4012345", "9506000"}, SigValid},
		{"another company's prefixes", []string{"4012345", "950600014"}, SigInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub := k.Public()
			pub.Owner, pub.Prefixes = owner, tc.prefixes
			js, err := json.Marshal(pub)
			if err != nil {
				t.Fatal(err)
			}
			keys, err := ReadPublicKeys(strings.NewReader(string(js)))
			if err != nil {
				t.Fatal(err)
			}
			if keys[0].Owner != owner || !slices.Equal(keys[0].Prefixes, tc.prefixes) {
				t.Fatalf("read back %+v from %s", keys[0], js)
			}
			ks, err := NewKeySet(keys...)
			if err != nil {
				t.Fatal(err)
			}
			v, err := Verify(context.Background(), signed, ks)
			if err != nil || v.Status != tc.want || v.KeyOwner != owner {
				t.Fatalf("%+v %v, want %s by %s", v, err, tc.want, owner)
			}
			if tc.want == SigInvalid && !strings.Contains(v.Reason, owner) {
				t.Fatalf("the reason does not say whose key it is: %q", v.Reason)
			}
		})
	}
	// A key file written before keys had owners reads as a key of unknown
	// owner for any GTIN.
	old := `{"key_id":"GgEs","algorithm":"ed25519","public_key":"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="}`
	keys, err := ReadPublicKeys(strings.NewReader(old))
	if err != nil || keys[0].Owner != "" || keys[0].Prefixes != nil {
		t.Fatalf("old key file: %+v %v", keys, err)
	}
	for _, bad := range []string{`[]`, `[""]`, `["950"]`, `["9506000000001"]`, `["95O6000"]`} {
		in := `{"key_id":"GgEs","algorithm":"ed25519","public_key":"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=","prefixes":` + bad + `}`
		if _, err := ReadPublicKeys(strings.NewReader(in)); (err == nil) != (bad == `[]`) {
			t.Errorf("prefixes %s: %v", bad, err)
		}
	}
	// The same key twice with different prefixes is ambiguous.
	a, b := k.Public(), k.Public()
	a.Prefixes, b.Prefixes = []string{"9506000"}, []string{"4012345"}
	if _, err := NewKeySet(a, b); err == nil {
		t.Fatal("a key listed with two sets of prefixes was accepted")
	}
}
