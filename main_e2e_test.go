package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildBinary compiles the real pedigree binary once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pedigree")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestBinaryStreamsGS1Parse runs the built binary as a user would, piping
// a large stream of scans through "gs1 parse", and checks that every line
// comes back, in order, as one JSON object.
func TestBinaryStreamsGS1Parse(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	const n = 200000
	cmd := exec.Command(bin, "gs1", "parse")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		w := bufio.NewWriter(stdin)
		for i := 0; i < n; i++ {
			if i%10 == 9 {
				fmt.Fprintf(w, "(01)09506000134353(21)S%d\n", i) // bad check digit
			} else {
				fmt.Fprintf(w, "]d2\x1d01095060001343521728123110LOT\x1d21S%d\n", i)
			}
		}
		w.Flush()
		stdin.Close()
	}()
	sc := bufio.NewScanner(stdout)
	i := 0
	for sc.Scan() {
		var l parseLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, sc.Text())
		}
		wantValid := i%10 != 9
		if l.Valid != wantValid || !strings.HasSuffix(l.Input, fmt.Sprintf("S%d", i)) {
			t.Fatalf("line %d out of order or wrong: %+v", i+1, l)
		}
		i++
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if i != n {
		t.Fatalf("%d output lines for %d input lines", i, n)
	}
}

func TestBinaryUsageErrorsAreOneLineAndExitTwo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	out, err := exec.Command(bin, "nosuchcommand").CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != exitUsage || strings.Count(string(out), "\n") != 1 {
		t.Fatalf("err %v, output %q", err, out)
	}
}
