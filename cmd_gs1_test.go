package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
)

type parseLine struct {
	Input string `json:"input"`
	Valid bool   `json:"valid"`
	AIs   []struct {
		AI    string `json:"ai"`
		Value string `json:"value"`
	} `json:"ais"`
	HRI   string `json:"hri"`
	Error string `json:"error"`
}

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func decodeLines(t *testing.T, out string) []parseLine {
	t.Helper()
	var lines []parseLine
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var l parseLine
		if err := dec.Decode(&l); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("bad JSON output %q: %v", out, err)
		}
		lines = append(lines, l)
	}
	return lines
}

func TestGS1ParseWritesOneJSONObjectPerLine(t *testing.T) {
	in := "]d2\x1d010950600013435217281231109876ABC\x1d21SER123\n" +
		"(01)09506000134352(17)281231(10)9876ABC(21)SER<1>\r\n" +
		"https://id.gs1.org/01/09506000134352/21/A%2FB?17=281231\n" +
		"\n" +
		"0109506000134353\n" +
		"010950600013435217281231109876ABC\\x1d21SER" // no final newline
	code, out, errOut := runCLI(t, in, "gs1", "parse")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	lines := decodeLines(t, out)
	if len(lines) != 6 {
		t.Fatalf("%d output lines for 6 input lines: %s", len(lines), out)
	}
	want := []struct {
		valid bool
		hri   string
		err   string
	}{
		{true, "(01)09506000134352(17)281231(10)9876ABC(21)SER123", ""},
		{true, "(01)09506000134352(17)281231(10)9876ABC(21)SER<1>", ""},
		{true, "(01)09506000134352(21)A/B(17)281231", ""},
		{false, "", "empty scan"},
		{false, "", "AI (01)"},
		{false, "", "AI (10)"}, // without --escapes, \x1d is data, and \ is not in CSET 82
	}
	for i, w := range want {
		l := lines[i]
		if l.Valid != w.valid || l.HRI != w.hri || !strings.Contains(l.Error, w.err) {
			t.Errorf("line %d: %+v, want %+v", i+1, l, w)
		}
	}
	if lines[0].Input != "]d2\x1d010950600013435217281231109876ABC\x1d21SER123" || lines[0].AIs[3].AI != "21" || lines[0].AIs[3].Value != "SER123" {
		t.Errorf("line 1: %+v", lines[0])
	}
	if !strings.Contains(out, `SER\u003c1\u003e`) {
		t.Errorf("< and > not escaped as encoding/json does: %s", out)
	}
}

func TestGS1ParseEscapes(t *testing.T) {
	code, out, _ := runCLI(t, `]d2\x1d0109506000134352\u001d10ABC\x1D21S`+"\n", "gs1", "parse", "--escapes")
	lines := decodeLines(t, out)
	if code != 0 || len(lines) != 1 || !lines[0].Valid || lines[0].HRI != "(01)09506000134352(10)ABC(21)S" {
		t.Fatalf("exit %d: %s", code, out)
	}
	if lines[0].Input != `]d2\x1d0109506000134352\u001d10ABC\x1D21S` {
		t.Errorf("input not echoed verbatim: %q", lines[0].Input)
	}
}

// TestGS1ParseHRIParsesBack: "hri" writes a "(" in a value as "\(", so
// fed back to gs1 parse it gives the same AIs. Unescaped, the serial
// "A(10)L1" came back as the serial "A" with the lot "L1": another pack.
func TestGS1ParseHRIParsesBack(t *testing.T) {
	const want = `(01)09506000134352(10)L1(21)A\(10)L1`
	in := want + "\n" +
		"]d2010950600013435210L1\x1d21A(10)L1\n" +
		"https://id.gs1.org/01/09506000134352/10/L1/21/A%2810%29L1\n"
	_, out, _ := runCLI(t, in, "gs1", "parse")
	lines := decodeLines(t, out)
	var hris strings.Builder
	for i, l := range lines {
		if !l.Valid || l.HRI != want || len(l.AIs) != 3 || l.AIs[2].Value != "A(10)L1" {
			t.Fatalf("line %d: %+v, want hri %s", i+1, l, want)
		}
		hris.WriteString(l.HRI + "\n")
	}
	_, out, _ = runCLI(t, hris.String(), "gs1", "parse")
	for i, back := range decodeLines(t, out) {
		if !back.Valid || back.HRI != want || fmt.Sprint(back.AIs) != fmt.Sprint(lines[i].AIs) {
			t.Errorf("hri of line %d parsed again: %+v, want the AIs %v", i+1, back, lines[i].AIs)
		}
	}
}

func TestGS1ParseRejectsOverlongLineAndGoesOn(t *testing.T) {
	in := strings.Repeat("9", maxScanLine+10) + "\n(01)09506000134352\n"
	_, out, _ := runCLI(t, in, "gs1", "parse")
	lines := decodeLines(t, out)
	if len(lines) != 2 || lines[0].Valid || !strings.Contains(lines[0].Error, "longer than") || !lines[1].Valid {
		t.Fatalf("%s", out)
	}
}

func TestGS1ParseUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"gs1"}, exitUsage},
		{[]string{"gs1", "frobnicate"}, exitUsage},
		{[]string{"gs1", "parse", "--nope"}, exitUsage},
		{[]string{"gs1", "parse", "file.txt"}, exitUsage},
		{[]string{"gs1", "parse", "--help"}, exitOK},
		{[]string{"gs1", "--help"}, exitOK},
		{[]string{"nosuchcommand"}, exitUsage},
		{[]string{"--help"}, exitOK},
	} {
		code, _, errOut := runCLI(t, "", c.args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d", c.args, code, c.code)
		}
		if code == exitUsage && len(c.args) > 1 && strings.Count(strings.TrimSpace(errOut), "\n") > 20 {
			t.Errorf("%v: stderr too long: %q", c.args, errOut)
		}
	}
}

// failingWriter fails every write, as a closed pipe does.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestGS1ParseReportsWriteErrors(t *testing.T) {
	var errb bytes.Buffer
	code := run([]string{"gs1", "parse"}, strings.NewReader(strings.Repeat("(01)09506000134352\n", 50000)), failingWriter{}, &errb)
	if code != exitError || !strings.Contains(errb.String(), "closed pipe") || strings.Count(errb.String(), "\n") != 1 {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// BenchmarkGS1ParseLines measures "pedigree gs1 parse" throughput on a mix
// of scanner forms, in lines per second.
func BenchmarkGS1ParseLines(b *testing.B) {
	forms := []string{
		"]d2\x1d0109506000134352172812311098%02dABC\x1d21SER%06d",
		"(01)09506000134352(17)281231(10)L%02d(21)S%06d",
		"https://id.gs1.org/01/09506000134352/10/L%02d/21/S%06d?17=281231",
		"0109506000134352172813311098%02d\x1d21S%06d", // invalid month
	}
	var in bytes.Buffer
	const lines = 100000
	for i := 0; i < lines; i++ {
		fmt.Fprintf(&in, forms[i%len(forms)]+"\n", i%100, i)
	}
	data := in.Bytes()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := parseScans(bytes.NewReader(data), io.Discard, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func TestBenchGS1ReportsThroughput(t *testing.T) {
	code, out, errOut := runCLI(t, "", "bench", "gs1", "--lines", "2000")
	if code != exitOK || !strings.Contains(out, "gs1 parse: 2000 lines in") || !strings.Contains(out, "lines/s") {
		t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
	}
	if code, _, _ := runCLI(t, "", "bench", "gs1", "--lines", "0"); code != exitUsage {
		t.Errorf("--lines 0: exit %d", code)
	}
	if code, _, _ := runCLI(t, "", "bench", "nope"); code != exitUsage {
		t.Errorf("unknown target: exit %d", code)
	}
}
