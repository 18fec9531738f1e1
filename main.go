// Command pedigree is the Pedigree pharmaceutical supply-chain ledger: one
// binary whose subcommands run a ledger node, back its ledger up, seed a
// demo network, parse and scan GS1 codes, make signing keys and print
// signed labels.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// subcommand is one verb of the pedigree binary. run gets the arguments after
// the verb and returns the process exit code.
type subcommand struct {
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// Exit codes shared by every subcommand.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed (bad input, I/O)
	exitUsage = 2 // the command line itself is wrong
)

func subcommands() map[string]subcommand {
	return map[string]subcommand{
		"backup": {"take a checked backup of a cluster's ledger", runBackup},
		"bench":  {"measure throughput on this machine", runBench},
		"demo":   {"run a one-node ledger seeded with the demo network", runDemo},
		"gs1":    {"parse and check GS1 barcode data", runGS1},
		"keygen": {"make a manufacturer key for signed codes", runKeygen},
		"label":  {"print a pack's signed GS1 DataMatrix as PNG or SVG", runLabel},
		"scan":   {"decode GS1 DataMatrix images and check signatures", runScan},
		"serve":  {"run a ledger node (bootstrap or join a cluster)", runServe},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole program, kept apart from main so tests can call it.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmds := subcommands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(cmds, stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "pedigree: unknown command %q (see pedigree --help)\n", args[0])
		return exitUsage
	}
	return cmd.run(args[1:], stdin, stdout, stderr)
}

func usage(cmds map[string]subcommand, w io.Writer) {
	fmt.Fprint(w, "Pedigree: a replicated, tamper-evident ledger for serialized medicine packs.\n\n"+
		"Usage: pedigree <command> [flags]\n\nCommands:\n")
	writeSummaries(w, cmds, func(c subcommand) string { return c.summary })
	fmt.Fprint(w, "\nRun 'pedigree <command> --help' for a command's flags.\n")
}

// writeSummaries lists the entries of m in name order, one "name summary"
// line each, for the help of commands that have sub-targets.
func writeSummaries[T any](w io.Writer, m map[string]T, summary func(T) string) {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-8s %s\n", name, summary(m[name]))
	}
}
