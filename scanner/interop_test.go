package scanner

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// Interop: what we print must read as GS1 with the same data in zxing-cpp
// and libdmtx, and what zint, dmtxwrite and ZXingWriter print must read in
// ours. These tests fail under CI=true when a tool is missing.

func interopPacks(t *testing.T) []gs1.ElementString {
	rng := rand.New(rand.NewPCG(7, 8))
	k := mustKey(t, Ed25519)
	var out []gs1.ElementString
	for i := 0; i < 6; i++ {
		p := randomPack(rng)
		if i%2 == 0 {
			p = mustSign(t, k, p)
		}
		out = append(out, p)
	}
	return append(out, goldenPack)
}

func TestOursReadByZXingCpp(t *testing.T) {
	needTool(t, "ZXingReader", "zxing-cpp-tools")
	dir := t.TempDir()
	for i, es := range interopPacks(t) {
		path := filepath.Join(dir, "ours.png")
		os.WriteFile(path, mustPNGShape(t, es, interopShape(es), RenderOptions{ModuleSize: 3 + i%3}), 0o644)
		out, err := exec.Command("ZXingReader", path).Output()
		if err != nil {
			t.Fatalf("ZXingReader: %v", err)
		}
		if !strings.Contains(string(out), "Identifier: ]d2") {
			t.Fatalf("%s: ZXingReader does not see GS1:\n%s", es.HRI(), out)
		}
		data, err := exec.Command("ZXingReader", "-bytes", path).Output()
		if err != nil {
			t.Fatal(err)
		}
		got, err := gs1.ParseScan("]d2" + string(data))
		if err != nil || !equalElements(got, es) {
			t.Fatalf("ZXingReader read %q (%v), want %s", data, err, es.HRI())
		}
	}
}

func TestOursReadByLibdmtx(t *testing.T) {
	needTool(t, "dmtxread", "dmtx-utils")
	dir := t.TempDir()
	for i, es := range interopPacks(t) {
		path := filepath.Join(dir, "ours.png")
		os.WriteFile(path, mustPNGShape(t, es, interopShape(es), RenderOptions{ModuleSize: 3 + i%3}), 0o644)
		// -G 29: report FNC1 as GS; a GS1 symbol starts with one.
		out, err := exec.Command("dmtxread", "-G", "29", "-N", "1", path).Output()
		if err != nil {
			t.Fatalf("dmtxread: %v", err)
		}
		if len(out) == 0 || out[0] != 0x1d {
			t.Fatalf("%s: dmtxread sees no FNC1 in first position: %q", es.HRI(), out)
		}
		got, err := gs1.ParseScan("]d2" + string(out[1:]))
		if err != nil || !equalElements(got, es) {
			t.Fatalf("dmtxread read %q (%v), want %s", out, err, es.HRI())
		}
	}
}

// interopShape gives unsigned packs rectangular symbols, so both shapes
// are checked against the other decoders; signed ones do not fit a
// rectangle.
func interopShape(es gs1.ElementString) Shape {
	if _, signed := es.Get(AIDigSig); signed {
		return ShapeSquare
	}
	return ShapeRectangle
}

func bracketed(es gs1.ElementString) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString("[" + e.AI + "]" + e.Value)
	}
	return b.String()
}

func TestZintReadByOurs(t *testing.T) {
	needTool(t, "zint", "zint")
	dir := t.TempDir()
	for i, es := range interopPacks(t) {
		path := filepath.Join(dir, "zint.png")
		// zint 2.11 does not know AI 8030 yet, hence --gs1nocheck; ours
		// checks the data on reading.
		cmd := exec.Command("zint", "-b", "DATAMATRIX", "--gs1", "--gs1nocheck", "--square", "--quietzones",
			"--scale", []string{"1", "1.5", "2"}[i%3], "-d", bracketed(es), "-o", path)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("zint: %v: %s", err, out)
		}
		data, _ := os.ReadFile(path)
		r := mustDecode(t, data)
		if r.Symbology != "]d2" || !equalElements(r.Elements, es) {
			t.Fatalf("read %s %s, want %s", r.Symbology, r.HRI(), es.HRI())
		}
	}
}

func TestDmtxwriteReadByOurs(t *testing.T) {
	needTool(t, "dmtxwrite", "dmtx-utils")
	dir := t.TempDir()
	// dmtxwrite has no GS1 mode: its symbols carry the same bytes without
	// FNC1, and must read as non-GS1 ("]d1") with the data intact.
	for _, es := range interopPacks(t) {
		path := filepath.Join(dir, "dmtx.png")
		cmd := exec.Command("dmtxwrite", "-d", "4", "-o", path)
		cmd.Stdin = strings.NewReader(es.Raw())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("dmtxwrite: %v: %s", err, out)
		}
		data, _ := os.ReadFile(path)
		r, err := Decode(t.Context(), bytes.NewReader(data), Options{Timeout: time.Minute})
		if r == nil || r.Symbology != "]d1" || r.Text != es.Raw() {
			t.Fatalf("read %+v", r)
		}
		if err == nil || !strings.Contains(err.Error(), "does not carry GS1") {
			t.Fatalf("a symbol without FNC1 was taken for GS1: %v", err)
		}
	}
}

func TestZXingWriterReadByOurs(t *testing.T) {
	needTool(t, "ZXingWriter", "zxing-cpp-tools")
	dir := t.TempDir()
	for _, es := range interopPacks(t)[:3] {
		plain := gs1.ElementString{}
		for _, e := range es {
			if e.AI != AIDigSig {
				plain = append(plain, e)
			}
		}
		dl, err := plain.DigitalLink("https://id.pedigree.example")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "qr.png")
		if out, err := exec.Command("ZXingWriter", "-size", "240x240", "QRCode", dl, path).CombinedOutput(); err != nil {
			t.Fatalf("ZXingWriter: %v: %s", err, out)
		}
		data, _ := os.ReadFile(path)
		r := mustDecode(t, data)
		if r.Format != "qrcode" || r.Text != dl {
			t.Fatalf("read %+v, want %s", r, dl)
		}
		if v, _ := r.Elements.Get("21"); v != mustGet(t, plain, "21") {
			t.Fatalf("serial %q from %s", v, dl)
		}
	}
}

func mustGet(t *testing.T, es gs1.ElementString, ai string) string {
	t.Helper()
	v, ok := es.Get(ai)
	if !ok {
		t.Fatalf("no AI %s in %s", ai, es.HRI())
	}
	return v
}
