package models

import (
	"maps"
	"slices"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// Canonical keys. Events name objects as EPC URNs or Digital Link URIs; the
// projection names them by the GS1 element string in bracketed form, which
// is the same whichever URI spelling (or company prefix split) a client
// used: "(01)<gtin>(21)<serial>" for a pack, "(00)<sscc>" for a container,
// "(01)<gtin>(10)<lot>" for a lot, "(01)<gtin>" for a product,
// "(414)<gln>[(254)<ext>]" for a location.

// PackKey returns the canonical key of a pack.
func PackKey(gtin, serial string) string { return gs1.SGTIN{GTIN: gtin, Serial: serial}.String() }

// ContainerKey returns the canonical key of a case or pallet.
func ContainerKey(sscc gs1.SSCC) string { return "(00)" + string(sscc) }

// LotKey returns the canonical key of a lot of a product.
func LotKey(gtin, lot string) string { return "(01)" + gtin + "(10)" + lot }

// EPCKey returns the canonical key of a parsed EPC.
func EPCKey(e gs1.EPC) string {
	switch e.Kind {
	case gs1.EPCSGTIN:
		return e.SGTIN.String()
	case gs1.EPCSSCC:
		return ContainerKey(e.SSCC)
	case gs1.EPCLGTIN:
		return LotKey(e.GTIN, e.Lot)
	case gs1.EPCGTIN:
		return "(01)" + e.GTIN
	case gs1.EPCSGLN:
		return LocationKey(e.SGLN)
	case gs1.EPCPGLN:
		return "(417)" + string(e.PGLN)
	}
	return ""
}

// LocationKey returns the canonical key of a location.
func LocationKey(l gs1.SGLN) string {
	if l.Extension == "" {
		return "(414)" + string(l.GLN)
	}
	return "(414)" + string(l.GLN) + "(254)" + l.Extension
}

// keyOf parses an EPC or location URI and returns its canonical key, or
// the URI itself when it is not a GS1 identifier (a geo: read point).
func keyOf(uri string) string {
	e, err := parseEPC(uri)
	if err != nil {
		return uri
	}
	return EPCKey(e)
}

// glnOf returns the GLN a location (SGLN) or party (PGLN) URI names, or "".
// EPCIS source and destination lists use either, by type.
func glnOf(uri string) string {
	e, err := parseEPC(uri)
	switch {
	case err != nil:
		return ""
	case e.Kind == gs1.EPCSGLN:
		return string(e.SGLN.GLN)
	case e.Kind == gs1.EPCPGLN:
		return string(e.PGLN)
	}
	return ""
}

// elementsOf returns a parsed EPC as GS1 elements, for Digital Link URIs.
func elementsOf(e gs1.EPC) gs1.ElementString {
	switch e.Kind {
	case gs1.EPCSGTIN:
		return gs1.ElementString{{AI: "01", Value: e.SGTIN.GTIN}, {AI: "21", Value: e.SGTIN.Serial}}
	case gs1.EPCSSCC:
		return gs1.ElementString{{AI: "00", Value: string(e.SSCC)}}
	case gs1.EPCLGTIN:
		return gs1.ElementString{{AI: "01", Value: e.GTIN}, {AI: "10", Value: e.Lot}}
	case gs1.EPCGTIN:
		return gs1.ElementString{{AI: "01", Value: e.GTIN}}
	case gs1.EPCSGLN:
		es := gs1.ElementString{{AI: "414", Value: string(e.SGLN.GLN)}}
		if e.SGLN.Extension != "" {
			es = append(es, gs1.Element{AI: "254", Value: e.SGLN.Extension})
		}
		return es
	case gs1.EPCPGLN:
		return gs1.ElementString{{AI: "417", Value: string(e.PGLN)}}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
