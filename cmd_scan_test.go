package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pedigree-ledger/pedigree/models/gs1"
	"github.com/pedigree-ledger/pedigree/scanner"
)

func mustRun(t *testing.T, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(args, strings.NewReader(""), &out, &errb); code != want {
		t.Fatalf("pedigree %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

// TestKeygenLabelScan runs the three commands the way a manufacturer and a
// pharmacist would: make a key, print a signed label, scan it and check.
func TestKeygenLabelScan(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "acme")
	out, _ := mustRun(t, exitOK, "keygen", "--out", prefix, "--alg", "ecdsa-p256")
	keyID := strings.TrimSpace(out)
	if len(keyID) != 4 {
		t.Fatalf("key id %q", keyID)
	}
	st, err := os.Stat(prefix + ".key")
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v %v", st.Mode(), err)
	}
	mustRun(t, exitError, "keygen", "--out", prefix) // never overwrites

	png := filepath.Join(dir, "pack.png")
	svg := filepath.Join(dir, "pack.svg")
	hri, _ := mustRun(t, exitOK, "label", "--gtin", "9506000134352", "--serial", "SN-0001", "--lot", "B12",
		"--expiry", "280100", "--key", prefix+".key", "--out", png)
	if !strings.HasPrefix(hri, "(01)09506000134352(17)280100(10)B12(21)SN-0001(8030)"+keyID) {
		t.Fatalf("label HRI %q", hri)
	}
	mustRun(t, exitOK, "label", "--gtin", "9506000134352", "--serial", "SN-0001", "--lot", "B12",
		"--expiry", "280100", "--key", prefix+".key", "--out", svg)
	if b, _ := os.ReadFile(svg); !bytes.HasPrefix(b, []byte("<svg")) {
		t.Fatal("label --out x.svg did not write SVG")
	}
	otherPrefix := filepath.Join(dir, "other")
	mustRun(t, exitOK, "keygen", "--out", otherPrefix)

	out, _ = mustRun(t, exitError, "scan", "--keys", prefix+".pub.json", png, filepath.Join(dir, "missing.png"))
	lines := scanLines(t, out)
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	got := lines[0]
	if !got.OK || got.Symbology != "]d2" || got.Signature == nil || got.Signature.Status != "valid" ||
		!strings.HasPrefix(got.Text, "0109506000134352172801001") || got.HRI != strings.TrimSpace(hri) {
		t.Fatalf("scan: %+v", got)
	}
	if lines[1].OK || lines[1].Error == "" {
		t.Fatalf("missing file: %+v", lines[1])
	}
	out, _ = mustRun(t, exitOK, "scan", "--keys", otherPrefix+".pub.json", png)
	if l := scanLines(t, out)[0]; l.Signature.Status != "unknown_key" {
		t.Fatalf("other key: %+v", l.Signature)
	}

	// The key file as keygen wrote it lists no company prefixes: scan
	// accepts the key on any GTIN and says so. Listed with its owner's
	// prefixes, the key is valid on the owner's GTINs only.
	_, errOut := mustRun(t, exitOK, "scan", "--keys", prefix+".pub.json", png)
	if !strings.Contains(errOut, "1 of the 1 keys") || !strings.Contains(errOut, "no company prefixes") {
		t.Fatalf("no warning about a key without prefixes: %q", errOut)
	}
	pubJSON, err := os.ReadFile(prefix + ".pub.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ prefixes, status string }{
		{`["9506000"]`, "valid"},
		{`["4012345"]`, "invalid"},
	} {
		file := filepath.Join(dir, "owned.pub.json")
		owned := strings.TrimSpace(string(pubJSON))
		owned = owned[:len(owned)-1] + `,"org_id":"4012345000009","prefixes":` + tc.prefixes + "}"
		if err := os.WriteFile(file, []byte(owned), 0o644); err != nil {
			t.Fatal(err)
		}
		out, errOut := mustRun(t, exitOK, "scan", "--keys", file, png)
		l := scanLines(t, out)[0]
		if l.Signature == nil || l.Signature.Status != scanner.SignatureStatus(tc.status) || l.Signature.KeyOwner != "4012345000009" || errOut != "" {
			t.Fatalf("key of prefixes %s: %+v, stderr %q", tc.prefixes, l.Signature, errOut)
		}
	}
}

func scanLines(t *testing.T, out string) []scanLine {
	t.Helper()
	var lines []scanLine
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var l scanLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		lines = append(lines, l)
	}
	return lines
}

func TestScannerCommandsUsage(t *testing.T) {
	for _, cmd := range []string{"scan", "label", "keygen"} {
		out, _ := mustRun(t, exitOK, cmd, "--help")
		if !strings.Contains(out, "Usage: pedigree "+cmd) {
			t.Errorf("%s --help: %q", cmd, out)
		}
	}
	_, errOut := mustRun(t, exitUsage, "scan")
	if strings.Count(errOut, "\n") != 1 {
		t.Errorf("usage error is not one line: %q", errOut)
	}
	if _, e := mustRun(t, exitUsage, "scan", "--bogus", "x.png"); strings.Count(e, "\n") != 1 {
		t.Errorf("bad flag: %q", e)
	}
	mustRun(t, exitUsage, "label", "--gtin", "1")
	mustRun(t, exitUsage, "keygen")
	mustRun(t, exitUsage, "keygen", "--out", filepath.Join(t.TempDir(), "k"), "--alg", "rsa")
	mustRun(t, exitError, "label", "--gtin", "9506000134353", "--serial", "S", "--lot", "L", "--expiry", "280100",
		"--unsigned", "--out", filepath.Join(t.TempDir(), "x.png"))
}

// TestLabelAndScanHRIKeepParentheses: a lot or serial may hold "(" (CSET
// 82). What label writes to standard output and scan writes as "hri"
// escape it as "\(", so both parse back to the printed pack; the text
// under the symbol shows the values as they are, one to a line.
func TestLabelAndScanHRIKeepParentheses(t *testing.T) {
	want := gs1.ElementString{{AI: "01", Value: "09506000134352"}, {AI: "17", Value: "300101"},
		{AI: "10", Value: "L(2"}, {AI: "21", Value: "A(10)L1"}}
	const hri = `(01)09506000134352(17)300101(10)L\(2(21)A\(10)L1`
	png := filepath.Join(t.TempDir(), "p.png")
	out, _ := mustRun(t, exitOK, "label", "--gtin", "09506000134352", "--serial", "A(10)L1", "--lot", "L(2",
		"--expiry", "300101", "--unsigned", "--out", png)
	out, _ = strings.CutSuffix(out, "\n")
	scanned, _ := mustRun(t, exitOK, "scan", png)
	l := scanLines(t, scanned)[0]
	for name, got := range map[string]string{"label": out, "scan": l.HRI} {
		es, err := gs1.ParseScan(got)
		if got != hri || err != nil || !slices.Equal(es, want) {
			t.Errorf("%s wrote %s, which parses to %v, %v; want %s", name, got, es, err, hri)
		}
	}
	if !l.OK || !slices.Equal(l.AIs, want) {
		t.Errorf("scan: %+v", l)
	}
	if text := labelText(want); text[2] != "(10) LOT L(2" || text[3] != "(21) SN A(10)L1" {
		t.Errorf("text under the symbol: %q", text)
	}
}

func TestScanStdinUnsigned(t *testing.T) {
	dir := t.TempDir()
	png := filepath.Join(dir, "u.png")
	mustRun(t, exitOK, "label", "--gtin", "09506000134352", "--serial", "S1", "--lot", "L1", "--expiry", "300101",
		"--unsigned", "--no-text", "--module", "3", "--out", png)
	data, err := os.ReadFile(png)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"scan", "-"}, bytes.NewReader(data), &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	l := scanLines(t, out.String())[0]
	if !l.OK || l.File != "-" || l.HRI != "(01)09506000134352(17)300101(10)L1(21)S1" || l.Signature != nil {
		t.Fatalf("%+v", l)
	}
	// Without --keys there is no verdict; with them an unsigned pack is
	// "missing".
	kp := filepath.Join(dir, "k")
	mustRun(t, exitOK, "keygen", "--out", kp)
	o, _ := mustRun(t, exitOK, "scan", "--keys", kp+".pub.json", png)
	if l := scanLines(t, o)[0]; l.Signature == nil || l.Signature.Status != "missing" {
		t.Fatalf("%+v", l)
	}
	// Not an image: ok false, exit 1, the reason in the line.
	bad := filepath.Join(dir, "bad.png")
	os.WriteFile(bad, []byte("not an image"), 0o644)
	o, _ = mustRun(t, exitError, "scan", bad)
	if l := scanLines(t, o)[0]; l.OK || !strings.Contains(l.Error, "not a readable") {
		t.Fatalf("%+v", l)
	}
}
