package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pedigree-ledger/pedigree/models/gs1"
	"github.com/pedigree-ledger/pedigree/scanner"
)

func runLabel(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("label", flag.ContinueOnError)
	fs.SetOutput(stderr)
	gtin := fs.String("gtin", "", "GTIN-8/12/13/14 of the product (AI 01)")
	serial := fs.String("serial", "", "serial number (AI 21)")
	lot := fs.String("lot", "", "batch/lot (AI 10)")
	expiry := fs.String("expiry", "", "expiry date YYMMDD (AI 17); DD=00 means end of month")
	keyFile := fs.String("key", "", "private key from 'pedigree keygen' to sign the code (AI 8030)")
	unsigned := fs.Bool("unsigned", false, "print without a signature (no --key)")
	out := fs.String("out", "", "output file (.png or .svg), or - for standard output")
	format := fs.String("format", "", "png or svg (default: from the --out extension, else png)")
	module := fs.Int("module", 4, "module size in pixels (PNG) or units (SVG)")
	quiet := fs.Int("quiet", 2, "quiet zone in modules")
	noText := fs.Bool("no-text", false, "leave out the human-readable text")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: pedigree label --gtin G --serial S --lot L --expiry YYMMDD --key FILE --out FILE\n\n"+
			"Prints a pack's GS1 DataMatrix (FNC1 first; AIs 01, 17, 10, 21 and the DigSig\n"+
			"8030) as PNG or SVG with the human-readable text under the symbol, and writes\n"+
			"the code's bracketed form to standard output (a \"(\" in a value written \"\\(\",\n"+
			"so that it parses back to the same code).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	usageErr := func(msg string) int {
		fmt.Fprintf(stderr, "pedigree label: %s\n", msg)
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		return usageErr(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case *gtin == "" || *serial == "" || *lot == "" || *expiry == "":
		return usageErr("--gtin, --serial, --lot and --expiry are required")
	case *out == "":
		return usageErr("--out is required")
	case *keyFile == "" && !*unsigned:
		return usageErr("--key is required (or --unsigned)")
	case *keyFile != "" && *unsigned:
		return usageErr("--key and --unsigned exclude each other")
	}
	f := strings.ToLower(*format)
	if f == "" {
		f = "png"
		if strings.EqualFold(filepath.Ext(*out), ".svg") {
			f = "svg"
		}
	}
	if f != "png" && f != "svg" {
		return usageErr(fmt.Sprintf("--format %q: want png or svg", *format))
	}
	g, err := gs1.NormalizeGTIN(*gtin)
	if err != nil {
		fmt.Fprintf(stderr, "pedigree label: %v\n", err)
		return exitError
	}
	es := gs1.ElementString{{AI: "01", Value: g}, {AI: "17", Value: *expiry}, {AI: "10", Value: *lot}, {AI: "21", Value: *serial}}
	if err := es.Validate(); err != nil {
		fmt.Fprintf(stderr, "pedigree label: %v\n", err)
		return exitError
	}
	text := labelText(es)
	if *keyFile != "" {
		pem, err := os.ReadFile(*keyFile)
		if err != nil {
			fmt.Fprintf(stderr, "pedigree label: %v\n", err)
			return exitError
		}
		key, err := scanner.ParsePrivateKeyPEM(pem)
		if err != nil {
			fmt.Fprintf(stderr, "pedigree label: %s: %v\n", *keyFile, err)
			return exitError
		}
		if es, err = key.Sign(es); err != nil {
			fmt.Fprintf(stderr, "pedigree label: %v\n", err)
			return exitError
		}
	}
	sym, err := scanner.EncodeGS1(es.Raw(), scanner.ShapeSquare)
	if err != nil {
		fmt.Fprintf(stderr, "pedigree label: %v\n", err)
		return exitError
	}
	opts := scanner.RenderOptions{ModuleSize: *module, QuietZone: *quiet}
	if !*noText {
		opts.Text = text
	}
	var buf bytes.Buffer
	if f == "svg" {
		err = sym.WriteSVG(&buf, opts)
	} else {
		err = sym.WritePNG(&buf, opts)
	}
	if err != nil {
		fmt.Fprintf(stderr, "pedigree label: %v\n", err)
		return exitUsage
	}
	if *out == "-" {
		_, err = stdout.Write(buf.Bytes())
	} else {
		err = os.WriteFile(*out, buf.Bytes(), 0o644)
	}
	if err != nil {
		fmt.Fprintf(stderr, "pedigree label: %v\n", err)
		return exitError
	}
	if *out != "-" {
		fmt.Fprintln(stdout, es.HRI())
	}
	return exitOK
}

// labelText is the human-readable text printed under a pack's symbol: one
// line per AI, the way EU FMD packs show GTIN, SN, batch and expiry. The
// signature is machine data and is not printed. Values are shown as they
// are: one to a line, a "(" in them cannot be taken for an AI, so unlike
// the HRI on standard output they need no escape.
func labelText(es gs1.ElementString) []string {
	names := map[string]string{"01": "GTIN", "21": "SN", "10": "LOT", "17": "EXP"}
	var lines []string
	for _, e := range es {
		lines = append(lines, fmt.Sprintf("(%s) %s %s", e.AI, names[e.AI], e.Value))
	}
	return lines
}
