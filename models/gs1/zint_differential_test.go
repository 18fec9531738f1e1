package gs1

import (
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// sampleValues returns the canned valid content of each check, so that a
// valid value can be built for any AI from its components.
var sampleValues = map[string]string{
	"yymmd0": "261200", "yymmdd": "261231", "yyyymmdd": "20261231", "hh": "12", "mi": "30", "ss": "45",
	"hhmi": "1230", "iso3166": "276", "iso3166999": "999", "iso3166alpha2": "DE", "iso4217": "978",
	"iso5218": "1", "latitude": "0900000000", "longitude": "1800000000", "hyphen": "-", "yesno": "1",
	"zero": "0", "winding": "1", "pieceoftotal": "0102", "posinseqslash": "1/2", "mediatype": "01",
	"importeridx": "A", "iban": "GB82WEST12345698765432", "packagetype": "BX",
	"couponcode": "0123456123456111101231101123456", "couponposoffer": "001234561234560123456",
	"csumalpha": "1987654Ad4X4bL5ttr2310c2K",
}

// validValue builds a value of d that passes every check, or "" when the
// checks' canned samples do not fit the component lengths.
func validValue(d *AIDef, rng *rand.Rand) string {
	var b strings.Builder
	for _, c := range d.Components {
		if c.Optional && rng.Intn(2) == 0 {
			break
		}
		part := ""
		for _, name := range c.Checks {
			if s, ok := sampleValues[name]; ok {
				part = s
			}
		}
		if part == "" {
			n := c.Min + rng.Intn(c.Max-c.Min+1)
			alphabet := map[Charset]string{Numeric: "0123456789", CSET82: cset82, CSET39: cset39, CSET64: cset64}[c.Charset]
			bs := make([]byte, n)
			for i := range bs {
				bs[i] = alphabet[rng.Intn(len(alphabet))]
			}
			if n >= 5 { // room for a company prefix
				copy(bs, "95060")
			}
			for _, name := range c.Checks {
				switch name {
				case "csum":
					bs[n-1] = byte('0' + CheckDigit(string(bs[:n-1])))
				case "nonzero", "nozeroprefix":
					bs[0] = '1'
				case "hasnondigit":
					bs[n-1] = 'A'
				case "pcenc":
					for i := range bs {
						if bs[i] == '%' {
							bs[i] = 'P'
						}
					}
				}
			}
			part = string(bs)
		}
		if len(part) < c.Min || len(part) > c.Max {
			return ""
		}
		b.WriteString(part)
	}
	return b.String()
}

// mutate returns variants of v that are often invalid: a changed
// character, a dropped or an added one, swapped neighbours.
func mutate(v string, rng *rand.Rand) []string {
	out := []string{v[:len(v)-1], v + "1"}
	bs := []byte(v)
	i := rng.Intn(len(bs))
	bs[i] = "0123456789AZaz/%=-_ "[rng.Intn(20)]
	out = append(out, string(bs))
	if len(v) > 1 {
		bs = []byte(v)
		j := rng.Intn(len(bs) - 1)
		bs[j], bs[j+1] = bs[j+1], bs[j]
		out = append(out, string(bs))
	}
	return out
}

type zintVerdict int

const (
	zintValid zintVerdict = iota
	zintInvalid
	zintUnknownAI
)

// zintCheck asks zint, built from the GS1 Syntax Dictionary's linters, to
// encode one element as GS1 DataMatrix with warnings as errors.
func zintCheck(t *testing.T, ai, v string) zintVerdict {
	cmd := exec.Command("zint", "-b", "71", "--gs1", "--werror", "--dump", "-d", "["+ai+"]"+v)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return zintValid
	}
	if strings.Contains(string(out), "Invalid AI") {
		return zintUnknownAI
	}
	if _, ok := err.(*exec.ExitError); !ok {
		t.Fatalf("zint: %v", err)
	}
	return zintInvalid
}

// TestAgreesWithZintOnElementContent compares our verdict on each AI's
// content with zint's, an independent implementation of the GS1 Syntax
// Dictionary's linters, over generated valid values and their mutations.
func TestAgreesWithZintOnElementContent(t *testing.T) {
	if _, err := exec.LookPath("zint"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("zint is not installed; .ci/run installs Debian's zint")
		}
		t.Skip("zint not installed (apt-get install zint)")
	}
	type job struct{ ai, v string }
	rng := rand.New(rand.NewSource(20261121))
	var jobs []job
	for _, d := range AIs() {
		v := validValue(d, rng)
		if v == "" {
			continue
		}
		jobs = append(jobs, job{d.AI, v})
		for _, m := range mutate(v, rng) {
			if m != "" && !strings.ContainsAny(m, "[]") {
				jobs = append(jobs, job{d.AI, m})
			}
		}
	}
	var (
		mu               sync.Mutex
		compared, agreed int
		unknown          = map[string]bool{}
	)
	work := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				ours := checkValue(j.ai, j.v) == nil
				theirs := zintCheck(t, j.ai, j.v)
				mu.Lock()
				if theirs == zintUnknownAI {
					unknown[j.ai] = true
				} else {
					compared++
					if ours == (theirs == zintValid) {
						agreed++
					} else {
						t.Errorf("AI (%s) %q: ours valid=%v, zint valid=%v (ours: %v)", j.ai, j.v, ours, theirs == zintValid, checkValue(j.ai, j.v))
					}
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	t.Logf("compared %d values with zint, agreed on %d; %d AIs unknown to this zint", compared, agreed, len(unknown))
	if compared < 1000 {
		t.Errorf("only %d comparisons: the generator is broken", compared)
	}
}
