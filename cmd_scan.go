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
	keysFile := fs.String("keys", "", "public keys to check signatures (AI 8030) with: JSON {\"key_id\",\"algorithm\",\"public_key\"}\n"+
		"as 'pedigree keygen' writes it, optionally with the owner's \"org_id\" and company \"prefixes\"; one or more")
	timeout := fs.Duration("timeout", scanner.DefaultTimeout, "time limit per image across all retries")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: pedigree scan [--keys FILE] [--timeout D] FILE...\n\n"+
			"Decodes GS1 DataMatrix (and GS1 Digital Link QR) codes in PNG, JPEG or GIF\n"+
			"images; FILE - reads standard input. Writes one JSON line per file:\n"+
			"  {\"file\",\"ok\":true,\"symbology\",\"text\",\"hri\",\"ais\",\"signature\"}\n"+
			"  {\"file\",\"ok\":false,\"error\"}\n"+
			"\"text\" is the data after the symbology identifier, with GS (\\u001d) between\n"+
			"fields. \"hri\" is the bracketed form, a \"(\" in a value written \"\\(\", so it\n"+
			"parses back to the same AIs. \"signature\" is there with --keys: status valid,\n"+
			"missing, invalid, malformed or unknown_key, with \"key_owner\" when the key\n"+
			"file names one.\n"+
			"Exit status 1 when some file could not be read.\n\n"+
			"What an offline check proves: \"valid\" means a key in the file signed exactly\n"+
			"this data. Whether that key is the product's manufacturer's, the file can\n"+
			"only say through the owner's GS1 company prefixes: a key listed with\n"+
			"\"prefixes\":[\"4012345\",...] (the owner's prefixes, as the ledger registers\n"+
			"them; \"org_id\" names the owner) is valid only on GTINs under one of them,\n"+
			"and invalid on any other. A key listed without prefixes, as 'pedigree keygen'\n"+
			"writes it, is accepted on every GTIN, so a code signed with one company's key\n"+
			"for another company's product is \"valid\" here; scan warns about such keys.\n"+
			"The file is trusted as it stands: whoever writes it decides which key may\n"+
			"sign which GTINs. The ledger's verify (POST /api/v1/verify) needs no such\n"+
			"file: it accepts a signature only by a key the product's manufacturer\n"+
			"registered.\n\nFlags:\n")
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
		ks, open, err := loadKeys(*keysFile)
		if err != nil {
			fmt.Fprintf(stderr, "pedigree scan: %v\n", err)
			return exitUsage
		}
		if open > 0 {
			fmt.Fprintf(stderr, "pedigree scan: warning: %d of the %d keys in %s list no company prefixes; "+
				"their signatures are valid on any GTIN, whoever makes it (see pedigree scan --help)\n", open, ks.Len(), *keysFile)
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

// loadKeys reads a key file into a set; open counts the keys that list no
// company prefixes, which the set accepts on any GTIN.
func loadKeys(path string) (ks *scanner.KeySet, open int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	list, err := scanner.ReadPublicKeys(f)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	ks, err = scanner.NewKeySet(list...)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	seen := map[string]bool{}
	for _, k := range list {
		if len(k.Prefixes) == 0 && !seen[k.ID] {
			open++
		}
		seen[k.ID] = true
	}
	return ks, open, nil
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
