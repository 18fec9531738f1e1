package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/pedigree-ledger/pedigree/scanner"
)

func runKeygen(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	alg := fs.String("alg", string(scanner.Ed25519), "signature algorithm: ed25519 or ecdsa-p256")
	out := fs.String("out", "", "path prefix: writes PREFIX.key (private, mode 0600) and PREFIX.pub.json")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: pedigree keygen --out PREFIX [--alg ed25519|ecdsa-p256]\n\n"+
			"Makes a manufacturer signing key for signed GS1 DataMatrix codes (AI 8030).\n"+
			"Writes the private key as PKCS#8 PEM to PREFIX.key (mode 0600) and the public\n"+
			"key as JSON {\"key_id\",\"algorithm\",\"public_key\"} to PREFIX.pub.json, for\n"+
			"registering on the ledger and for 'pedigree scan --keys'. Prints the key id.\n"+
			"Existing files are never overwritten.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "pedigree keygen: --out PREFIX is required and takes no other arguments")
		return exitUsage
	}
	key, err := scanner.GenerateKey(scanner.Algorithm(*alg), nil)
	if err != nil {
		fmt.Fprintf(stderr, "pedigree keygen: %v\n", err)
		return exitUsage
	}
	priv, err := key.MarshalPEM()
	if err != nil {
		fmt.Fprintf(stderr, "pedigree keygen: %v\n", err)
		return exitError
	}
	pub, err := jsonLine(key.Public())
	if err != nil {
		fmt.Fprintf(stderr, "pedigree keygen: %v\n", err)
		return exitError
	}
	if err := writeNew(*out+".key", priv, 0o600); err != nil {
		fmt.Fprintf(stderr, "pedigree keygen: %v\n", err)
		return exitError
	}
	if err := writeNew(*out+".pub.json", pub, 0o644); err != nil {
		os.Remove(*out + ".key")
		fmt.Fprintf(stderr, "pedigree keygen: %v\n", err)
		return exitError
	}
	fmt.Fprintln(stdout, key.Public().ID)
	return exitOK
}

// parseFlags parses and handles --help (usage on stdout, exit 0). A bad
// flag is one line on stderr and exit 2. done says the command should
// return code at once.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, done bool) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(stdout)
			fs.Usage()
			return exitOK, true
		}
	}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, true
		}
		fmt.Fprintf(stderr, "pedigree %s: %v (see pedigree %s --help)\n", fs.Name(), err, fs.Name())
		return exitUsage, true
	}
	return 0, false
}

// writeNew creates a file that must not exist yet, so a key is never
// silently replaced.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
