package gs1

import (
	"net/url"
	"strings"
)

// Canonical GS1 Digital Link URIs of identifiers, as the CBV 2.0 event hash
// writes them (CBV 2.0 §8.9): an EPC URI of any scheme that carries a GS1
// key becomes its canonical Digital Link URI (GS1 Digital Link URI Syntax
// 1.2 §4.11), and a Digital Link URI on any domain is constrained to the
// key and its most fine-grained qualifier on id.gs1.org, so every spelling
// of one identifier hashes the same.

// CanonicalDigitalLink returns the constrained canonical GS1 Digital Link
// URI on id.gs1.org of a GS1 identifier given as
//
//   - an EPC pure identity URI (urn:epc:id:SCHEME:...) of the schemes sgtin,
//     sscc, sgln, grai, giai, gsrn, gsrnp, gdti, cpi, sgcn, ginc, gsin,
//     itip, upui and pgln;
//   - an EPC class URI (urn:epc:class:lgtin:...);
//   - an EPC pattern URI that names one class (urn:epc:idpat:SCHEME:...*,
//     for sgtin, upui, grai, gdti, sgcn, cpi and itip);
//   - a GS1 Digital Link URI on any domain, whose key is one of AIs 00, 01,
//     253, 255, 401, 402, 414, 417, 8003, 8004, 8006, 8010, 8017 and 8018.
//
// A Digital Link keeps only its key and the most fine-grained of the
// qualifiers 21, 235, 10 (after 01 or 8006), 254 (after 414) and 8011
// (after 8010); its query is dropped, once read as ParseEPC reads it. Values are percent-encoded as
// DigitalLink writes them. Anything else, or an identifier whose values
// fail validation, is an error.
func CanonicalDigitalLink(uri string) (string, error) {
	var es ElementString
	var err error
	if rest, ok := strings.CutPrefix(uri, "urn:epc:"); ok {
		es, err = epcURIElements(uri, rest)
	} else {
		es, err = constrainedDigitalLink(uri)
	}
	if err != nil {
		return "", err
	}
	if err := es.Validate(); err != nil {
		return "", err
	}
	return es.DigitalLink(DefaultDigitalLinkBase)
}

// finestQualifiers lists, for each Digital Link key the event hash keeps,
// the qualifiers it keeps, the most fine-grained first: a serial names
// one item of a lot.
var finestQualifiers = map[string][]string{
	"00": nil, "01": {"21", "235", "10"}, "253": nil, "255": nil, "401": nil, "402": nil,
	"414": {"254"}, "417": nil, "8003": nil, "8004": nil, "8006": {"21", "10"},
	"8010": {"8011"}, "8017": nil, "8018": nil,
}

// constrainedDigitalLink reads a Digital Link URI and keeps its key and
// finest qualifier.
func constrainedDigitalLink(uri string) (ElementString, error) {
	es, err := validated(parseLedgerDigitalLink, uri) // as the event hash always read it
	if err != nil {
		return nil, err
	}
	key := es[0]
	quals, ok := finestQualifiers[key.AI]
	if !ok {
		return nil, errorf(key.AI, key.Value, "is not a key the event hash keeps")
	}
	out := ElementString{key}
	for _, q := range quals {
		if v, ok := es.Get(q); ok {
			return append(out, Element{AI: q, Value: v}), nil
		}
	}
	return out, nil
}

// gtinQualifier is the AI of the part after the GTIN in the EPC URIs that
// extend one: a serial, a third-party-controlled extension, a lot.
var gtinQualifier = map[string]string{"sgtin": "21", "upui": "235", "lgtin": "10"}

// keyOnlySchemes are the EPC schemes whose URI is a key of fixed length and
// nothing more: its AI, the digits of company prefix and reference, and
// whether the reference's first digit leads the key.
var keyOnlySchemes = map[string]struct {
	ai             string
	digits         int
	extensionFirst bool
}{"sscc": {"00", 17, true}, "gsrn": {"8018", 17, false}, "gsrnp": {"8017", 17, false},
	"gsin": {"402", 16, false}, "pgln": {"417", 12, false}}

// keyAI is the AI of the other schemes whose key and serial share one AI.
var keyAI = map[string]string{"grai": "8003", "gdti": "253", "sgcn": "255", "giai": "8004", "ginc": "401"}

// epcURIElements reads an EPC URI, rest being what follows "urn:epc:", as
// the GS1 elements its canonical Digital Link carries. The key's check
// digit, which EPC URIs leave out, is computed.
func epcURIElements(uri, rest string) (ElementString, error) {
	form, rest, _ := strings.Cut(rest, ":")
	scheme, body, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, errorf("", clip(uri), "%q is not an EPC URI", clip(uri))
	}
	// parts splits the body into n dot-separated fields; the last may
	// itself hold dots (a serial or an asset reference).
	parts := func(n int) ([]string, error) {
		p := strings.SplitN(body, ".", n)
		if len(p) != n {
			return nil, errorf("", clip(uri), "%q must have %d dot-separated parts", clip(uri), n)
		}
		return p, nil
	}
	// pattern checks that a pattern URI ends in the "*" that stands for
	// every serial.
	pattern := func(p []string) error {
		if p[len(p)-1] != "*" {
			return errorf("", clip(uri), "%q: a pattern URI ends in .*", clip(uri))
		}
		return nil
	}

	switch form + ":" + scheme {
	case "id:sgtin", "id:upui", "class:lgtin":
		p, err := parts(3)
		if err != nil {
			return nil, err
		}
		gtin, err := epcKey(uri, p[0], p[1], 13, true)
		if err != nil {
			return nil, err
		}
		v, err := epcUnescape(uri, p[2])
		if err != nil {
			return nil, err
		}
		return ElementString{{AI: "01", Value: gtin}, {AI: gtinQualifier[scheme], Value: v}}, nil
	case "idpat:sgtin", "idpat:upui":
		p, err := parts(3)
		if err != nil {
			return nil, err
		}
		if err := pattern(p); err != nil {
			return nil, err
		}
		gtin, err := epcKey(uri, p[0], p[1], 13, true)
		if err != nil {
			return nil, err
		}
		return ElementString{{AI: "01", Value: gtin}}, nil
	case "id:sscc", "id:gsrn", "id:gsrnp", "id:gsin", "id:pgln":
		k := keyOnlySchemes[scheme]
		p, err := parts(2)
		if err != nil {
			return nil, err
		}
		v, err := epcKey(uri, p[0], p[1], k.digits, k.extensionFirst)
		if err != nil {
			return nil, err
		}
		return ElementString{{AI: k.ai, Value: v}}, nil
	case "id:sgln":
		p, err := parts(3)
		if err != nil {
			return nil, err
		}
		gln, err := epcKey(uri, p[0], p[1], 12, false)
		if err != nil {
			return nil, err
		}
		es := ElementString{{AI: "414", Value: gln}}
		if p[2] == "0" { // the location itself
			return es, nil
		}
		ext, err := epcUnescape(uri, p[2])
		if err != nil {
			return nil, err
		}
		return append(es, Element{AI: "254", Value: ext}), nil
	case "id:grai", "id:gdti", "id:sgcn", "idpat:grai", "idpat:gdti", "idpat:sgcn":
		// A 13-digit key with a serial appended in the same AI (GRAI's
		// behind a leading zero); the pattern is the key alone.
		ai := keyAI[scheme]
		p, err := parts(3)
		if err != nil {
			return nil, err
		}
		v, err := epcKey(uri, p[0], p[1], 12, false)
		if err != nil {
			return nil, err
		}
		if scheme == "grai" {
			v = "0" + v
		}
		if form == "idpat" {
			if err := pattern(p); err != nil {
				return nil, err
			}
			return ElementString{{AI: ai, Value: v}}, nil
		}
		serial, err := epcUnescape(uri, p[2])
		if err != nil {
			return nil, err
		}
		return ElementString{{AI: ai, Value: v + serial}}, nil
	case "id:giai", "id:ginc":
		// The company prefix and a reference of any characters.
		ai := keyAI[scheme]
		p, err := parts(2)
		if err != nil {
			return nil, err
		}
		if err := checkEPCPrefix(uri, p[0]); err != nil {
			return nil, err
		}
		ref, err := epcUnescape(uri, p[1])
		if err != nil {
			return nil, err
		}
		return ElementString{{AI: ai, Value: p[0] + ref}}, nil
	case "id:cpi", "idpat:cpi":
		p, err := parts(3)
		if err != nil {
			return nil, err
		}
		if err := checkEPCPrefix(uri, p[0]); err != nil {
			return nil, err
		}
		ref, err := epcUnescape(uri, p[1])
		if err != nil {
			return nil, err
		}
		es := ElementString{{AI: "8010", Value: p[0] + ref}}
		if form == "idpat" {
			return es, pattern(p)
		}
		return append(es, Element{AI: "8011", Value: p[2]}), nil
	case "id:itip", "idpat:itip":
		// GTIN, then piece and total in the same AI; the serial after.
		p, err := parts(5)
		if err != nil {
			return nil, err
		}
		gtin, err := epcKey(uri, p[0], p[1], 13, true)
		if err != nil {
			return nil, err
		}
		es := ElementString{{AI: "8006", Value: gtin + p[2] + p[3]}}
		if form == "idpat" {
			return es, pattern(p)
		}
		serial, err := epcUnescape(uri, p[4])
		if err != nil {
			return nil, err
		}
		return append(es, Element{AI: "21", Value: serial}), nil
	}
	return nil, errorf("", clip(uri), "%q is not an EPC URI of a GS1 key", clip(uri))
}

// epcKey joins an EPC URI's company prefix and reference into the GS1 key
// they stand for, with its check digit: together they are digits long;
// with extensionFirst, the reference's first digit (a GTIN's indicator, an
// SSCC's extension digit) leads the key. A reference may be empty when the
// company prefix takes all the digits.
func epcKey(uri, cp, ref string, digits int, extensionFirst bool) (string, error) {
	if err := checkEPCPrefix(uri, cp); err != nil {
		return "", err
	}
	if ref != "" && !isDigits(ref) || len(cp)+len(ref) != digits {
		return "", errorf("", clip(uri), "%q: company prefix and reference must be %d digits together", clip(uri), digits)
	}
	if extensionFirst {
		return withCheckDigit(ref[:1] + cp + ref[1:]), nil
	}
	return withCheckDigit(cp + ref), nil
}

// checkEPCPrefix checks an EPC URI's company prefix: 6 to 12 digits.
func checkEPCPrefix(uri, cp string) error {
	if len(cp) < 6 || len(cp) > 12 || !isDigits(cp) {
		return errorf("", clip(uri), "%q: the company prefix must be 6 to 12 digits", clip(uri))
	}
	return nil
}

// epcUnescape decodes the percent-escapes of an EPC URI's serial or
// reference, which must not be empty.
func epcUnescape(uri, v string) (string, error) {
	u, err := url.PathUnescape(v)
	if err != nil || u == "" {
		return "", errorf("", clip(uri), "%q: bad or empty serial or reference", clip(uri))
	}
	return u, nil
}
