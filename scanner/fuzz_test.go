package scanner

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/gif"
	"image/jpeg"
	"strings"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// FuzzDecode feeds arbitrary bytes to the image entry point: it must
// return a result or one of its errors, never panic or run away.
func FuzzDecode(f *testing.F) {
	label := mustPNG(f, goldenPack, RenderOptions{ModuleSize: 2, QuietZone: 1})
	img, _ := decodeImage(label, DefaultMaxPixels)
	var j, g bytes.Buffer
	jpeg.Encode(&j, img, &jpeg.Options{Quality: 50})
	gif.Encode(&g, img, nil)
	f.Add(label)
	f.Add(j.Bytes())
	f.Add(g.Bytes())
	f.Add(pngHeader(1<<20, 1<<20))
	f.Add(encodePNG(image.NewGray(image.Rect(0, 0, 3, 3))))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		r, err := Decode(ctx, bytes.NewReader(data), Options{MaxPixels: 1 << 20, MaxBytes: 1 << 20})
		if err == nil {
			if r == nil || r.Elements == nil {
				t.Fatal("success without GS1 data")
			}
			return
		}
		if strings.Contains(err.Error(), "internal error") {
			t.Fatalf("our own image code panicked: %v", err) // a bug, not bad input
		}
		for _, want := range []error{ErrTooLarge, ErrBadImage, ErrNotFound, ErrNotGS1, ErrInvalidGS1} {
			if errors.Is(err, want) {
				return
			}
		}
		t.Fatalf("unclassified error: %v", err)
	})
}

// FuzzDigSig checks the DigSig parser and verifier on arbitrary 8030
// values: strict parsing, and no signature but the real one verifies.
func FuzzDigSig(f *testing.F) {
	f.Add(goldenDigSig)
	f.Add(goldenDigSig[:86])
	f.Add(goldenDigSig[:89] + "B")
	f.Add("")
	f.Add("====" + goldenDigSig[4:])
	k, err := newPrivateKey(goldenKeyRaw())
	if err != nil {
		f.Fatal(err)
	}
	ks, err := NewKeySet(k.Public())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		kid, sig, err := ParseDigSig(v)
		if err == nil && (len(kid) != KeyIDLen || len(sig) != 64 || kid+encodeSig(sig) != v) {
			t.Fatalf("%q parsed loosely: %q, %d bytes", v, kid, len(sig))
		}
		es := append(append(gs1.ElementString(nil), goldenPack...), gs1.Element{AI: AIDigSig, Value: v})
		res, err := Verify(context.Background(), es, ks)
		if err != nil {
			t.Fatal(err)
		}
		if (res.Status == SigValid) != (v == goldenDigSig) {
			t.Fatalf("%q: status %s", v, res.Status)
		}
	})
}
