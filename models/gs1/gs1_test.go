package gs1

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, in string) ElementString {
	t.Helper()
	es, err := ParseScan(in)
	if err != nil {
		t.Fatalf("ParseScan(%q): %v", in, err)
	}
	return es
}

func TestAITableIsCompleteAndWellFormed(t *testing.T) {
	if _, err := parseAITable(aiTableSource); err != nil {
		t.Fatal(err)
	}
	// Spot checks against the GS1 General Specifications.
	for _, c := range []struct {
		ai         string
		predefined bool
		min, max   int
		cs         Charset
	}{
		{"00", true, 18, 18, Numeric}, {"01", true, 14, 14, Numeric}, {"17", true, 6, 6, Numeric},
		{"10", false, 1, 20, CSET82}, {"21", false, 1, 20, CSET82}, {"3103", true, 6, 6, Numeric},
		{"414", true, 13, 13, Numeric}, {"254", false, 1, 20, CSET82}, {"8010", false, 1, 30, CSET39},
		{"8030", false, 1, 90, CSET64}, {"99", false, 1, 90, CSET82}, {"7003", false, 10, 10, Numeric},
		{"253", false, 13, 30, Numeric}, {"714", false, 1, 20, CSET82}, {"7239", false, 3, 30, CSET82},
	} {
		d := LookupAI(c.ai)
		if d == nil {
			t.Errorf("AI %s missing", c.ai)
			continue
		}
		if d.Predefined != c.predefined || d.MinLength() != c.min || d.MaxLength() != c.max || d.Components[0].Charset != c.cs {
			t.Errorf("AI %s: predefined=%v len=%d..%d cs=%c; want %v %d..%d %c", c.ai, d.Predefined, d.MinLength(), d.MaxLength(), d.Components[0].Charset, c.predefined, c.min, c.max, c.cs)
		}
	}
	if n := len(AIs()); n < 500 {
		t.Errorf("only %d AIs in the table", n)
	}
	for _, ai := range []string{"05", "23", "1", "31", "8031", "9999"} {
		if LookupAI(ai) != nil {
			t.Errorf("AI %s should not exist", ai)
		}
	}
}

// TestNHRN717 pins AI (717), the NHRN of Costa Rica (Sanitary Register
// Number), as the GS1 Barcode Syntax Dictionary defines it: X..20 beside a
// GTIN, and a Digital Link attribute, like 710-716. A pack carrying it was
// refused as an unknown AI.
func TestNHRN717(t *testing.T) {
	d := LookupAI("717")
	if d == nil {
		t.Fatal("AI (717) missing")
	}
	if d.Predefined || d.MinLength() != 1 || d.MaxLength() != 20 || d.Components[0].Charset != CSET82 || !d.DLAttribute {
		t.Errorf("AI (717): %+v, want X..20, FNC1 after, a Digital Link attribute", d)
	}
	const pack = "(01)09506000134352(17)281231(10)LOT(21)X"
	for _, in := range []string{
		pack + "(717)052-20220012345",
		"]d201095060001343521728123110LOT\x1d21X\x1d717052-20220012345",
		"https://id.gs1.org/01/09506000134352/10/LOT/21/X?17=281231&717=052-20220012345",
	} {
		es, err := ParseScan(in)
		if v, _ := es.Get("717"); err != nil || v != "052-20220012345" {
			t.Errorf("%q: %v, %v", in, es, err)
		}
	}
	for in, reason := range map[string]string{
		"(717)052-20220012345":                   "requires AI (01)",
		pack + "(717)" + strings.Repeat("1", 21): "too long",
		pack + "(718)052-20220012345":            "unknown Application Identifier",
	} {
		if _, err := ParseScan(in); err == nil || !strings.Contains(err.Error(), reason) {
			t.Errorf("%q: %v, want an error saying %q", in, err, reason)
		}
	}
}

func TestCheckDigits(t *testing.T) {
	valid := []string{"96385074", "036000291452", "4006381333931", "09506000134352", "106141412345678908", "0614141123452", "5901234123457"}
	for _, k := range valid {
		if !ValidCheckDigit(k) {
			t.Errorf("%s should be valid", k)
		}
	}
	invalid := []string{"96385075", "036000291453", "4006381333932", "09506000134353", "106141412345678909", "", "1", "12a4", "0950600013435x"}
	for _, k := range invalid {
		if ValidCheckDigit(k) {
			t.Errorf("%s should be invalid", k)
		}
	}
	for in, want := range map[string]string{"96385074": "00000096385074", "036000291452": "00036000291452", "4006381333931": "04006381333931", "09506000134352": "09506000134352"} {
		got, err := NormalizeGTIN(in)
		if err != nil || got != want {
			t.Errorf("NormalizeGTIN(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"1234567", "4006381333932", "40063813339x1", "123456789012345"} {
		if _, err := NormalizeGTIN(in); err == nil {
			t.Errorf("NormalizeGTIN(%s) should fail", in)
		}
	}
}

func TestDates(t *testing.T) {
	ref := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want string // "" for invalid
	}{
		{"281231", "2028-12-31"},
		{"280200", "2028-02-29"}, // day 00: last day of month, leap year
		{"270200", "2027-02-28"},
		{"240229", "2024-02-29"},
		{"230229", ""},
		{"000229", "2000-02-29"}, // 2000 is a leap year
		{"261131", ""},
		{"261300", ""},
		{"260000", ""},
		{"2612", ""},
		{"76123a", ""},
		{"761231", "2076-12-31"}, // 50 years ahead: this century
		{"771231", "1977-12-31"}, // 51 years ahead: previous century
	}
	for _, c := range cases {
		got, err := ParseExpiry(c.in, ref)
		if c.want == "" {
			if err == nil {
				t.Errorf("ParseExpiry(%s) = %v, want error", c.in, got)
			} else if e := (*Error)(nil); !errors.As(err, &e) || e.AI != "17" {
				t.Errorf("ParseExpiry(%s) error %v does not name AI 17", c.in, err)
			}
			continue
		}
		if err != nil || got.Format("2006-01-02") != c.want {
			t.Errorf("ParseExpiry(%s) = %v, %v; want %s", c.in, got, err, c.want)
		}
	}
	for _, c := range []struct{ yy, ref, want int }{
		{26, 2026, 2026}, {76, 2026, 2076}, {77, 2026, 1977}, {99, 2026, 1999},
		{0, 2060, 2100}, {10, 2060, 2110}, {11, 2060, 2011}, {49, 1999, 2049}, {50, 1999, 1950},
	} {
		if got := CenturyYear(c.yy, c.ref); got != c.want {
			t.Errorf("CenturyYear(%d, %d) = %d, want %d", c.yy, c.ref, got, c.want)
		}
	}
}

func TestParseScanForms(t *testing.T) {
	const hri = "(01)09506000134352(17)281231(10)9876ABC(21)SER123"
	forms := []string{
		"]d2\x1d010950600013435217281231109876ABC\x1d21SER123",
		"]d2010950600013435217281231109876ABC\x1d21SER123",
		"]Q3010950600013435217281231109876ABC\x1d21SER123",
		"]C1010950600013435217281231109876ABC\x1d21SER123",
		"]e0010950600013435217281231109876ABC\x1d21SER123",
		"\x1d010950600013435217281231109876ABC\x1d21SER123",
		"010950600013435217281231109876ABC\x1d21SER123\r\n",
		"0109506000134352\x1d17281231\x1d109876ABC\x1d21SER123", // redundant separators
		"010950600013435217281231109876ABC{GS}21SER123",
		"010950600013435217281231109876ABC[GS]21SER123",
		"010950600013435217281231109876ABC^]21SER123",
		"^010950600013435217281231109876ABC^21SER123",
		"010950600013435217281231109876ABC\u241d21SER123",
		hri,
		"  " + hri + "\n",
		"https://id.gs1.org/01/09506000134352/10/9876ABC/21/SER123?17=281231",
		"HTTPS://brand.example/some/path/01/09506000134352/10/9876ABC/21/SER123?linkType=gs1:pip&17=281231",
		"Https://id.gs1.org/01/09506000134352/10/9876ABC/21/SER123?17=281231",
		"]Q1hTTP://id.gs1.org/01/09506000134352/10/9876ABC/21/SER123?17=281231",
		"]Q1https://example.com/01/09506000134352/10/9876ABC/21/SER123?17=281231#frag",
	}
	for _, f := range forms {
		es, err := ParseScan(f)
		if err != nil {
			t.Errorf("%q: %v", f, err)
			continue
		}
		got := map[string]string{}
		for _, e := range es {
			got[e.AI] = e.Value
		}
		want := map[string]string{"01": "09506000134352", "17": "281231", "10": "9876ABC", "21": "SER123"}
		for k, v := range want {
			if got[k] != v || len(got) != len(want) {
				t.Errorf("%q: got %v", f, es.HRI())
				break
			}
		}
	}
	if got := mustParse(t, forms[0]).HRI(); got != hri {
		t.Errorf("HRI = %s", got)
	}
}

// TestAngleBracketGSIsData pins that "<GS>" is not taken for a separator:
// its characters are all valid in a lot or serial.
func TestAngleBracketGSIsData(t *testing.T) {
	es := mustParse(t, "010950600013435210AB<GS>C")
	if v, _ := es.Get("10"); v != "AB<GS>C" {
		t.Errorf("lot = %q", v)
	}
}

func TestParseErrorsNameTheAI(t *testing.T) {
	cases := []struct {
		in, ai, reason string
	}{
		{"(01)09506000134353", "01", "check digit"},
		{"(01)0950600013435", "01", "too short"},
		{"(01)09506000134352(17)281332", "17", "month"},
		{"(01)09506000134352(17)280230", "17", "no such day"},
		{"(01)09506000134352(21)" + strings.Repeat("A", 21), "21", "too long"},
		{"(01)09506000134352(21)AB CD", "21", "not allowed"},
		{"(01)09506000134352(10)lot#1", "10", "not allowed"},
		{"(21)ABC", "21", "requires"},
		{"(17)281231", "17", "requires"},
		{"(01)09506000134352(02)09506000134352(37)1", "01", "must not appear"},
		{"(01)09506000134352(21)A(21)B", "21", "twice"},
		{"(8030)" + strings.Repeat("A", 86) + "(01)09506000134352", "8030", "requires"},
		{"(8030)" + strings.Repeat("A", 91) + "(01)09506000134352(21)1", "8030", "too long"},
		{"(254)1(414)0614141123452", "", ""},
		{"(3103)000123(3102)000456(01)09506000134352", "3103", "must not appear"},
		{"]d2" + "0109506000134352171", "17", "too short"},
		{"]d2" + "0109506000134352\x1d\x1d21X", "", "Application Identifier"},
		{"]d2", "", "no AI data"},
		{"]X9foo", "", "symbology"},
		{"]d", "", "truncated"},
		{"", "", "empty"},
		{"(99)", "99", "no value"},
		{"(0)123", "", "not an Application Identifier"},
		{"(2345)1", "2345", "unknown"},
		{"2345", "", "no Application Identifier starts"},
	}
	for _, c := range cases {
		_, err := ParseScan(c.in)
		if c.reason == "" {
			if err != nil {
				t.Errorf("%q: unexpected error %v", c.in, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: err = %v, want *Error", c.in, err)
			continue
		}
		if e.AI != c.ai || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%q: err = %q (AI %q), want AI %q and %q", c.in, err, e.AI, c.ai, c.reason)
		}
	}
}

func TestDigitalLink(t *testing.T) {
	valid := map[string]string{
		"https://id.gs1.org/01/09506000134352":                                "(01)09506000134352",
		"https://id.gs1.org/01/09506000134352/21/A%2FB%25C":                   "(01)09506000134352(21)A/B%C",
		"https://id.gs1.org/01/09506000134352/21/a+b":                         "(01)09506000134352(21)a+b",
		"https://id.gs1.org/01/09506000134352/21/1?17=281231&99=a%2Bb":        "(01)09506000134352(21)1(17)281231(99)a+b",
		"https://id.gs1.org/01/09506000134352/22/CPV/10/L1/21/S1":             "(01)09506000134352(22)CPV(10)L1(21)S1",
		"https://id.gs1.org/01/09506000134352/235/TPX1":                       "(01)09506000134352(235)TPX1",
		"https://id.gs1.org/00/106141412345678908":                            "(00)106141412345678908",
		"https://id.gs1.org/414/0614141123452/254/DOCK1":                      "(414)0614141123452(254)DOCK1",
		"https://a.example/01/09506000134352/21/1?17=281231&8030=AbC-_&x=1":   "(01)09506000134352(21)1(17)281231(8030)AbC-_",
		"https://a.example/shop/01/x/01/09506000134352/21/1":                  "(01)09506000134352(21)1",
		"http://a.example/01/09506000134352/10/L%201?linkType=all":            "",
		"https://id.gs1.org/01/09506000134352/10/L1?3103=000123&11=260101&x=": "(01)09506000134352(10)L1(3103)000123(11)260101",
		"HtTpS://id.gs1.org/01/09506000134352":                                "(01)09506000134352", // RFC 3986: any case
		"Http://id.gs1.org/01/09506000134352":                                 "(01)09506000134352",
	}
	for in, want := range valid {
		es, err := ParseDigitalLink(in)
		if want == "" {
			if err == nil {
				t.Errorf("%s: want error (space in lot), got %s", in, es.HRI())
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if es.HRI() != want {
			t.Errorf("%s: %s, want %s", in, es.HRI(), want)
		}
	}
	invalid := []string{
		"https://id.gs1.org/",
		"https://id.gs1.org",
		"https://id.gs1.org/foo/bar",
		"ftp://id.gs1.org/01/09506000134352",
		"https://id.gs1.org/01/09506000134352/21/S1/10/L1", // qualifier order
		"https://id.gs1.org/01/09506000134352/22/C/235/T",  // mixed alternatives
		"https://id.gs1.org/00/106141412345678908/21/S1",   // SSCC takes no qualifiers
		"https://id.gs1.org/01/09506000134352?21=S1",       // serial is not a data attribute
		"https://id.gs1.org/01/09506000134352?9999=1",      // unknown AI
		"https://id.gs1.org/01/09506000134352?17=",         // empty
		"https://id.gs1.org/01/09506000134352/21/%ZZ",      // bad escape
		"https://id.gs1.org/01/09506000134353",             // check digit
		"https://id.gs1.org/01/09506000134352?17=281231&17=290101",
		"https://id.gs1.org/01/09506000134352/21/1/",          // trailing slash
		"https://id.gs1.org/01/09506000134352/21/1?99=a+b",    // + is a space in a query
		"https://id$gs1.org/01/09506000134352",                // bad domain
		"https://id.gs1.org/01/09506000134352?10=L1",          // qualifier in the query
		"https://id.gs1.org/01/09506000134352/21/1?99=X&99=X", // repeated AI
	}
	for _, in := range invalid {
		if es, err := ParseDigitalLink(in); err == nil {
			t.Errorf("%s: want error, got %s", in, es.HRI())
		}
	}
}

func TestDigitalLinkRoundTrip(t *testing.T) {
	for _, in := range []string{
		"(01)09506000134352(17)281231(10)LOT/1&2(21)S?%&1",
		"(01)09506000134352(21)abc-._",
		"(00)106141412345678908",
		"(414)0614141123452(254)A1",
		"(01)09506000134352(10)L(21)S(8030)" + strings.Repeat("Ab-_", 22) + "Ab",
	} {
		es := mustParse(t, in)
		uri, err := es.DigitalLink("https://resolver.example/")
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		back, err := ParseDigitalLink(uri)
		if err != nil {
			t.Errorf("%s -> %s: %v", in, uri, err)
			continue
		}
		if !sameElements(es, back) {
			t.Errorf("%s -> %s -> %s", in, uri, back.HRI())
		}
	}
	if _, err := mustParse(t, "(01)09506000134352(21)1(8200)HTTP://X").DigitalLink(""); err == nil {
		t.Error("AI 8200 is no Digital Link attribute: want error")
	}
	if _, err := mustParse(t, "(99)ABC").DigitalLink(""); err == nil {
		t.Error("no primary key: want error")
	}
}

func sameElements(a, b ElementString) bool {
	if len(a) != len(b) {
		return false
	}
	for _, e := range a {
		if v, ok := b.Get(e.AI); !ok || v != e.Value {
			return false
		}
	}
	return true
}

func TestRawRoundTrip(t *testing.T) {
	es := mustParse(t, "(10)LOT1(01)09506000134352(21)S1(17)281231")
	raw := es.Raw()
	if raw != "10LOT1\x1d010950600013435221S1\x1d17281231" {
		t.Errorf("Raw() = %q", raw)
	}
	back, err := ParseScan("]d2" + raw)
	if err != nil || back.HRI() != es.HRI() {
		t.Errorf("round trip: %v %v", back.HRI(), err)
	}
}

func TestEPC(t *testing.T) {
	cases := []struct {
		uri  string
		kind EPCKind
		key  string // GTIN, SSCC or GLN
		more string // serial, lot or extension
	}{
		{"urn:epc:id:sgtin:0614141.812345.6789", EPCSGTIN, "80614141123458", "6789"},
		{"urn:epc:id:sgtin:9506000.013435.A%2FB.C", EPCSGTIN, "09506000134352", "A/B.C"},
		{"urn:epc:id:sscc:0614141.1234567890", EPCSSCC, "106141412345678908", ""},
		{"urn:epc:id:sgln:0614141.12345.400", EPCSGLN, "0614141123452", "400"},
		{"urn:epc:id:sgln:0614141.12345.0", EPCSGLN, "0614141123452", ""},
		{"urn:epc:class:lgtin:4012345.012345.998877", EPCLGTIN, "04012345123456", "998877"},
		{"urn:epc:idpat:sgtin:4012345.012345.*", EPCGTIN, "04012345123456", ""},
		{"https://id.gs1.org/01/09506000134352/21/S1", EPCSGTIN, "09506000134352", "S1"},
		{"https://id.gs1.org/01/09506000134352/10/L1", EPCLGTIN, "09506000134352", "L1"},
		{"https://id.gs1.org/00/106141412345678908", EPCSSCC, "106141412345678908", ""},
		{"https://id.gs1.org/414/0614141123452/254/400", EPCSGLN, "0614141123452", "400"},
		{"urn:epc:id:pgln:0614141.12345", EPCPGLN, "0614141123452", ""},
		{"https://id.gs1.org/417/0614141123452", EPCPGLN, "0614141123452", ""},
		{"urn:epc:id:giai:0614141.12345ABC.%2F1", EPCGIAI, "061414112345ABC./1", ""},
		{"https://id.gs1.org/8004/0614141ABC", EPCGIAI, "0614141ABC", ""},
	}
	for _, c := range cases {
		e, err := ParseEPC(c.uri)
		if err != nil {
			t.Errorf("%s: %v", c.uri, err)
			continue
		}
		var key, more string
		switch e.Kind {
		case EPCSGTIN:
			key, more = e.SGTIN.GTIN, e.SGTIN.Serial
		case EPCSSCC:
			key = string(e.SSCC)
		case EPCSGLN:
			key, more = string(e.SGLN.GLN), e.SGLN.Extension
		case EPCLGTIN, EPCGTIN:
			key, more = e.GTIN, e.Lot
		case EPCPGLN:
			key = string(e.PGLN)
		case EPCGIAI:
			key = e.GIAI
		}
		if e.Kind != c.kind || key != c.key || more != c.more {
			t.Errorf("%s: %+v", c.uri, e)
		}
	}
	for _, bad := range []string{
		"urn:epc:id:sgtin:0614141.81234.6789",                // 12 digits
		"urn:epc:id:sgtin:06141.8123456.6789",                // prefix too short
		"urn:epc:id:sgtin:0614141.812345",                    // no serial
		"urn:epc:id:sgtin:0614141.812345.a b",                // space in serial
		"urn:epc:id:sscc:0614141.123456789",                  // 16 digits
		"urn:epc:idpat:sgtin:4012345.012345.1",               // not a pattern
		"urn:epc:id:giai:0614141",                            // no asset reference
		"urn:epc:id:giai:06141.1",                            // prefix too short
		"urn:epc:id:giai:0614141." + strings.Repeat("1", 24), // longer than 30
		"urn:epc:id:pgln:0614141.1234",                       // 11 digits
		"urn:epc:id:grai:0614141.12345.1",                    // not tracked
		"https://id.gs1.org/8003/006141411234521",
		"09506000134352",
	} {
		if e, err := ParseEPC(bad); err == nil {
			t.Errorf("%s: want error, got %+v", bad, e)
		}
	}
	s := SGTIN{GTIN: "80614141123458", Serial: "A/B"}
	if uri, err := s.EPCURI(7); err != nil || uri != "urn:epc:id:sgtin:0614141.812345.A%2FB" {
		t.Errorf("EPCURI = %s, %v", uri, err)
	}
	if back, err := ParseEPC(mustURI(t)(s.EPCURI(7))); err != nil || back.SGTIN != s {
		t.Errorf("SGTIN round trip: %+v %v", back, err)
	}
	if uri, err := SSCC("106141412345678908").EPCURI(7); err != nil || uri != "urn:epc:id:sscc:0614141.1234567890" {
		t.Errorf("SSCC EPCURI = %s, %v", uri, err)
	}
	if uri, err := (SGLN{GLN: "0614141123452"}).EPCURI(7); err != nil || uri != "urn:epc:id:sgln:0614141.12345.0" {
		t.Errorf("SGLN EPCURI = %s, %v", uri, err)
	}
	if uri, err := LGTINURI("04012345123456", "998877", 7); err != nil || uri != "urn:epc:class:lgtin:4012345.012345.998877" {
		t.Errorf("LGTINURI = %s, %v", uri, err)
	}
	if _, err := s.EPCURI(13); err == nil {
		t.Error("prefix length 13: want error")
	}
	if got := s.DigitalLink(); got != "https://id.gs1.org/01/80614141123458/21/A%2FB" {
		t.Errorf("DigitalLink = %s", got)
	}
}

func mustURI(t *testing.T) func(string, error) string {
	return func(s string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func TestErrorMessagesStayShortForHugeInput(t *testing.T) {
	for _, in := range []string{
		"(01)09506000134352(21)" + strings.Repeat("A", 100000),
		"]d2" + strings.Repeat("9", 100000),
		"https://id.gs1.org/01/09506000134352/21/" + strings.Repeat("%Z", 50000),
		"urn:epc:id:sgtin:" + strings.Repeat("1", 100000),
	} {
		_, err := ParseScan(in)
		if strings.HasPrefix(in, "urn:") {
			_, err = ParseEPC(in)
		}
		if err == nil || len(err.Error()) > 200 {
			t.Errorf("error for %d-byte input: %d bytes", len(in), len(fmt.Sprint(err)))
		}
	}
}

func TestUnderCompanyPrefix(t *testing.T) {
	for _, tc := range []struct {
		gtin     string
		prefixes []string
		want     bool
	}{
		{"04012345000016", []string{"4012345"}, true},
		{"14012345000013", []string{"5012345", "4012345"}, true}, // the indicator digit is not part of it
		{"04012345000016", []string{"0401234"}, false},
		{"04012345000016", []string{"4012346"}, false},
		{"04012345000016", nil, false},
		{"04012345000016", []string{""}, false},
		{"4012345000016", []string{"4012345"}, false}, // AI (01) holds GTIN-14
	} {
		if got := UnderCompanyPrefix(tc.gtin, tc.prefixes); got != tc.want {
			t.Errorf("UnderCompanyPrefix(%s, %q) = %v, want %v", tc.gtin, tc.prefixes, got, tc.want)
		}
	}
}
