package scanner

import (
	"bytes"
	"context"
	"image/jpeg"
	"math/rand/v2"
	"testing"
)

// BenchmarkDecode measures Decode (image bytes to validated GS1 data) on a
// clean signed label, the case a pharmacist's scan should take
// milliseconds for, and on a JPEG and an inverted symbol, which need
// retries. The distortion corpus in fixtures/scancorpus measures the rest.
func BenchmarkDecode(b *testing.B) {
	k := mustKey(b, Ed25519)
	signed := mustSign(b, k, randomPack(rand.New(rand.NewPCG(9, 9))))
	label := mustPNG(b, signed, RenderOptions{ModuleSize: 4, Text: []string{"(01) GTIN"}})
	img, err := decodeImage(label, DefaultMaxPixels)
	if err != nil {
		b.Fatal(err)
	}
	var j bytes.Buffer
	jpeg.Encode(&j, img, &jpeg.Options{Quality: 40})
	inv := cloneGray(toGray(img))
	for i := range inv.Pix {
		inv.Pix[i] = 255 - inv.Pix[i]
	}
	for _, c := range []struct {
		name string
		data []byte
	}{{"clean-png", label}, {"jpeg-q40", j.Bytes()}, {"inverted", encodePNG(inv)}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				r, err := Decode(context.Background(), bytes.NewReader(c.data), Options{})
				if err != nil || r.Elements == nil {
					b.Fatal(err)
				}
			}
		})
	}
}
