package models

import (
	"fmt"
	"slices"
	"strings"
)

// CBV 2.0 vocabularies. EPCIS 2.0 lets a standard value appear bare
// ("shipping"), as a CBV 1.x URN ("urn:epcglobal:cbv:bizstep:shipping"), as
// a GS1 Web URI ("https://ref.gs1.org/cbv/BizStep-shipping") or as that URI
// compacted with the EPCIS context's cbv: prefix ("cbv:BizStep-shipping",
// read so from rules version 2: normalizeCompact). The projection stores
// the bare form so queries match whichever form a client used; values
// outside the standard vocabulary must be absolute URIs (a company's own
// extension) and are kept as given.

// cbvVocab is one CBV vocabulary: its URN, Web URI and compact URI
// prefixes and values.
type cbvVocab struct {
	name   string // for error messages
	urn    string // "urn:epcglobal:cbv:bizstep:"
	web    string // "https://ref.gs1.org/cbv/BizStep-"
	curie  string // "cbv:BizStep-"
	values map[string]bool
}

// cbvWebBase is the IRI the EPCIS context's cbv: prefix stands for.
const cbvWebBase = "https://ref.gs1.org/cbv/"

func newVocab(name, urn, web string, values ...string) *cbvVocab {
	v := &cbvVocab{name: name, urn: urn, web: web, curie: "cbv:" + strings.TrimPrefix(web, cbvWebBase),
		values: make(map[string]bool, len(values))}
	for _, s := range values {
		v.values[s] = true
	}
	return v
}

var (
	vocabBizStep = newVocab("business step", "urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-",
		"accepting", "arriving", "assembling", "collecting", "commissioning", "consigning",
		"creating_class_instance", "cycle_counting", "decommissioning", "departing", "destroying",
		"disassembling", "dispensing", "encoding", "entering_exiting", "holding", "inspecting",
		"installing", "killing", "loading", "other", "packing", "picking", "receiving", "removing",
		"repackaging", "repairing", "replacing", "reserving", "retail_selling", "sampling",
		"sensor_reporting", "shipping", "staging_outbound", "stock_taking", "stocking", "storing",
		"transporting", "unloading", "unpacking", "void_shipping")
	vocabDisposition = newVocab("disposition", "urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-",
		"active", "available", "completeness_inferred", "completeness_verified", "conformant",
		"container_closed", "container_open", "damaged", "destroyed", "dispensed", "disposed",
		"encoded", "expired", "in_progress", "in_transit", "inactive", "mismatch_instance",
		"mismatch_class", "mismatch_quantity", "needs_replacement", "no_pedigree_match",
		"non_conformant", "non_sellable_other", "partially_dispensed", "recalled", "reserved",
		"retail_sold", "returned", "sellable_accessible", "sellable_not_accessible", "stolen",
		"unavailable", "unknown")
	vocabBizTransactionType = newVocab("business transaction type", "urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-",
		"bol", "cert", "desadv", "inv", "pedigree", "po", "poc", "prodorder", "recadv", "rma", "testprd", "testres", "upevt")
	vocabSourceDestType = newVocab("source/destination type", "urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-",
		"owning_party", "possessing_party", "location")
	vocabErrorReason = newVocab("error reason", "urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-",
		"did_not_occur", "incorrect_data")
)

// normalize returns the bare form of a standard value, or s itself when it
// is an extension URI. It fails on a bare word the vocabulary lacks, so a
// typo ("shiping") is caught rather than stored.
func (v *cbvVocab) normalize(s string) (string, error) {
	bare := s
	switch {
	case strings.HasPrefix(s, v.urn):
		bare = s[len(v.urn):]
	case strings.HasPrefix(s, v.web):
		bare = s[len(v.web):]
	case strings.Contains(s, ":"):
		return s, nil // an extension URI
	}
	if !v.values[bare] {
		return "", fmt.Errorf("%q is not a CBV %s", s, v.name)
	}
	return bare, nil
}

// normalizeCompact is normalize, and reads a standard value written as a
// compact URI (cbv:BizStep-shipping) as that value. The decoder keeps
// such a value as an extension URI, as rules version 1 did; the rules from
// version 2 and the queries read it with this.
func (v *cbvVocab) normalizeCompact(s string) (string, error) {
	if bare, ok := strings.CutPrefix(s, v.curie); ok {
		if !v.values[bare] {
			return "", fmt.Errorf("%q is not a CBV %s", s, v.name)
		}
		return bare, nil
	}
	return v.normalize(s)
}

// AsApplied is e, an event as a committed capture holds it, as Apply
// reads and stores it by the rules of version rules: from version 2 a CBV
// value written as a compact URI is the standard value (readEPCIS2), and
// version 1 kept no user fields of readPoint and bizLocation. e itself is
// left as it is. A reader that checks the projection against the ledger
// compares a stored event with this.
func (e Event) AsApplied(rules int) (Event, error) {
	if rules < rulesEPCISFidelity {
		e.ReadPointExtensions, e.BizLocationExtensions = nil, nil
		return e, nil
	}
	// readCompactValues writes in place: copy what it writes to.
	if pd := e.PersistentDisposition; pd != nil {
		e.PersistentDisposition = &PersistentDisposition{Set: slices.Clone(pd.Set), Unset: slices.Clone(pd.Unset)}
	}
	e.BizTransactionList = slices.Clone(e.BizTransactionList)
	e.SourceList = slices.Clone(e.SourceList)
	e.DestinationList = slices.Clone(e.DestinationList)
	if d := e.ErrorDeclaration; d != nil {
		c := *d
		e.ErrorDeclaration = &c
	}
	err := e.readCompactValues("")
	return e, err
}

// readCompactValues reads e's CBV values written as compact URIs as the
// standard values (normalizeCompact); a compact URI naming no standard
// value is an error at its field under path.
func (e *Event) readCompactValues(path string) error {
	var err error
	read := func(v *cbvVocab, field string, s *string) {
		if err != nil || *s == "" {
			return
		}
		n, nerr := v.normalizeCompact(*s)
		if nerr != nil {
			err = derr(join(path, field), "%v", nerr)
			return
		}
		*s = n
	}
	read(vocabBizStep, "bizStep", &e.BizStep)
	read(vocabDisposition, "disposition", &e.Disposition)
	if pd := e.PersistentDisposition; pd != nil {
		for _, l := range []struct {
			name string
			list []string
		}{{"set", pd.Set}, {"unset", pd.Unset}} {
			for j := range l.list {
				read(vocabDisposition, index(join("persistentDisposition", l.name), j), &l.list[j])
			}
		}
	}
	for j := range e.BizTransactionList {
		read(vocabBizTransactionType, join(index("bizTransactionList", j), "type"), &e.BizTransactionList[j].Type)
	}
	for j := range e.SourceList {
		read(vocabSourceDestType, join(index("sourceList", j), "type"), &e.SourceList[j].Type)
	}
	for j := range e.DestinationList {
		read(vocabSourceDestType, join(index("destinationList", j), "type"), &e.DestinationList[j].Type)
	}
	if d := e.ErrorDeclaration; d != nil {
		read(vocabErrorReason, "errorDeclaration.reason", &d.Reason)
	}
	return err
}

// webURI returns the GS1 Web URI form of a normalized value, the form the
// event hash uses.
func (v *cbvVocab) webURI(bare string) string {
	if v.values[bare] {
		return v.web + bare
	}
	return bare
}
