package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"time"
)

// benchmark is one "pedigree bench" target. It prints its figures on
// stdout and returns an exit code.
type benchmark struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func benchmarks() map[string]benchmark {
	return map[string]benchmark{
		"gs1": {"gs1 parse throughput over generated scans of every form", benchGS1},
	}
}

func runBench(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	all := benchmarks()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, "Usage: pedigree bench <target> [flags]\n\nMeasures Pedigree on this machine. Targets:\n")
		writeSummaries(stdout, all, func(b benchmark) string { return b.summary })
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	b, ok := all[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "pedigree bench: unknown target %q (see pedigree bench --help)\n", args[0])
		return exitUsage
	}
	return b.run(args[1:], stdout, stderr)
}

func benchGS1(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench gs1", flag.ContinueOnError)
	fs.SetOutput(stderr)
	lines := fs.Int("lines", 1000000, "number of scans to parse")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: pedigree bench gs1 [--lines N]\n\n"+
			"Parses N generated scans (raw with GS, bracketed, Digital Link, and an invalid\n"+
			"one) with the gs1 parse code and reports lines per second.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if *lines < 1 {
		fmt.Fprintln(stderr, "pedigree bench gs1: --lines must be at least 1")
		return exitUsage
	}
	forms := []string{
		"]d2\x1d0109506000134352172812311098%02dABC\x1d21SER%06d\n",
		"(01)09506000134352(17)281231(10)L%02d(21)S%06d\n",
		"https://id.gs1.org/01/09506000134352/10/L%02d/21/S%06d?17=281231\n",
		"0109506000134352172813311098%02d\x1d21S%06d\n", // invalid month
	}
	var in bytes.Buffer
	for i := 0; i < *lines; i++ {
		fmt.Fprintf(&in, forms[i%len(forms)], i%100, i)
	}
	start := time.Now()
	if err := parseScans(&in, io.Discard, false); err != nil {
		fmt.Fprintf(stderr, "pedigree bench gs1: %v\n", err)
		return exitError
	}
	elapsed := time.Since(start)
	fmt.Fprintf(stdout, "gs1 parse: %d lines in %.2fs: %.0f lines/s\n", *lines, elapsed.Seconds(), float64(*lines)/elapsed.Seconds())
	return exitOK
}
