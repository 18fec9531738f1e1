package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pedigree-ledger/pedigree/models/gs1"
	"github.com/pedigree-ledger/pedigree/scanner"
)

// scanLine is one line of 'pedigree scan' output (ARCHITECTURE.md).
type scanLine struct {
	File      string                `json:"file"`
	OK        bool                  `json:"ok"`
	Symbology string                `json:"symbology,omitempty"`
	Text      string                `json:"text,omitempty"`
	HRI       string                `json:"hri,omitempty"`
	AIs       gs1.ElementString     `json:"ais,omitempty"`
	Signature *scanner.Verification `json:"signature,omitempty"`
	Error     string                `json:"error,omitempty"`
}

func runScan(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keysFile := fs.String("keys", "", "public keys (JSON from 'pedigree keygen', one or more) to check signatures (AI 8030)")
	timeout := fs.Duration("timeout", scanner.DefaultTimeout, "time limit per image across all retries")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: pedigree scan [--keys FILE] [--timeout D] FILE...\n\n"+
			"Decodes GS1 DataMatrix (and GS1 Digital Link QR) codes in PNG, JPEG or GIF\n"+
			"images; FILE - reads standard input. Writes one JSON line per file:\n"+
			"  {\"file\",\"ok\":true,\"symbology\",\"text\",\"hri\",\"ais\",\"signature\"}\n"+
			"  {\"file\",\"ok\":false,\"error\"}\n"+
			"\"text\" is the data after the symbology identifier, with GS (\\u001d) between\n"+
			"fields. \"signature\" is there with --keys: status valid, missing, invalid,\n"+
			"malformed or unknown_key. Exit status 1 when some file could not be read.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "pedigree scan: no image files given (see pedigree scan --help)")
		return exitUsage
	}
	if *timeout <= 0 {
		fmt.Fprintln(stderr, "pedigree scan: --timeout must be positive")
		return exitUsage
	}
	var keys scanner.KeyResolver
	if *keysFile != "" {
		ks, err := loadKeys(*keysFile)
		if err != nil {
			fmt.Fprintf(stderr, "pedigree scan: %v\n", err)
			return exitUsage
		}
		keys = ks
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	code := exitOK
	for _, name := range fs.Args() {
		line := scanFile(name, stdin, keys, *timeout)
		if !line.OK {
			code = exitError
		}
		if err := enc.Encode(line); err != nil {
			fmt.Fprintf(stderr, "pedigree scan: %v\n", err)
			return exitError
		}
	}
	return code
}

func loadKeys(path string) (*scanner.KeySet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	list, err := scanner.ReadPublicKeys(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return scanner.NewKeySet(list...)
}

func scanFile(name string, stdin io.Reader, keys scanner.KeyResolver, timeout time.Duration) scanLine {
	line := scanLine{File: name}
	var r io.Reader
	if name == "-" {
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			line.Error = err.Error()
			return line
		}
		defer f.Close()
		r = f
	}
	ctx := context.Background()
	res, err := scanner.Decode(ctx, r, scanner.Options{Timeout: timeout})
	if res != nil {
		line.Symbology, line.Text = res.Symbology, res.Data()
	}
	if err != nil {
		line.Error = err.Error()
		return line
	}
	line.OK, line.HRI, line.AIs = true, res.HRI(), res.Elements
	if keys != nil {
		v, err := scanner.Verify(ctx, res.Elements, keys)
		if err != nil {
			line.OK, line.Error = false, err.Error()
			return line
		}
		line.Signature = &v
	}
	return line
}

// jsonLine is v as one line of JSON.
func jsonLine(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return b.Bytes(), err
}
