package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestEveryCommandAnswersABadFlagInOneLine: a bad flag or flag value is
// exit 2 and one line on stderr, and --help is the usage on stdout with
// exit 0, for every subcommand.
func TestEveryCommandAnswersABadFlagInOneLine(t *testing.T) {
	for _, cmd := range [][]string{
		{"serve"}, {"demo"}, {"gs1", "parse"}, {"bench", "gs1"}, {"keygen"}, {"label"}, {"scan"}, {"backup"},
	} {
		name := strings.Join(cmd, " ")
		for _, bad := range [][]string{{"--bogus"}, {"--bogus=1", "x"}} {
			var out, errb bytes.Buffer
			code := run(append(append([]string{}, cmd...), bad...), strings.NewReader(""), &out, &errb)
			if code != exitUsage || strings.Count(errb.String(), "\n") != 1 || out.Len() != 0 {
				t.Errorf("%s %v: exit %d, stdout %q, stderr %q", name, bad, code, out.String(), errb.String())
			}
		}
		var out, errb bytes.Buffer
		if code := run(append(append([]string{}, cmd...), "--help"), strings.NewReader(""), &out, &errb); code != exitOK ||
			!strings.HasPrefix(out.String(), "Usage: pedigree "+name) || errb.Len() != 0 {
			t.Errorf("%s --help: exit %d, stdout %.60q, stderr %q", name, code, out.String(), errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"serve", "--join-timeout=xx"}, strings.NewReader(""), &out, &errb); code != exitUsage || strings.Count(errb.String(), "\n") != 1 {
		t.Errorf("serve --join-timeout=xx: exit %d, stderr %q", code, errb.String())
	}
}
