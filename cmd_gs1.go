package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// maxScanLine bounds one input line of "gs1 parse"; a longer line is
// reported invalid and skipped, so one bad line cannot exhaust memory.
const maxScanLine = 64 << 10

func runGS1(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, "Usage: pedigree gs1 parse [--escapes] < scans\n\n"+
			"Reads one scan per line (element string with ]d2 and GS separators,\n"+
			"bracketed (01)... form, or GS1 Digital Link URI) and writes one JSON\n"+
			"object per line: {\"input\",\"valid\",\"ais\",\"hri\"} or {\"input\",\"valid\":false,\"error\"}.\n"+
			"\"hri\" is the bracketed form, a \"(\" in a value written \"\\(\", so it parses back\n"+
			"to the same AIs.\n")
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	switch args[0] {
	case "parse":
		return runGS1Parse(args[1:], stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "pedigree gs1: unknown command %q (try: parse)\n", args[0])
	return exitUsage
}

func runGS1Parse(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gs1 parse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	escapes := fs.Bool("escapes", false, `read \x1d and \u001d in the input as the GS separator`)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: pedigree gs1 parse [--escapes] < scans\n\n"+
			"Writes one JSON object per input line. Invalid scans are reported in the\n"+
			"output, not by the exit code, which is non-zero only for I/O or usage errors.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pedigree gs1 parse: unexpected argument %q: scans are read from stdin\n", fs.Arg(0))
		return exitUsage
	}
	if err := parseScans(stdin, stdout, *escapes); err != nil {
		fmt.Fprintf(stderr, "pedigree gs1 parse: %v\n", err)
		return exitError
	}
	return exitOK
}

// parseScans streams lines from r to JSON lines on w.
func parseScans(r io.Reader, w io.Writer, escapes bool) error {
	in := bufio.NewReaderSize(r, 256<<10)
	out := bufio.NewWriterSize(w, 256<<10)
	buf := make([]byte, 0, 512)
	for {
		line, tooLong, err := readLine(in)
		if len(line) > 0 || tooLong || err == nil {
			buf = appendParseResult(buf[:0], line, tooLong, escapes)
			if _, werr := out.Write(buf); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return out.Flush()
}

// readLine returns the next line without its line ending. A line longer
// than maxScanLine is consumed and reported with tooLong set.
func readLine(r *bufio.Reader) (line string, tooLong bool, err error) {
	var long []byte
	for {
		chunk, err := r.ReadSlice('\n')
		switch {
		case tooLong:
		case len(long)+len(chunk) > maxScanLine+2: // +2 for "\r\n"
			tooLong, long = true, nil
		case err == bufio.ErrBufferFull || long != nil:
			long = append(long, chunk...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if tooLong {
			return "", true, err
		}
		if long != nil {
			chunk = long
		}
		chunk = bytes.TrimSuffix(chunk, []byte("\n"))
		chunk = bytes.TrimSuffix(chunk, []byte("\r"))
		return string(chunk), false, err
	}
}

var escapeReplacer = strings.NewReplacer(`\x1d`, "\x1d", `\x1D`, "\x1d", `\u001d`, "\x1d", `\u001D`, "\x1d")

func appendParseResult(b []byte, input string, tooLong, escapes bool) []byte {
	b = append(b, `{"input":`...)
	b = appendJSONString(b, input)
	if tooLong {
		b = append(b, `,"valid":false,"error":`...)
		b = appendJSONString(b, fmt.Sprintf("line longer than %d bytes", maxScanLine))
		return append(b, "}\n"...)
	}
	text := input
	if escapes {
		text = escapeReplacer.Replace(text)
	}
	es, err := gs1.ParseScan(text)
	if err != nil {
		b = append(b, `,"valid":false,"error":`...)
		b = appendJSONString(b, err.Error())
		return append(b, "}\n"...)
	}
	b = append(b, `,"valid":true,"ais":[`...)
	for i, e := range es {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"ai":`...)
		b = appendJSONString(b, e.AI)
		b = append(b, `,"value":`...)
		b = appendJSONString(b, e.Value)
		b = append(b, '}')
	}
	b = append(b, `],"hri":`...)
	b = appendJSONString(b, es.HRI())
	return append(b, "}\n"...)
}

// appendJSONString appends s as a JSON string, escaping as encoding/json
// does (control characters, quotes, backslashes, <, >, &, and invalid UTF-8
// as U+FFFD), without its reflection cost on this hot path.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
