package gs1

import (
	"errors"
	"strings"
	"testing"
)

// canonicalVectors are identifiers and their canonical Digital Link URIs as
// the GS1 EPCIS event hash reference implementation
// (RalphTro/epcis-event-hash-generator, tests/dl_normaliser_test.py and
// tests/examples/epcisDocWithAllGS1Keys) writes them.
var canonicalVectors = []struct{ in, want string }{
	// Every EPC scheme that carries a GS1 key.
	{"urn:epc:id:sgtin:4012345.011111.98%22", "https://id.gs1.org/01/04012345111118/21/98%22"},
	{"urn:epc:id:sgtin:415056789012.0.987654", "https://id.gs1.org/01/04150567890128/21/987654"},
	{"urn:epc:id:sgtin:0614141.812345.6789%2F%26%25%22!%3F()", "https://id.gs1.org/01/80614141123458/21/6789%2F%26%25%22%21%3F%28%29"},
	{"urn:epc:id:sscc:4012345.0000000333", "https://id.gs1.org/00/040123450000003338"},
	{"urn:epc:id:sgln:4012345.00005.122", "https://id.gs1.org/414/4012345000054/254/122"},
	{"urn:epc:id:sgln:4012345.00005.0", "https://id.gs1.org/414/4012345000054"},
	{"urn:epc:id:grai:4012345.00022.334455", "https://id.gs1.org/8003/04012345000221334455"},
	{"urn:epc:id:grai:4012345.66666.87", "https://id.gs1.org/8003/0401234566666387"},
	{"urn:epc:id:giai:4012345.ABC345", "https://id.gs1.org/8004/4012345ABC345"},
	{"urn:epc:id:giai:4000001.111", "https://id.gs1.org/8004/4000001111"},
	{"urn:epc:id:gsrn:4012345.0000006765", "https://id.gs1.org/8018/401234500000067657"},
	{"urn:epc:id:gsrnp:4012345.0000000007", "https://id.gs1.org/8017/401234500000000074"},
	{"urn:epc:id:gsrnp:4012345.0000098765", "https://id.gs1.org/8017/401234500000987658"},
	{"urn:epc:id:gdti:4012345.00009.PO-4711", "https://id.gs1.org/253/4012345000092PO-4711"},
	{"urn:epc:id:gdti:987659999999..9", "https://id.gs1.org/253/98765999999929"},
	{"urn:epc:id:gdti:0614141.00001.1618034", "https://id.gs1.org/253/06141410000121618034"},
	{"urn:epc:id:cpi:0614141.11111111111111-A%23%2F.1234", "https://id.gs1.org/8010/061414111111111111111-A%23%2F/8011/1234"},
	{"urn:epc:id:sgcn:4012345.99999.44", "https://id.gs1.org/255/401234599999044"},
	{"urn:epc:id:ginc:0614141.xyz47%2F11", "https://id.gs1.org/401/0614141xyz47%2F11"},
	{"urn:epc:id:gsin:4012345.222333444", "https://id.gs1.org/402/40123452223334442"},
	{"urn:epc:id:itip:4012345.011111.01.02.987", "https://id.gs1.org/8006/040123451111180102/21/987"},
	{"urn:epc:id:upui:1234567.098765.51qIgY)%3C%26Jp3*j7SDB", "https://id.gs1.org/01/01234567987651/235/51qIgY%29%3C%26Jp3%2Aj7SDB"},
	{"urn:epc:id:pgln:4000001.00000", "https://id.gs1.org/417/4000001000005"},
	{"urn:epc:id:pgln:999999999999.", "https://id.gs1.org/417/9999999999994"},
	{"urn:epc:class:lgtin:4012345.012345.Lot987", "https://id.gs1.org/01/04012345123456/10/Lot987"},
	// Patterns that name one class.
	{"urn:epc:idpat:sgtin:4012345.012345.*", "https://id.gs1.org/01/04012345123456"},
	{"urn:epc:idpat:grai:4012345.99999.*", "https://id.gs1.org/8003/04012345999990"},
	{"urn:epc:idpat:gdti:4012345.11111.*", "https://id.gs1.org/253/4012345111118"},
	{"urn:epc:idpat:sgcn:4012345.22222.*", "https://id.gs1.org/255/4012345222227"},
	{"urn:epc:idpat:cpi:4012345.AB12.*", "https://id.gs1.org/8010/4012345AB12"},
	{"urn:epc:idpat:itip:4012345.012345.01.02.*", "https://id.gs1.org/8006/040123451234560102"},
	{"urn:epc:idpat:upui:4012345.012345.*", "https://id.gs1.org/01/04012345123456"},
	// Digital Link URIs: on id.gs1.org, with the finest qualifier only.
	{"https://fashion-corp.com/8006/040123451234560102/10/Lot-123/21/ser987", "https://id.gs1.org/8006/040123451234560102/21/ser987"},
	{"https://id.gs1.org/00/340123453111111115", "https://id.gs1.org/00/340123453111111115"},
	{"https://id.gs1.org/414/4226350800008", "https://id.gs1.org/414/4226350800008"},
	{"https://id.gs1.org/414/4280000000002/254/12", "https://id.gs1.org/414/4280000000002/254/12"},
	{"https://id.gs1.org/8003/03870585000552987", "https://id.gs1.org/8003/03870585000552987"},
	{"https://id.gs1.org/8004/0180451111ABC987", "https://id.gs1.org/8004/0180451111ABC987"},
	{"https://id.gs1.org/8018/385888700111111111", "https://id.gs1.org/8018/385888700111111111"},
	{"https://id.gs1.org/8017/440018922222222226", "https://id.gs1.org/8017/440018922222222226"},
	{"https://id.gs1.org/253/4602443000331XYZ", "https://id.gs1.org/253/4602443000331XYZ"},
	{"https://id.gs1.org/8010/0628165987/8011/9876", "https://id.gs1.org/8010/0628165987/8011/9876"},
	{"https://id.gs1.org/255/0811625999996554433", "https://id.gs1.org/255/0811625999996554433"},
	{"https://id.example.org/8004/401234599999", "https://id.gs1.org/8004/401234599999"},
	// Vectors written here: the query goes, and so does a lot beside a
	// serial, but a third-party extension stays.
	{"https://example.com/dl/01/04012345123456/10/L1/21/S1?17=281231&linkType=all", "https://id.gs1.org/01/04012345123456/21/S1"},
	{"https://example.com/01/04012345123456/235/TPX1", "https://id.gs1.org/01/04012345123456/235/TPX1"},
	{"https://id.gs1.org/417/4000001000005/7040/1A2B", "https://id.gs1.org/417/4000001000005"},
}

func TestCanonicalDigitalLinkVectors(t *testing.T) {
	for _, v := range canonicalVectors {
		got, err := CanonicalDigitalLink(v.in)
		if err != nil || got != v.want {
			t.Errorf("CanonicalDigitalLink(%q) = %q, %v; want %q", v.in, got, err, v.want)
			continue
		}
		// The canonical form is its own canonical form.
		if again, err := CanonicalDigitalLink(got); err != nil || again != got {
			t.Errorf("CanonicalDigitalLink(%q) = %q, %v; not a fixed point", got, again, err)
		}
	}
}

func TestCanonicalDigitalLinkRefuses(t *testing.T) {
	for _, in := range []string{
		"", "42", "Hello World!", "urn:epc:", "urn:epc:id", "urn:epc:id:sgtin", "urn:epcglobal:cbv:bt:4012345000009:ASN1099",
		"urn:epc:id:bic:CSQU3054383", "urn:epc:id:usdod:2S194.12345678901", "urn:epc:idpat:sscc:4012345.*",
		"urn:epc:id:sgtin:4012345.012345", "urn:epc:id:sgtin:4012345.01234.1", "urn:epc:id:sgtin:40123.0123456.1",
		"urn:epc:id:sgtin:4012345.012345.", "urn:epc:id:sgtin:4012345.012345.%ZZ", "urn:epc:id:sgtin:4012345.012345.123456789012345678901",
		"urn:epc:id:sgtin:4012345.01234x.1", "urn:epc:id:sgtin:1234567890123.0.1", "urn:epc:idpat:sgtin:4012345.012345.1",
		"urn:epc:idpat:itip:4012345.012345.01.02.3", "urn:epc:id:itip:4012345.012345.01.02", "urn:epc:id:itip:4012345.012345.1.02.3",
		"urn:epc:id:sscc:4012345.000000033", "urn:epc:id:giai:40123.X", "urn:epc:id:giai:4012345.", "urn:epc:id:ginc:4012345",
		"urn:epc:id:cpi:4012345.AB12.0123", "urn:epc:id:sgcn:4012345.99999.A1", "urn:epc:class:lgtin:4012345.012345.",
		"http://example.org/123/4012345ABC987/456/4711", "http://id.gs1.org/99/9780345418913", "http://example.de/abc/9780345418913",
		"http://example.de/01/97803", "https://id.gs1.org/8006/04012345123456/22/ABCD/10/XYZ",
		"https://id.gs1.org/8013/1987654Ad4X4bL5ttr2310c2K", // a GMN: no EPC, not a key the hash keeps
	} {
		got, err := CanonicalDigitalLink(in)
		if err == nil {
			t.Errorf("CanonicalDigitalLink(%q) = %q, want an error", in, got)
		} else if !errors.Is(err, ErrInvalid) {
			t.Errorf("CanonicalDigitalLink(%q): error %v does not wrap ErrInvalid", in, err)
		}
	}
}

// FuzzCanonicalDigitalLink: any input gives an error or a Digital Link URI
// on id.gs1.org that is its own canonical form.
func FuzzCanonicalDigitalLink(f *testing.F) {
	for _, v := range canonicalVectors {
		f.Add(v.in)
	}
	f.Add("urn:epc:id:cpi:4012345.A.B.C")
	f.Add("urn:epc:id:gsrn:999999999999.99999")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := CanonicalDigitalLink(in)
		if err != nil {
			return
		}
		if !strings.HasPrefix(got, DefaultDigitalLinkBase+"/") {
			t.Fatalf("CanonicalDigitalLink(%q) = %q, not on id.gs1.org", in, got)
		}
		if again, err := CanonicalDigitalLink(got); err != nil || again != got {
			t.Fatalf("CanonicalDigitalLink(%q) = %q, whose canonical form is %q, %v", in, got, again, err)
		}
	})
}
