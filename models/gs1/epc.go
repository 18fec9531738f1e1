package gs1

import (
	"fmt"
	"net/url"
	"strings"
)

// EPCKind says which kind of identifier an EPC names.
type EPCKind string

// The EPC kinds Pedigree uses: a pack, a logistic unit, a location, a
// party, a lot of a product, a product (any serial), and an individual
// asset such as a sensor or a returnable crate.
const (
	EPCSGTIN EPCKind = "sgtin"
	EPCSSCC  EPCKind = "sscc"
	EPCSGLN  EPCKind = "sgln"
	EPCPGLN  EPCKind = "pgln"
	EPCLGTIN EPCKind = "lgtin"
	EPCGTIN  EPCKind = "gtin"
	EPCGIAI  EPCKind = "giai"
)

// EPC is an identifier read from an EPC URI or a GS1 Digital Link URI, as
// EPCIS events carry them. Only the fields of its Kind are set.
type EPC struct {
	Kind  EPCKind
	SGTIN SGTIN  // for sgtin
	SSCC  SSCC   // for sscc
	SGLN  SGLN   // for sgln
	PGLN  GLN    // for pgln: a party (AI 417)
	GTIN  string // for lgtin and gtin (and sgtin, as SGTIN.GTIN)
	Lot   string // for lgtin
	GIAI  string // for giai: the AI (8004) value, company prefix first
}

// ParseEPC reads an EPC in either of the forms EPCIS 2.0 allows:
//
//   - EPC URIs: urn:epc:id:sgtin:CP.IIR.SERIAL, urn:epc:id:sscc:CP.ESR,
//     urn:epc:id:sgln:CP.LR.EXT, urn:epc:id:pgln:CP.PR,
//     urn:epc:id:giai:CP.ASSET, urn:epc:class:lgtin:CP.IIR.LOT and the
//     pattern urn:epc:idpat:sgtin:CP.IIR.* (a product, any serial);
//   - GS1 Digital Link URIs: /01/{gtin}/21/{serial}, /00/{sscc},
//     /414/{gln}[/254/{ext}], /417/{gln}, /8004/{giai}, /01/{gtin}/10/{lot},
//     /01/{gtin}.
//
// The GTIN, SSCC and GLN come back complete with their check digits, which
// EPC URIs leave out. A Digital Link's query is read as the ledger has
// always read it (parseLedgerDigitalLink), which ParseDigitalLink, for
// scans, no longer does.
func ParseEPC(uri string) (EPC, error) {
	switch {
	case strings.HasPrefix(uri, "urn:epc:id:sgtin:"):
		cp, ref, serial, err := epcParts(uri, "urn:epc:id:sgtin:", 3, 13)
		if err != nil {
			return EPC{}, err
		}
		s := SGTIN{GTIN: withCheckDigit(ref[:1] + cp + ref[1:]), Serial: serial}
		if err := s.Validate(); err != nil {
			return EPC{}, err
		}
		return EPC{Kind: EPCSGTIN, SGTIN: s, GTIN: s.GTIN}, nil
	case strings.HasPrefix(uri, "urn:epc:idpat:sgtin:"):
		cp, ref, star, err := epcParts(uri, "urn:epc:idpat:sgtin:", 3, 13)
		if err != nil {
			return EPC{}, err
		}
		if star != "*" {
			return EPC{}, errorf("", uri, "an sgtin pattern must end in .*")
		}
		return EPC{Kind: EPCGTIN, GTIN: withCheckDigit(ref[:1] + cp + ref[1:])}, nil
	case strings.HasPrefix(uri, "urn:epc:class:lgtin:"):
		cp, ref, lot, err := epcParts(uri, "urn:epc:class:lgtin:", 3, 13)
		if err != nil {
			return EPC{}, err
		}
		if err := checkValue("10", lot); err != nil {
			return EPC{}, err
		}
		return EPC{Kind: EPCLGTIN, GTIN: withCheckDigit(ref[:1] + cp + ref[1:]), Lot: lot}, nil
	case strings.HasPrefix(uri, "urn:epc:id:sscc:"):
		cp, ref, _, err := epcParts(uri, "urn:epc:id:sscc:", 2, 17)
		if err != nil {
			return EPC{}, err
		}
		return EPC{Kind: EPCSSCC, SSCC: SSCC(withCheckDigit(ref[:1] + cp + ref[1:]))}, nil
	case strings.HasPrefix(uri, "urn:epc:id:sgln:"):
		cp, ref, ext, err := epcParts(uri, "urn:epc:id:sgln:", 3, 12)
		if err != nil {
			return EPC{}, err
		}
		if ext == "0" {
			ext = ""
		}
		s := SGLN{GLN: GLN(withCheckDigit(cp + ref)), Extension: ext}
		if err := s.Validate(); err != nil {
			return EPC{}, err
		}
		return EPC{Kind: EPCSGLN, SGLN: s}, nil
	case strings.HasPrefix(uri, "urn:epc:id:pgln:"):
		cp, ref, _, err := epcParts(uri, "urn:epc:id:pgln:", 2, 12)
		if err != nil {
			return EPC{}, err
		}
		return EPC{Kind: EPCPGLN, PGLN: GLN(withCheckDigit(cp + ref))}, nil
	case strings.HasPrefix(uri, "urn:epc:id:giai:"):
		cp, ref, ok := strings.Cut(uri[len("urn:epc:id:giai:"):], ".")
		if !ok || len(cp) < 6 || len(cp) > 12 || !isDigits(cp) {
			return EPC{}, errorf("", uri, "%q: a GIAI is CP.ASSET with a 6-12 digit company prefix", clip(uri))
		}
		asset, err := url.PathUnescape(ref)
		if err != nil || asset == "" {
			return EPC{}, errorf("", uri, "%q: bad or empty asset reference", clip(uri))
		}
		if err := checkValue("8004", cp+asset); err != nil {
			return EPC{}, err
		}
		return EPC{Kind: EPCGIAI, GIAI: cp + asset}, nil
	case isHTTPURI(uri):
		return epcFromDigitalLink(uri)
	}
	return EPC{}, errorf("", uri, "not an EPC URI or GS1 Digital Link URI: %q", clip(uri))
}

// epcParts splits the dotted body of an EPC URI into the company prefix,
// the reference and (for three-part URIs) the last, unescaped part, and
// checks the digit counts: the prefix is 6 to 12 digits and prefix plus
// reference make digits digits.
func epcParts(uri, scheme string, parts, digits int) (cp, ref, last string, err error) {
	fields := strings.Split(uri[len(scheme):], ".")
	if parts == 3 && len(fields) > 3 {
		// The serial or lot may itself contain dots.
		fields = []string{fields[0], fields[1], strings.Join(fields[2:], ".")}
	}
	if len(fields) != parts {
		return "", "", "", errorf("", uri, "%q must have %d dot-separated parts", clip(uri), parts)
	}
	cp, ref = fields[0], fields[1]
	if len(cp) < 6 || len(cp) > 12 || !isDigits(cp) || !isDigits(ref) || len(cp)+len(ref) != digits {
		return "", "", "", errorf("", uri, "%q: company prefix (6-12 digits) and reference must be %d digits together", clip(uri), digits)
	}
	if parts == 3 {
		last, err = url.PathUnescape(fields[2])
		if err != nil || last == "" {
			return "", "", "", errorf("", uri, "%q: bad or empty last part", clip(uri))
		}
	}
	return cp, ref, last, nil
}

func withCheckDigit(digits string) string {
	return digits + string(rune('0'+CheckDigit(digits)))
}

func epcFromDigitalLink(uri string) (EPC, error) {
	es, err := validated(parseLedgerDigitalLink, uri)
	if err != nil {
		return EPC{}, err
	}
	key := es[0]
	switch key.AI {
	case "00":
		return EPC{Kind: EPCSSCC, SSCC: SSCC(key.Value)}, nil
	case "414":
		ext, _ := es.Get("254")
		return EPC{Kind: EPCSGLN, SGLN: SGLN{GLN: GLN(key.Value), Extension: ext}}, nil
	case "417":
		return EPC{Kind: EPCPGLN, PGLN: GLN(key.Value)}, nil
	case "8004":
		return EPC{Kind: EPCGIAI, GIAI: key.Value}, nil
	case "01":
		if serial, ok := es.Get("21"); ok {
			return EPC{Kind: EPCSGTIN, SGTIN: SGTIN{GTIN: key.Value, Serial: serial}, GTIN: key.Value}, nil
		}
		if lot, ok := es.Get("10"); ok {
			return EPC{Kind: EPCLGTIN, GTIN: key.Value, Lot: lot}, nil
		}
		return EPC{Kind: EPCGTIN, GTIN: key.Value}, nil
	}
	return EPC{}, errorf(key.AI, key.Value, "this Digital Link key is not an EPC Pedigree tracks")
}

// EPCAttributes returns what an EPC written as a GS1 Digital Link carries
// beside its primary key, as ParseEPC reads the link: the qualifiers in
// its path (a pack's lot, 10, and serial, 21) and the data attributes of
// its query (an expiry, 17). An EPC URI has none of them apart: nil. The
// EPC keeps only what identifies the object, not the lot or the expiry;
// a rule that records those from elsewhere checks them against these.
func EPCAttributes(uri string) (ElementString, error) {
	if !isHTTPURI(uri) {
		return nil, nil
	}
	es, err := validated(parseLedgerDigitalLink, uri)
	if err != nil {
		return nil, err
	}
	return es[1:], nil
}

// escapeEPC percent-encodes the characters that EPC URIs reserve.
func escapeEPC(s string) string {
	if !strings.ContainsAny(s, "\"%&/<>?#") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '%', '&', '/', '<', '>', '?', '#':
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func checkPrefixLen(n, digits int) error {
	if n < 6 || n > 12 || n > digits {
		return errorf("", "", "a GS1 company prefix has 6 to 12 digits, not %d", n)
	}
	return nil
}

// EPCURI returns the pack's EPC URI, urn:epc:id:sgtin:CP.IIR.SERIAL, given
// the length of its GS1 company prefix (which the GTIN alone does not tell).
func (s SGTIN) EPCURI(companyPrefixLen int) (string, error) {
	if err := s.Validate(); err != nil {
		return "", err
	}
	if err := checkPrefixLen(companyPrefixLen, 12); err != nil {
		return "", err
	}
	g := s.GTIN
	return "urn:epc:id:sgtin:" + g[1:1+companyPrefixLen] + "." + g[:1] + g[1+companyPrefixLen:13] + "." + escapeEPC(s.Serial), nil
}

// DigitalLink returns the pack's canonical Digital Link URI on id.gs1.org.
func (s SGTIN) DigitalLink() string {
	return DefaultDigitalLinkBase + "/01/" + s.GTIN + "/21/" + escapeDL(s.Serial)
}

// LGTINURI returns the EPC class URI of a lot, urn:epc:class:lgtin:CP.IIR.LOT.
func LGTINURI(gtin, lot string, companyPrefixLen int) (string, error) {
	if err := checkKey("01", gtin, 14); err != nil {
		return "", err
	}
	if err := checkValue("10", lot); err != nil {
		return "", err
	}
	if err := checkPrefixLen(companyPrefixLen, 12); err != nil {
		return "", err
	}
	return "urn:epc:class:lgtin:" + gtin[1:1+companyPrefixLen] + "." + gtin[:1] + gtin[1+companyPrefixLen:13] + "." + escapeEPC(lot), nil
}

// EPCURI returns the container's EPC URI, urn:epc:id:sscc:CP.ESR.
func (s SSCC) EPCURI(companyPrefixLen int) (string, error) {
	if err := s.Validate(); err != nil {
		return "", err
	}
	if err := checkPrefixLen(companyPrefixLen, 16); err != nil {
		return "", err
	}
	v := string(s)
	return "urn:epc:id:sscc:" + v[1:1+companyPrefixLen] + "." + v[:1] + v[1+companyPrefixLen:17], nil
}

// EPCURI returns the location's EPC URI, urn:epc:id:sgln:CP.LR.EXT, with
// extension "0" when there is none.
func (s SGLN) EPCURI(companyPrefixLen int) (string, error) {
	if err := s.Validate(); err != nil {
		return "", err
	}
	if err := checkPrefixLen(companyPrefixLen, 12); err != nil {
		return "", err
	}
	g := string(s.GLN)
	ext := s.Extension
	if ext == "" {
		ext = "0"
	}
	return "urn:epc:id:sgln:" + g[:companyPrefixLen] + "." + g[companyPrefixLen:12] + "." + escapeEPC(ext), nil
}
