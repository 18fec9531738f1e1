package gs1

import (
	"strings"
	"testing"
)

// TestAgreesWithSyntaxEngineVectors replays the cases the GS1 Barcode
// Syntax Engine's own test suite uses for its AI parser and linters, with
// the engine's verdict. The engine's unbracketed syntax writes FNC1 as "^",
// which ParseScan also reads as a separator. Associations between AIs are
// not part of these cases (the engine tests them apart), so only the
// structure and each element's content are compared.
func TestAgreesWithSyntaxEngineVectors(t *testing.T) {
	cases := []struct {
		in    string
		valid bool
	}{
		// Bracketed parsing.
		{"(3100)123456(10)12345", true},
		{"(10)12345(11)991225", true},
		{"(3900)12345(11)991225", true},
		{`(10)12345\(11)991225`, true},
		{`(10)12345\(`, true},
		{"(10)(11)98765", false},
		{"(10)12345(11)", false},
		{"(1A)12345", false},
		{"()12345", false},
		{"(1)12345", false},
		{"(12345)12345", false},
		{"(15", false},
		{"(1", false},
		{"(", false},
		{"(01)123456789012312(10)12345", false},
		{"(10)12345^", false},
		{"(17)9(90)217", false},
		// Linters, through a real AI each.
		{"(00)123456789012345675", true},
		{"(00)A23456789012345675", false},
		{"(10) ", false},
		{"(8010)123456_", false},
		{"(8030)ABC:123", false},
		{"(8030)123=", false},
		{"(00)123456789012345670", false},
		{"(8013)123456ABXX", false},
		{"(8013)A", false},
		{"(401)123", false},
		{"(7023)12A4", false},
		{"(7040)1AB=", false},
		{"(8001)12340000012311", false},
		{"(8003)112345678901281234567890123456", false},
		{"(8011)023456789012", false},
		{"(4321)2", false},
		{"(8001)12341234512321", false},
		{"(426)987", false},
		{"(7030)987ABC", false},
		{"(4307)AA", false},
		{"(3910)9870", false},
		{"(8007)FR1234", false},
		{"(8007)FR12_45678901234", false},
		{"(8007)AB12345678901234", false},
		{"(8007)FR12345678901234", false},
		{"(4326)201300", false},
		{"(4326)201200", false},
		{"(4324)2012252400", false},
		{"(4324)2012252360", false},
		{"(8008)201225230060", false},
		{"(8026)123456789012310099", false},
		{"(8026)123456789012310100", false},
		{"(8026)123456789012310302", false},
		{"(4300)ABC%0g", false},
		{"(8112)201234561234560123456", false},
		{"(8112)0", false},
		{"(8112)07", false},
		{"(8112)01123456", false},
		{"(8112)00123456", false},
		{"(8112)00123456123456", false},
		{"(8112)001234561234560", false},
		{"(8110)71234567890123", false},
		{"(8110)012345", false},
		{"(8110)0123456123456", false},
		{"(8110)01234561234560", false},
		{"(8110)01234561234561", false},
		{"(8110)012345612345611", false},
		{"(8110)0123456123456116123456", false},
		{"(8110)0123456123456111", false},
		{"(8110)01234561234561111", false},
		{"(8110)012345612345611115", false},
		{"(8110)012345612345611119", false},
		{"(8110)0123456123456111101231", false},
		{"(8110)01234561234561111012314", false},
		{"(8110)01234561234561111012310", false},
		{"(8110)012345612345611110123106123456", false},
		{"(8110)012345612345611110123101", false},
		{"(8110)0123456123456111101231011", false},
		{"(8110)01234561234561111012310115", false},
		{"(8110)01234561234561111012310119", false},
		{"(8110)01234561234561111012310110123", false},
		{"(8110)0123456123456111101231011012371234567890123", false},
		{"(8110)012345612345611110123101101230", false},
		{"(8110)0123456123456111101232", false},
		{"(8110)01234561234561111012320", false},
		{"(8110)01234561234561111012321", false},
		{"(8110)012345612345611110123211", false},
		{"(8110)0123456123456111101232115", false},
		{"(8110)0123456123456111101232110", false},
		{"(8110)0123456123456111101232110123", false},
		{"(8110)012345612345611110123211012371234567890123", false},
		{"(8110)01234561234561111012321101230", false},
		{"(8110)0123456123456111101233", false},
		{"(8110)0123456123456111101233200010", false},
		{"(8110)0123456123456111101234", false},
		{"(8110)0123456123456111101234200010", false},
		{"(8110)01234561234561111012335006064500607", false},
		{"(8110)0123456123456111101236", false},
		{"(8110)01234561234561111012360", false},
		{"(8110)01234561234561111012361", false},
		{"(8110)0123456123456111101239", false},
		{"(8110)01234561234561111012393", false},
		{"(8110)01234561234561111012390", false},
		{"(8110)012345612345611110123903", false},
		{"(8110)012345612345611110123900", false},
		{"(8110)0123456123456111101239000", false},
		{"(8110)01234561234561111012390002", false},
		{"(8110)012345612345611110123900000", false},
		{"(4309)18000000010000000000", false},
		{"(4309)00000000003600000001", false},
		{"(4330)000000X", false},
		{"(7252)5", false},
		{"(7258)111", false},
		{"(7258)0/3", false},
		{"(7258)2/1", false},
		{"(01)95012345678903(3103)000123", true},
		{"(01)95012345678902(3103)000123", false},
		{"(01)95012345678903(11)131313", false},
		// Unbracketed element strings, "^" for FNC1.
		{"991234", true}, // the engine needs a leading FNC1; scanners often drop it
		{"^", false},
		{"^891234", false},
		{"^991234", true},
		{"^99~ABC", false},
		{"^99ABC~", false},
		{"^0112345678901231", true},
		{"^01A2345678901231", false},
		{"^011234567890123A", false},
		{"^0112345678901234", false},
		{"^011234567890123", false},
		{"^01123456789012312", false},
		{"^0112345678901231^", true},
		{"^011234567890123^", false},
		{"^01123456789012345^", false},
		{"^01123456789012345^991234", false},
		{"^0112345678901231991234", true},
		{"^0112345678901231^991234", true},
		{"^2421", true},
		{"^242123456", true},
		{"^242123456^10ABC123", true},
		{"^242123456^", true},
		{"^2421234567", false},
		{"^81111234", true},
		{"^8111123", false},
		{"^811112345", false},
		{"^81111234^10ABC123", true},
		{"^800112341234512398", true},
		{"^80011234123451239", false},
		{"^8001123412345123981", false},
		{"^800112341234512398^0112345678901231", true},
		{"^80011234123451239^0112345678901231", false},
		{"^7007211225211231", true},
		{"^7007211225", true},
		{"^70072112252", false},
		{"^700721122521", false},
		{"^70072112252212311", false},
		{"^800302112345678900ABC", true},
		{"^800302112345678901ABC", false},
		{"^800302112345678900", true},
		{"^800302112345678900^10ABC123", true},
		{"^800302112345678900ABCDEFGHIJKLMNOP", true},
		{"^800302112345678900ABCDEFGHIJKLMNOPQ", false},
		{"^7230121234567890123456789012345678", true},
		{"^72301212345678901234567890123456789", false},
		{"^7230123", true},
		{"^723012", false},
		{"^891234", false}, // no unknown AIs from raw data, even where the engine may permit them
	}
	for _, c := range cases {
		es, err := parseScanUnchecked(c.in)
		if err == nil {
			err = es.validateElements()
		}
		if (err == nil) != c.valid {
			t.Errorf("%q: valid=%v, want %v (err: %v)", c.in, err == nil, c.valid, err)
		}
	}
}

// acceptedAgainstEngine lists the engine's cases that Pedigree reads, on
// purpose, where the engine refuses them, and what they read as.
var acceptedAgainstEngine = map[string]string{
	// RFC 3986 §3.1: a scheme is case-insensitive, and a phone's keyboard
	// capitalises the first letter. The engine takes only all-lower or
	// all-upper case.
	"HtTp://a/b/00/006141411234567890":                 "^00006141411234567890",
	"]Q1HtTps://example.com/01/12312312312333?99=TEST": "^011231231231233399TEST",
	// A GTIN-13, -12 or -8 in the path is the GTIN-14 padded with zeros, as
	// GS1's Digital Link toolkit reads it, and as the engine does with
	// PermitZeroSuppressedGTINinDLuris (and did by default before it had
	// that option); these are the engine's own readings with it.
	"https://a/01/2112345678900": "^0102112345678900",
	"https://a/01/416000336108":  "^0100416000336108",
	"https://a/01/02345673":      "^0100000002345673",
}

// engineNotation writes elements as the Syntax Engine's tests do: "^" for
// FNC1 first and after each value of an AI that is not of predefined
// length, except the last.
func engineNotation(es ElementString) string {
	return "^" + strings.ReplaceAll(es.Raw(), string(GS), "^")
}

// TestAgreesWithSyntaxEngineDigitalLinkVectors replays the Syntax Engine's
// Digital Link parsing cases (its defaults: no zero-suppressed GTINs, no
// unknown AIs, no convenience alphas; see acceptedAgainstEngine) and compares the parsed values.
func TestAgreesWithSyntaxEngineDigitalLinkVectors(t *testing.T) {
	cases := []struct{ in, want string }{ // want "" means invalid
		{"", ""}, {"ftp://", ""}, {"http://", ""}, {"http:///", ""}, {"http://a", ""}, {"http://a/", ""},
		{"http://a/b", ""}, {"http://a/b/", ""},
		{"http://a/00/006141411234567890", "^00006141411234567890"},
		{"HTTP://a/00/006141411234567890", "^00006141411234567890"},
		{"https://a/00/006141411234567890", "^00006141411234567890"},
		{"HTTPS://a/00/006141411234567890", "^00006141411234567890"},
		{"HtTp://a/b/00/006141411234567890", ""},
		{"https://00/006141411234567890", ""},
		{"https://a/01/12312312312333", "^0112312312312333"},
		{"https://xn--fsq.xn--0zwm56d/01/12312312312333", "^0112312312312333"},
		{"https://a./01/12312312312333", "^0112312312312333"},
		{"https://a:65535/01/12312312312333", "^0112312312312333"},
		{"https://192.0.2.1/01/12312312312333", "^0112312312312333"},
		{"https://3232235777/01/12312312312333", "^0112312312312333"},
		{"https://0300.0250.01.01/01/12312312312333", "^0112312312312333"},
		{"https://0xC0.0xA8.0x01.0x01/01/12312312312333", "^0112312312312333"},
		{"https://[2001:db8::1]/01/12312312312333", "^0112312312312333"},
		{"https://[fe80::1%25lo]/01/12312312312333", ""},
		{"https://$a/006141411234567890", ""},
		{"https://a$/006141411234567890", ""},
		{"https://a/stem/00/006141411234567890", "^00006141411234567890"},
		{"https://a/more/stem/00/006141411234567890", "^00006141411234567890"},
		{"https://a/00/faux/00/006141411234567890", "^00006141411234567890"},
		{"https://a/gtin/12312312312333", ""},
		{"https://a/01/2112345678900", ""},
		{"https://a/01/416000336108", ""},
		{"https://a/01/02345673", ""},
		{"https://a/01/12312312312333/22/TEST/10/ABC/21/XYZ", "^011231231231233322TEST^10ABC^21XYZ"},
		{"https://a/01/12312312312333/235/TEST", "^0112312312312333235TEST"},
		{"https://a/253/1231231231232", "^2531231231231232"},
		{"https://a/253/1231231231232TEST5678901234567", "^2531231231231232TEST5678901234567"},
		{"https://a/253/1231231231232TEST56789012345678", ""},
		{"https://a/8018/123456789012345675/8019/123", "^8018123456789012345675^8019123"},
		{"https://a/stem/00/006141411234567890/", ""},
		{"https://a/stem/00/006141411234567890?", "^00006141411234567890"},
		{"https://a/stem/00/006141411234567890?99=ABC", "^0000614141123456789099ABC"},
		{"https://a/stem/401/12345678?99=ABC", "^40112345678^99ABC"},
		{"https://a/01/12312312312333?99=ABC&98=XYZ", "^011231231231233399ABC^98XYZ"},
		{"https://a/01/12312312312333?99=", ""},
		{"https://a/01/12312312312333?99=ABC&999=faux", ""},
		{"https://a/01/12312312312333?&&&99=ABC&&&&&&98=XYZ&&&", "^011231231231233399ABC^98XYZ"},
		{"https://a/01/12312312312333?unknown1=555&99=ABC&unknown2=666&98=XYZ&unknown3=777", "^011231231231233399ABC^98XYZ"},
		{"https://a/01/12312312312333?singleton1&unknown1=555&99=ABC&singleton2&unknown2=6666&98=XYZ&unknown3=777&singleton3", "^011231231231233399ABC^98XYZ"},
		{"https://a/01/12312312312333/22/ABC%2d123?99=ABC&98=XYZ%2f987", "^011231231231233322ABC-123^99ABC^98XYZ/987"},
		{"https://a/01/12312312312333/22/ABC+123?99=ABC&98=XYZ%2f987", "^011231231231233322ABC+123^99ABC^98XYZ/987"},
		{"https://a/01/12312312312333/22/ABC%2d123?99=ABC&98=XYZ+987", ""},
		{"https://a/01/12312312312333/22/test/10/abc/21/xyz#", "^011231231231233322test^10abc^21xyz"},
		{"https://a/01/12312312312333/22/test/10/abc/21/xyz#fragment", "^011231231231233322test^10abc^21xyz"},
		{"https://a/stem/00/006141411234567890?99=ABC#fragment", "^0000614141123456789099ABC"},
		{"https://id.gs1.org/01/09520123456788/10/ABC1/21/12345?17=180426", "^010952012345678810ABC1^2112345^17180426"},
		{"https://id.gs1.org/01/09520123456788?3103=000195", "^01095201234567883103000195"},
		{"https://example.com/01/09520123456788?3103=000195&3922=0299&17=201225", "^0109520123456788310300019539220299^17201225"},
		{"https://id.gs1.org/01/09520123456788?17=201225&3103=000195&3922=0299", "^010952012345678817201225310300019539220299"},
		{"https://id.gs1.org/00/952012345678912345?02=09520123456788&37=25&10=ABC123", "^0095201234567891234502095201234567883725^10ABC123"},
		{"https://id.gs1.org/414/9520123456788/254/32a%2Fb", "^414952012345678825432a/b"},
		{"https://example.com/8004/9520614141234567?01=9520123456788", "^80049520614141234567^0109520123456788"},
		{"https://example.com/01/09520123456788?10=ABC123", ""},
		{"https://id.gs1.org/01/09520123456788/235/XYZ?10=ABC123", "^0109520123456788235XYZ^10ABC123"},
		{"https://id.gs1.org/01/09520123456788/10/ABC123?99=XYZ789&01=09520123456788", ""},
		{"https://id.gs1.org/01/09520123456788/10/ABC123?99=XYZ789&10=ABC123", ""},
		{"https://id.gs1.org/01/09520123456788/10/ABC123?99=XYZ789&99=XYZ789", ""},
		{"https://example.com/01/09520123456788/89/ABC123?99=XYZ", ""},
		{"https://example.com/01/09520123456788?99=XYZ&89=ABC123", ""},
	}
	for _, c := range cases {
		if want, ok := acceptedAgainstEngine[c.in]; ok {
			c.want = want
		}
		es, err := parseDigitalLink(c.in)
		if err == nil {
			err = es.validateElements()
		}
		switch {
		case c.want == "" && err == nil:
			t.Errorf("%q: parsed to %s, engine says invalid", c.in, engineNotation(es))
		case c.want != "" && err != nil:
			t.Errorf("%q: %v, engine gives %s", c.in, err, c.want)
		case c.want != "" && engineNotation(es) != c.want:
			t.Errorf("%q: %s, engine gives %s", c.in, engineNotation(es), c.want)
		}
	}
}

// TestAgreesWithSyntaxEngineDigitalLinkGeneration replays the Syntax
// Engine's cases for writing a Digital Link URI from AI data.
func TestAgreesWithSyntaxEngineDigitalLinkGeneration(t *testing.T) {
	cases := []struct{ stem, in, want string }{ // want "" means refused
		{"", "(01)12312312312326(21)abc123", "https://id.gs1.org/01/12312312312326/21/abc123"},
		{"https://example.com", "(01)12312312312326(22)ABC(10)DEF(21)GHI", "https://example.com/01/12312312312326/22/ABC/10/DEF/21/GHI"},
		{"https://example.com", "(01)12312312312326(22)ABC(10)DEF(21)GHI(95)INT", "https://example.com/01/12312312312326/22/ABC/10/DEF/21/GHI?95=INT"},
		{"https://example.com", "(21)XYZ(01)12312312312333(10)ABC123(99)XYZ", "https://example.com/01/12312312312333/10/ABC123/21/XYZ?99=XYZ"},
		{"https://example.com", "(01)12312312312333(10)ABC+123(99)XYZ+QWERTY", "https://example.com/01/12312312312333/10/ABC%2B123?99=XYZ%2BQWERTY"},
		{"https://example.com", "(8017)795260646688514634(99)000001(253)9526064000028000001", "https://example.com/8017/795260646688514634?99=000001&253=9526064000028000001"},
		{"https://example.com", "(253)9526064000028000001(99)000001(8017)795260646688514634", "https://example.com/253/9526064000028000001?99=000001&8017=795260646688514634"},
		{"https://example.com", "(98)ABC(253)9526064000028000001(99)000001(8017)795260646688514634", "https://example.com/253/9526064000028000001?98=ABC&99=000001&8017=795260646688514634"},
		{"https://example.com", "(253)9526064000028000001(99)000001(01)12312312312326(10)DEF(95)INT", "https://example.com/253/9526064000028000001?01=12312312312326&99=000001&10=DEF&95=INT"},
		{"https://example.com", "(01)12312312312326(01)12312312312326(10)ABC123(99)XYZ789", "https://example.com/01/12312312312326/10/ABC123?99=XYZ789"},
		{"https://example.com", "(01)12312312312326(10)ABC123(10)ABC123(99)XYZ789", "https://example.com/01/12312312312326/10/ABC123?99=XYZ789"},
		{"https://example.com", "(01)12312312312326(10)ABC123(99)XYZ789(99)XYZ789", "https://example.com/01/12312312312326/10/ABC123?99=XYZ789"},
		{"https://example.com", "(8010)0200(3133)333333(3300)000000(99)57(3133)333333(3300)000000(01)04065093955756(10)0(3133)333333(3300)000000(01)04065093955756", "https://example.com/8010/0200?3133=333333&3300=000000&01=04065093955756&99=57&10=0"},
		{"https://example.com", "(01)12312312312326(99)000001(8200)http://example.com(95)INT", ""},
		{"https://example.com", "(01)12312312312326(235)TPX9526064(99)000001(22)ABC(95)INT", ""},
		{"https://example.com", "(01)12312312312326(22)ABC(10)DEF(99)000001(235)TPX9526064(95)INT", ""},
	}
	for _, c := range cases {
		es, err := parseBracketed(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		got, err := es.DigitalLink(c.stem)
		if c.want == "" {
			if err == nil {
				t.Errorf("%s: %s, engine refuses", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %s (%v), engine gives %s", c.in, got, err, c.want)
		}
	}
}

// TestAgreesWithSyntaxEngineScanDataVectors replays the Syntax Engine's
// cases for scanner output behind a symbology identifier. Where the engine
// accepts plain (non-GS1) data, ParseScan refuses it: Pedigree needs AIs.
func TestAgreesWithSyntaxEngineScanDataVectors(t *testing.T) {
	cases := []struct{ in, want string }{ // want "" means no AI data
		{"", ""}, {"]", ""}, {"]X", ""}, {"]XX", ""}, {"]e0", ""}, {"]Q3", ""}, {"]d2", ""}, {"]C1", ""},
		{"]Q1TESTING", ""}, {"]d1TESTING", ""}, {"]Q1^TESTING", ""},
		{"]Q3011231231231233310ABC123\x1d99TESTING", "^011231231231233310ABC123^99TESTING"},
		{"]Q1https://example.com/01/12312312312333?99=TEST", "^011231231231233399TEST"},
		{"]Q1HTTPS://example.com/01/12312312312333?99=TEST", "^011231231231233399TEST"},
		{"]Q1HtTps://example.com/01/12312312312333?99=TEST", ""},
		{"]d2011231231231233310ABC123\x1d99TESTING", "^011231231231233310ABC123^99TESTING"},
		{"]d1https://example.com/01/12312312312333?99=TEST", "^011231231231233399TEST"},
		{"]e0011231231231233310ABC123\x1d99TESTING\x1d98XYZ", "^011231231231233310ABC123^99TESTING^98XYZ"},
		{"]e0011231231231233310ABC123\x1d1199122598TESTING\x1d97XYZ", "^011231231231233310ABC123^1199122598TESTING^97XYZ"},
		{"]C1011231231231233310ABC123\x1d99TESTING", "^011231231231233310ABC123^99TESTING"},
		{"]d2011231231231233310ABC^123", ""}, // "^" is no data character
		{"]E0", ""}, {"]E0123456789012", ""}, {"]E012345678901234", ""}, {"]E01234ABC890123", ""}, {"]E02112345678901", ""},
		{"]E02112345678900", "^0102112345678900"},
		{"]E02112345678900|]e099COMPOSITE\x1d98XYZ", "^010211234567890099COMPOSITE^98XYZ"},
		{"]E4", ""}, {"]E41234567", ""}, {"]E4123456789", ""}, {"]E412ABC678", ""}, {"]E402345674", ""},
		{"]E402345673", "^0100000002345673"},
		{"]E402345673|]e099COMPOSITE\x1d98XYZ", "^010000000234567399COMPOSITE^98XYZ"},
	}
	for _, c := range cases {
		if want, ok := acceptedAgainstEngine[c.in]; ok {
			c.want = want
		}
		es, err := parseScanUnchecked(c.in)
		if err == nil {
			err = es.validateElements()
		}
		switch {
		case c.want == "" && err == nil:
			t.Errorf("%q: parsed to %s, want no AI data", c.in, engineNotation(es))
		case c.want != "" && err != nil:
			t.Errorf("%q: %v, engine gives %s", c.in, err, c.want)
		case c.want != "" && engineNotation(es) != c.want:
			t.Errorf("%q: %s, engine gives %s", c.in, engineNotation(es), c.want)
		}
	}
}

// TestAgreesWithSyntaxEngineAssociationVectors replays the Syntax Engine's
// cases for the association rules between AIs: repeats, "ex" and "req".
// (Its cases with unknown AIs need a mode Pedigree does not have.)
func TestAgreesWithSyntaxEngineAssociationVectors(t *testing.T) {
	cases := []struct {
		in    string
		valid bool
	}{
		{"(400)ABC", true},
		{"(400)ABC(400)ABC", true},
		{"(400)ABC(99)DEF(400)ABC", true},
		{"(99)ABC(400)XYZ(400)XYZ", true},
		{"(400)ABC(400)AB", false},
		{"(400)ABC(400)ABCD", false},
		{"(400)ABC(400)ABC(400)XYZ", false},
		{"(400)ABC(400)XYZ(400)ABC", false},
		{"(400)ABC(400)XYZ(400)XYZ", false},
		{"(400)ABC(99)DEF(400)XYZ", false},
		{"(99)ABC(400)ABC(400)XYZ", false},
		{"(01)12345678901231(02)12345678901231", false},
		{"(99)ABC123(01)12345678901231(02)12345678901231", false},
		{"(01)12345678901231(99)ABC123(02)12345678901231", false},
		{"(01)12345678901231(02)12345678901231(99)ABC123", false},
		{"(01)12345678901231(255)5412345000150", false},
		{"(01)12345678901231(37)123", false},
		{"(21)ABC123(235)XYZ", false},
		{"(3940)1234(8111)9999", false},
		{"(3940)1234(3941)9999", false},
		{"(3955)123456(3929)123", false},
		{"(02)12345678901231", false},
		{"(02)12345678901231(37)123", false},
		{"(99)AAA(02)12345678901231(37)123", false},
		{"(02)12345678901231(99)AAA(37)123", false},
		{"(02)12345678901231(37)123(99)AAA", false},
		{"(02)12345678901231(37)123(00)123456789012345675", true},
		{"(91)XXX(02)12345678901231(92)YYY(37)123(93)ZZZ(00)123456789012345675", true},
		{"(21)ABC123", false},
		{"(21)ABC123(01)12345678901231", true},
		{"(21)ABC123(8006)123456789012310510", true},
		{"(01)12345678901231(250)ABC123", false},
		{"(01)12345678901231(21)XYZ999(250)ABC123", true},
		{"(01)12345678901231(3925)12599", false},
		{"(01)12345678901231(3925)12599(30)123", true},
		{"(01)12345678901231(3925)12599(3100)654321", true},
		{"(01)12345678901231(3925)12599(3105)654321", true},
		{"(01)12345678901231(3925)12599(3160)654321", true},
		{"(01)12345678901231(3925)12599(3165)654321", true},
		{"(01)12345678901231(3925)12599(3295)654321", true},
		{"(01)12345678901231(3925)12599(3500)654321", true},
		{"(01)12345678901231(3925)12599(3575)654321", true},
		{"(01)12345678901231(3925)12599(3600)654321", true},
		{"(01)12345678901231(3925)12599(3695)654321", true},
	}
	for _, c := range cases {
		es, err := parseBracketed(c.in)
		if err == nil {
			err = es.validateElements()
		}
		if err != nil {
			t.Errorf("%q: elements invalid: %v (the engine's case has valid elements)", c.in, err)
			continue
		}
		if err := es.checkAssociations(); (err == nil) != c.valid {
			t.Errorf("%q: associations valid=%v, engine says %v (%v)", c.in, err == nil, c.valid, err)
		}
	}
}
