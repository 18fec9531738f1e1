package scanner

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// randomPack makes a valid pharma element string: GTIN, expiry, lot, serial.
func randomPack(rng *rand.Rand) gs1.ElementString {
	const cset82 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-./:_!%&*+,;<=>?'\"()"
	str := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = cset82[rng.IntN(len(cset82))]
		}
		return string(b)
	}
	g := "0"
	for i := 0; i < 12; i++ {
		g += fmt.Sprint(rng.IntN(10))
	}
	g += fmt.Sprint(gs1.CheckDigit(g))
	return gs1.ElementString{
		{AI: "01", Value: g},
		{AI: "17", Value: fmt.Sprintf("%02d%02d%02d", 26+rng.IntN(10), 1+rng.IntN(12), 1+rng.IntN(28))},
		{AI: "10", Value: str(1 + rng.IntN(20))},
		{AI: "21", Value: str(1 + rng.IntN(20))},
	}
}

func mustKey(t testing.TB, alg Algorithm) *PrivateKey {
	t.Helper()
	k, err := GenerateKey(alg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustKeySet(t testing.TB, keys ...*PrivateKey) *KeySet {
	t.Helper()
	var pubs []PublicKey
	for _, k := range keys {
		pubs = append(pubs, k.Public())
	}
	ks, err := NewKeySet(pubs...)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func mustSign(t testing.TB, k *PrivateKey, es gs1.ElementString) gs1.ElementString {
	t.Helper()
	out, err := k.Sign(es)
	if err != nil {
		t.Fatalf("sign %s: %v", es.HRI(), err)
	}
	return out
}

// mustPNG encodes es as a GS1 DataMatrix label PNG.
func mustPNG(t testing.TB, es gs1.ElementString, o RenderOptions) []byte {
	t.Helper()
	return mustPNGShape(t, es, ShapeSquare, o)
}

// mustPNGShape is mustPNG with a choice of symbol shape.
func mustPNGShape(t testing.TB, es gs1.ElementString, shape Shape, o RenderOptions) []byte {
	t.Helper()
	sym, err := EncodeGS1(es.Raw(), shape)
	if err != nil {
		t.Fatalf("encode %s: %v", es.HRI(), err)
	}
	var buf bytes.Buffer
	if err := sym.WritePNG(&buf, o); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// mustDecode decodes with a generous time limit: tests prove what the
// ladder can read, benchmarks how fast, and a loaded CI machine running
// -race must not turn one into the other.
func mustDecode(t testing.TB, data []byte) *Result {
	t.Helper()
	r, err := Decode(context.Background(), bytes.NewReader(data), Options{Timeout: time.Minute})
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return r
}

func writePNGFile(t testing.TB, path string, img image.Image) {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// needTool returns false (test skipped) when an external tool is missing,
// and fails the test instead under CI=true, where CI must have installed it.
func needTool(t *testing.T, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed: CI must apt-get install %s", name, pkg)
		}
		t.Skipf("%s not installed (Debian package %s)", name, pkg)
	}
}

func equalElements(a, b gs1.ElementString) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// cloneGray copies an image, since toGray may return its input.
func cloneGray(g *image.Gray) *image.Gray {
	out := image.NewGray(g.Rect)
	copy(out.Pix, g.Pix)
	return out
}

// randomGray is a deterministic noise image.
func randomGray(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	x := uint32(1)
	for i := range g.Pix {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		g.Pix[i] = uint8(x)
	}
	return g
}
