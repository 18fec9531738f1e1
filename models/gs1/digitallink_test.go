package gs1

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

const dlGTIN = "https://id.gs1.org/01/09506000134352"

// wantDLError checks that ParseDigitalLink refuses uri with an *Error whose
// reason holds reason.
func wantDLError(t *testing.T, uri, reason string) {
	t.Helper()
	es, err := ParseDigitalLink(uri)
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Reason, reason) {
		t.Fatalf("ParseDigitalLink(%.60q... %d bytes) = %v, %v; want an error saying %q", uri, len(uri), es.HRI(), err, reason)
	}
}

// TestDigitalLinkLengthBound pins that a URI over MaxDigitalLinkLen is
// refused, however its path looks, and one of exactly that length is read.
// The hostile input is the resolver's: a megabyte of "/10/a" pairs, which
// took minutes when the path was walked in quadratic time.
func TestDigitalLinkLengthBound(t *testing.T) {
	wantDLError(t, dlGTIN+strings.Repeat("/10/a", 200_000), "more than the 4096 allowed")
	wantDLError(t, dlGTIN+strings.Repeat("x", MaxDigitalLinkLen), "more than the 4096 allowed")

	// A long path prefix of the brand's own is no AI segment: up to the
	// bound, it is allowed.
	tail := "/01/09506000134352/10/L1/21/S1?17=281231"
	prefix := "https://brand.example/"
	uri := prefix + strings.Repeat("p", MaxDigitalLinkLen-len(prefix)-len(tail)) + tail
	if len(uri) != MaxDigitalLinkLen {
		t.Fatalf("test URI is %d bytes", len(uri))
	}
	es, err := ParseDigitalLink(uri)
	if err != nil || es.HRI() != "(01)09506000134352(10)L1(21)S1(17)281231" {
		t.Fatalf("URI of exactly the bound: %s, %v", es.HRI(), err)
	}
}

// TestDigitalLinkPathAISegmentsBound pins that the path is walked no
// further than a primary key and its longest qualifier sequence (three, for
// a GTIN: 22, 10, 21) reach, so the walk's work does not grow with the
// input.
func TestDigitalLinkPathAISegmentsBound(t *testing.T) {
	if got := theTable().maxDLQualifiers; got != 3 {
		t.Fatalf("longest qualifier sequence in the table: %d, want 3", got)
	}
	if _, err := ParseDigitalLink(dlGTIN + "/22/C/10/L/21/S"); err != nil {
		t.Fatalf("key and three qualifiers: %v", err)
	}
	wantDLError(t, dlGTIN+"/22/C/10/L/21/S/21/T", "at most 4 AI segments")
	// Just under the length bound, and all AI pairs: refused after four.
	many := dlGTIN + strings.Repeat("/10/a", (MaxDigitalLinkLen-len(dlGTIN))/5)
	wantDLError(t, many, "at most 4 AI segments")
	// A primary key further back than four pairs is a path prefix of the
	// brand's, not the key: the walk stops before reaching it.
	wantDLError(t, "https://a.example/01/09506000134352/10/a/10/b/10/c/10/d/10/e", "at most 4 AI segments")
}

// TestDigitalLinkDecodesQueryKeys: a percent-encoded unreserved character
// is the character (RFC 3986 §2.3), so "?%31%37=291231" carries AI (17).
// The key was taken for a non-AI before it was decoded, and the expiry
// silently dropped. Decoded, a key obeys every rule a plain one does.
func TestDigitalLinkDecodesQueryKeys(t *testing.T) {
	for uri, want := range map[string]string{
		dlGTIN + "/21/ABC?%31%37=291231":                     "(01)09506000134352(21)ABC(17)291231",
		dlGTIN + "/21/ABC?1%37=291231&%6C%69nkType=all":      "(01)09506000134352(21)ABC(17)291231",
		dlGTIN + "/10/L1/21/S1?%37%31%37=052-2022&17=291231": "(01)09506000134352(10)L1(21)S1(717)052-2022(17)291231",
	} {
		es, err := ParseDigitalLink(uri)
		if err != nil || es.HRI() != want {
			t.Errorf("%s: %s, %v; want %s", uri, es.HRI(), err, want)
		}
	}
	wantDLError(t, dlGTIN+"/21/ABC?%31%37=291231&17=291231", "appears more than once")
	wantDLError(t, dlGTIN+"/21/ABC?%31%30=L1", "belongs in the path")
	wantDLError(t, dlGTIN+"/21/ABC?%39%39%39=x", "unknown Application Identifier")
}

// TestDigitalLinkRefusesMalformedQueryEscapes: "%" must start an escape of
// two hex digits (RFC 3986 §2.1). A malformed one in a key could hide an
// AI, so the URI is refused wherever in the query it stands, and so for
// symmetry in a value, even of a parameter that is not an AI.
func TestDigitalLinkRefusesMalformedQueryEscapes(t *testing.T) {
	for _, query := range []string{
		"?%3=291231",                    // a key cut short
		"?%G17=291231",                  // no hex digits
		"?17%=291231",                   // "%" at the key's end
		"?17=2912%3",                    // an AI's value
		"?linkType=gs1%3Gpip&17=291231", // another parameter's value
		"?x%zz=1&17=291231",             // another parameter's key
	} {
		t.Run(query, func(t *testing.T) { wantDLError(t, dlGTIN+"/21/ABC"+query, "bad percent-encoding") })
	}
}

// TestFirstRepeatedAIIsLinear finds the one repeat among half a million
// elements, which a pairwise comparison would take minutes over.
func TestFirstRepeatedAIIsLinear(t *testing.T) {
	const n = 1 << 19
	es := make(ElementString, n, n+1)
	for i := range es {
		es[i] = Element{AI: fmt.Sprintf("x%07d", i), Value: "v"}
	}
	if i := firstRepeatedAI(es); i != -1 {
		t.Fatalf("no repeat, got index %d", i)
	}
	es = append(es, Element{AI: es[n/2].AI, Value: "w"})
	if i := firstRepeatedAI(es); i != n {
		t.Fatalf("repeat at %d, got index %d", n, i)
	}
	if i := firstRepeatedAI(ElementString{{AI: "01"}, {AI: "21"}, {AI: "01"}, {AI: "21"}}); i != 2 {
		t.Fatalf("first repeat at 2, got %d", i)
	}
}

// BenchmarkParseDigitalLink measures a pack's link and the worst input the
// bounds let through: a URI of nearly MaxDigitalLinkLen bytes of "/10/a"
// pairs.
func BenchmarkParseDigitalLink(b *testing.B) {
	for _, bc := range []struct{ name, uri string }{
		{"pack", dlGTIN + "/10/L1/21/S1?17=281231"},
		{"hostile-max-length", dlGTIN + strings.Repeat("/10/a", (MaxDigitalLinkLen-len(dlGTIN))/5)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ParseDigitalLink(bc.uri)
			}
		})
	}
}

// TestDigitalLinkReadsAShortGTINAsItsGTIN14: GS1 Digital Link takes a
// GTIN-8, GTIN-12 or GTIN-13 in the /01/ path (GS1's toolkit reads it as
// (\d{12,14}|\d{8})), and it is the GTIN-14 zero-padded on the left. The
// check digit is checked all the same, other lengths are refused, and the
// Digital Link written back carries the 14 digits.
func TestDigitalLinkReadsAShortGTINAsItsGTIN14(t *testing.T) {
	for _, c := range []struct{ link, want string }{
		{"https://id.gs1.org/01/9506000134352/10/L1/21/S1?17=281231", "(01)09506000134352(10)L1(21)S1(17)281231"}, // GTIN-13
		{"https://a.example/01/416000336108/21/S1", "(01)00416000336108(21)S1"},                                   // GTIN-12
		{"https://a.example/01/02345673", "(01)00000002345673"},                                                   // GTIN-8
		{"https://a.example/01/09506000134352/21/S1", "(01)09506000134352(21)S1"},                                 // GTIN-14
		{"https://a.example/8004/9520614141234567?01=9506000134352", "(8004)9520614141234567(01)09506000134352"},  // in the query
	} {
		es, err := ParseDigitalLink(c.link)
		if err != nil || es.HRI() != c.want {
			t.Errorf("%s: %s, %v; want %s", c.link, es.HRI(), err, c.want)
			continue
		}
		dl, err := es.DigitalLink("")
		gtin, _ := es.Get("01")
		if err != nil || !strings.Contains(dl, "/01/"+gtin) && !strings.Contains(dl, "01="+gtin) {
			t.Errorf("%s: written back as %q, %v; want the GTIN-14 %s", c.link, dl, err, gtin)
		}
	}
	// The ledger reads an EPC as its entries were judged (see
	// TestTheLedgerReadsAnEPCsQueryAsItAlwaysHas): a short GTIN in the
	// path stays refused there until a rules version says otherwise.
	if e, err := ParseEPC("https://id.gs1.org/01/9506000134352/21/S1"); err == nil {
		t.Errorf("ParseEPC took a GTIN-13 in the path: %+v", e)
	}
	for gtin, reason := range map[string]string{
		"9506000134353":   "check digit", // GTIN-13, wrong check digit
		"416000336109":    "check digit", // GTIN-12
		"02345674":        "check digit", // GTIN-8
		"0234567":         "too short",   // 7 digits
		"950600013":       "too short",   // 9
		"9506000134":      "too short",   // 10
		"95060001343":     "too short",   // 11
		"095060001343520": "too long",    // 15
		"950600013435X":   "",            // 13, not all digits
	} {
		wantDLError(t, "https://id.gs1.org/01/"+gtin+"/21/S1", reason)
	}
}

// TestTheLedgerReadsAnEPCsQueryAsItAlwaysHas: whether a capture is
// accepted, and its events' hash ids, depend on how its EPCs are read, so
// ParseEPC and CanonicalDigitalLink read a Digital Link's query as before
// the scan reading (ParseDigitalLink) learnt percent-encoded keys, refused
// malformed escapes in parameters that are not AIs, and learnt AI (717).
// Otherwise two binaries would judge the same entry differently.
func TestTheLedgerReadsAnEPCsQueryAsItAlwaysHas(t *testing.T) {
	for query, scanErr := range map[string]string{
		"?x=%zz":     "bad percent-encoding", // not an AI: ignored
		"?%31%30=L9": "belongs in the path",  // not an AI as written: ignored
	} {
		uri := dlGTIN + "/21/ABC" + query
		if e, err := ParseEPC(uri); err != nil || e.Kind != EPCSGTIN || e.SGTIN.Serial != "ABC" {
			t.Errorf("ParseEPC(%s): %+v, %v; the ledger has always taken it", uri, e, err)
		}
		if dl, err := CanonicalDigitalLink(uri); err != nil || dl != dlGTIN+"/21/ABC" {
			t.Errorf("CanonicalDigitalLink(%s): %q, %v", uri, dl, err)
		}
		wantDLError(t, uri, scanErr)
	}
	uri := dlGTIN + "/21/ABC?717=CR123"
	if _, err := ParseEPC(uri); err == nil || !strings.Contains(err.Error(), "unknown Application Identifier") {
		t.Errorf("ParseEPC(%s): %v; the ledger has always refused it", uri, err)
	}
	if _, err := CanonicalDigitalLink(uri); err == nil {
		t.Errorf("CanonicalDigitalLink(%s) took it", uri)
	}
	if es, err := ParseDigitalLink(uri); err != nil || len(es) != 3 {
		t.Errorf("ParseDigitalLink(%s): %v, %v", uri, es, err)
	}
	// In the path too: an AI it does not know ends the walk from the end,
	// with the message it always gave.
	uri = dlGTIN + "/717/X"
	if _, err := ParseEPC(uri); err == nil || !strings.Contains(err.Error(), "no GS1 Digital Link primary key") {
		t.Errorf("ParseEPC(%s): %v; the ledger has always found no key", uri, err)
	}
}

// TestTheAITableIsTheOneTheLedgerReadsBy: the ledger's reading of EPCs
// (parseLedgerDigitalLink) reads the AI table too, so an edit to the table
// can change which committed captures Apply accepts. The table differs
// from the one the ledger's entries were judged by (at 668cb4d, sha256
// 32a8553f...) only in ledgerUnknownAIs. Edit the table, then add every
// AI it newly knows to ledgerUnknownAIs (or give the ledger's reading a
// rules version), and only then this hash.
func TestTheAITableIsTheOneTheLedgerReadsBy(t *testing.T) {
	sum := sha256.Sum256([]byte(aiTableSource))
	if got, want := hex.EncodeToString(sum[:]), "f98377d7f11d00d66b7b8db69c7350325a2ceead86240af664dae95a09920ec6"; got != want {
		t.Fatalf("the AI table changed (sha256 %s, was %s): the ledger's reading of EPCs depends on it; see this test's comment", got, want)
	}
}

// TestEPCAttributesAreWhatALinkCarriesBesideItsKey: a pack's Digital Link
// may name its lot in the path and its expiry in the query; the EPC leaves
// them out, EPCAttributes gives them with the serial, read as ParseEPC
// reads the link. An EPC URI carries none.
func TestEPCAttributesAreWhatALinkCarriesBesideItsKey(t *testing.T) {
	for uri, want := range map[string]string{
		dlGTIN + "/10/L1/21/S1?17=281231&linkType=all": "(10)L1(21)S1(17)281231",
		dlGTIN + "/21/S1":                    "(21)S1",
		dlGTIN + "/21/S1?%31%37=281231":      "(21)S1", // not an AI as the ledger reads it
		"urn:epc:id:sgtin:9506000.013435.S1": "",
	} {
		es, err := EPCAttributes(uri)
		if err != nil || es.HRI() != want {
			t.Errorf("EPCAttributes(%s): %q, %v; want %q", uri, es.HRI(), err, want)
		}
	}
	if _, err := EPCAttributes(dlGTIN + "/10/L%201/21/S1"); err == nil {
		t.Error("a link with a lot AI (10) cannot carry was read")
	}
}
