package scanner

import (
	"bytes"
	"context"
	"image/jpeg"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// TestLabelScanRoundTrip proves label -> image -> scan gives back the same
// AIs and a valid signature, for many random packs and both algorithms.
func TestLabelScanRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []*PrivateKey{mustKey(t, Ed25519), mustKey(t, ECDSAP256)}
	ks := mustKeySet(t, keys...)
	for i := 0; i < 40; i++ {
		k := keys[i%2]
		signed := mustSign(t, k, randomPack(rng))
		o := RenderOptions{ModuleSize: 2 + i%4, QuietZone: 1 + i%3}
		if i%3 == 0 {
			o.Text = []string{signed.HRI()[:20]}
		}
		data := mustPNG(t, signed, o)
		if i%5 == 4 { // a photo-like JPEG too
			r := mustDecode(t, data)
			_ = r
			img, err := decodeImage(data, DefaultMaxPixels)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 60}); err != nil {
				t.Fatal(err)
			}
			data = buf.Bytes()
		}
		r := mustDecode(t, data)
		if r.Symbology != "]d2" {
			t.Fatalf("pack %d: symbology %q", i, r.Symbology)
		}
		if !equalElements(r.Elements, signed) {
			t.Fatalf("pack %d: got %s, want %s", i, r.HRI(), signed.HRI())
		}
		v, err := Verify(context.Background(), r.Elements, ks)
		if err != nil || v.Status != SigValid || v.KeyID != k.Public().ID || v.Algorithm != k.Public().Algorithm {
			t.Fatalf("pack %d: verify = %+v, %v", i, v, err)
		}
	}
}

// TestTamperedCodes: each kind of damage to a signed code has its own
// status, and it survives printing and scanning.
func TestTamperedCodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	k := mustKey(t, Ed25519)
	other := mustKey(t, ECDSAP256)
	ks := mustKeySet(t, k)
	pack := randomPack(rng)
	signed := mustSign(t, k, pack)
	sig, _ := signed.Get(AIDigSig)
	set := func(es gs1.ElementString, ai, v string) gs1.ElementString {
		out := append(gs1.ElementString(nil), es...)
		for i := range out {
			if out[i].AI == ai {
				out[i].Value = v
			}
		}
		return out
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	serial, _ := pack.Get("21")
	lot, _ := pack.Get("10")
	tests := []struct {
		name string
		es   gs1.ElementString
		want SignatureStatus
	}{
		{"untouched", signed, SigValid},
		{"fields in another order", append(gs1.ElementString{signed[3], signed[4]}, signed[:3]...), SigValid},
		{"serial changed", set(signed, "21", flip(serial, 0)), SigInvalid},
		{"lot changed", set(signed, "10", flip(lot, 0)), SigInvalid},
		{"expiry changed", set(signed, "17", "991231"), SigInvalid},
		{"gtin changed", set(signed, "01", "09506000134352"), SigInvalid},
		{"extra AI added", append(append(gs1.ElementString(nil), signed...), gs1.Element{AI: "714", Value: "1234567"}), SigInvalid},
		{"signature bit flipped", set(signed, AIDigSig, sig[:50]+flip(sig[50:51], 0)+sig[51:]), SigInvalid},
		{"key id of another key", set(signed, AIDigSig, other.Public().ID+sig[4:]), SigUnknownKey},
		{"truncated signature", set(signed, AIDigSig, sig[:80]), SigMalformed},
		{"not base64url", set(signed, AIDigSig, sig[:89]+"="), SigMalformed},
		{"nonzero trailing bits", set(signed, AIDigSig, sig[:89]+string(nonCanonicalLast(sig[89]))), SigMalformed},
		{"missing", pack, SigMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Verify(context.Background(), tt.es, ks)
			if err != nil {
				t.Fatal(err)
			}
			if v.Status != tt.want {
				t.Fatalf("status %q (%s), want %q", v.Status, v.Reason, tt.want)
			}
			if tt.want != SigValid && v.Reason == "" {
				t.Error("no reason given")
			}
			// The same verdict after printing and scanning, for codes that
			// are still valid GS1.
			if tt.es.Validate() != nil {
				return
			}
			r := mustDecode(t, mustPNG(t, tt.es, RenderOptions{ModuleSize: 3}))
			v2, err := Verify(context.Background(), r.Elements, ks)
			if err != nil || v2.Status != tt.want {
				t.Fatalf("after scan: %+v, %v; want %q", v2, err, tt.want)
			}
		})
	}
}

// nonCanonicalLast returns a base64url character that decodes to the same
// top two bits as c but sets a padding bit, so a lax decoder would accept
// a second spelling of the same signature.
func nonCanonicalLast(c byte) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return alphabet[i|1]
}

func TestUnsignedAndNilKeys(t *testing.T) {
	k := mustKey(t, Ed25519)
	signed := mustSign(t, k, randomPack(rand.New(rand.NewPCG(5, 6))))
	v, err := Verify(context.Background(), signed, nil)
	if err != nil || v.Status != SigUnknownKey {
		t.Fatalf("nil keys: %+v %v", v, err)
	}
	if _, err := k.Sign(signed); err == nil {
		t.Fatal("signing data that already has 8030 succeeded")
	}
	if _, err := k.Sign(gs1.ElementString{{AI: "10", Value: "ABC"}}); err == nil {
		t.Fatal("signing data without a serialised key succeeded (GS1 wants 01+21 beside 8030)")
	}
}
