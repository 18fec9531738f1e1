package gs1

import (
	"slices"
	"strings"
	"testing"
)

var pharmaSeeds = []string{
	"]d2\x1d010950600013435217281231109876ABC\x1d21SER123",
	"]d2010401234512345617270600102024A01\x1d21XK7Q2Z9W3PN8\x1d7104012345",
	"0109506000134352\x1d17281231\x1d10L\x1d21S",
	"(01)09506000134352(17)281200(10)B-42(21)0000000001(8030)" + strings.Repeat("Ab1_", 22) + "Zz",
	"(01)09506000134352(17)281231(10)9876ABC(21)SER123(714)1234567",
	"https://id.gs1.org/01/09506000134352/10/9876ABC/21/SER123?17=281231",
	"https://pharma.example/p/01/04012345123456/21/A%2FB?17=270600&8030=AbC",
	"]Q1https://example.com/01/09506000134352/21/1",
	"(00)106141412345678908(37)12(02)09506000134352",
	"010950600013435217281231109876ABC<GS>21SER123",
	"^0112345678901231^8110012345612345611110123110112345639000",
	"(8110)0123456123456111101231101123456",
	"(7003)2612311230(4309)09000000001800000000(8007)GB82WEST12345698765432",
	`(01)09506000134352(10)L1(21)A\(10)L1`,
	"https://id.gs1.org/01/09506000134352/10/L(2/21/A%2810%29L1?%31%37=281231",
	"https://id.gs1.org/01/9506000134352/10/9876ABC/21/SER123?17=281231", // a GTIN-13
}

// FuzzParseScan checks that no input panics, and that whatever parses
// survives a trip through the raw element string, its HRI and its Digital
// Link and back unchanged.
func FuzzParseScan(f *testing.F) {
	for _, s := range pharmaSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		es, err := ParseScan(in)
		if err != nil {
			return
		}
		back, err := ParseScan("]d2" + es.Raw())
		if err != nil {
			t.Fatalf("%q parsed to %s, whose raw form %q fails: %v", in, es.HRI(), es.Raw(), err)
		}
		if !sameElements(es, back) || len(back) != len(es) {
			t.Fatalf("%q: %s != %s", in, es.HRI(), back.HRI())
		}
		if back, err := ParseBracketed(es.HRI()); err != nil || !slices.Equal(back, es) {
			t.Fatalf("%q parsed to %q, whose HRI %s reads back as %q, %v", in, es, es.HRI(), back, err)
		}
		if uri, err := es.DigitalLink(""); err == nil {
			dl, err := ParseDigitalLink(uri)
			if err != nil || !sameElements(withoutRepeats(es), dl) {
				t.Fatalf("%q -> %s -> %v, %v", in, uri, dl.HRI(), err)
			}
		}
	})
}

// FuzzParseEPC checks that no EPC input panics and that a parsed SGTIN
// turns back into an EPC URI that parses to the same pack.
func FuzzParseEPC(f *testing.F) {
	for _, s := range []string{
		"urn:epc:id:sgtin:0614141.812345.6789", "urn:epc:id:sscc:0614141.1234567890",
		"urn:epc:id:sgln:0614141.12345.400", "urn:epc:class:lgtin:4012345.012345.998877",
		"urn:epc:idpat:sgtin:4012345.012345.*", "https://id.gs1.org/01/09506000134352/21/S1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		e, err := ParseEPC(in)
		if err != nil || e.Kind != EPCSGTIN {
			return
		}
		uri, err := e.SGTIN.EPCURI(7)
		if err != nil {
			t.Fatalf("%q: %+v: %v", in, e, err)
		}
		back, err := ParseEPC(uri)
		if err != nil || back.SGTIN != e.SGTIN {
			t.Fatalf("%q -> %s -> %+v, %v", in, uri, back, err)
		}
	})
}

func BenchmarkParseScan(b *testing.B) {
	for _, c := range []struct{ name, in string }{
		{"raw", pharmaSeeds[0]},
		{"bracketed", "(01)09506000134352(17)281231(10)9876ABC(21)SER123"},
		{"digitallink", pharmaSeeds[5]},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := ParseScan(c.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// withoutRepeats drops elements equal to an earlier one, as a Digital Link
// URI carries each element once.
func withoutRepeats(es ElementString) ElementString {
	var out ElementString
	for i, e := range es {
		repeat := false
		for _, prev := range es[:i] {
			repeat = repeat || prev == e
		}
		if !repeat {
			out = append(out, e)
		}
	}
	return out
}
