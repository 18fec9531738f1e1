package models

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// The EPCIS MATCH_* filters. Each looks for identifiers in the roles the
// standard gives it (EPCIS 2.0 §8.2.7.1): MATCH_epc in epcList and
// childEPCs, MATCH_parentID in parentID, MATCH_inputEPC and
// MATCH_outputEPC in a transformation's lists, MATCH_anyEPC in all of
// those, and the MATCH_*EPCClass filters in the matching quantity lists.
// Different filters must all match; the values of one filter are
// alternatives.

// EPCMatch is one MATCH_* filter of an EventQuery.
type EPCMatch struct {
	// Param is the EPCIS parameter, one of MatchParams.
	Param string
	// Values are EPC URIs (urn:epc:id:sgtin:..., urn:epc:class:lgtin:...),
	// EPC patterns (urn:epc:idpat:sgtin:CP.IIR.*, CP.*.*, *.*.*, and
	// urn:epc:idpat:sscc:CP.*, *.*) or GS1 Digital Link URIs. A Digital
	// Link naming a product alone (/01/{gtin}) matches as the pattern of
	// that product does.
	Values []string
}

// matchRoles is the roles each MATCH_* parameter looks in.
var matchRoles = map[string]int{
	"MATCH_epc":            RoleEPCList | RoleChildEPC,
	"MATCH_parentID":       RoleParentID,
	"MATCH_inputEPC":       RoleInputEPC,
	"MATCH_outputEPC":      RoleOutputEPC,
	"MATCH_anyEPC":         instanceRoles,
	"MATCH_epcClass":       RoleQuantity,
	"MATCH_inputEPCClass":  RoleInputQuantity,
	"MATCH_outputEPCClass": RoleOutputQuantity,
	"MATCH_anyEPCClass":    classRoles,
}

// MatchParams returns the names of the MATCH_* parameters QueryEvents
// understands, sorted.
func MatchParams() []string {
	names := make([]string, 0, len(matchRoles))
	for k := range matchRoles {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// MaxMatchRanges bounds the key ranges one query's patterns may ask for.
// A pattern of a company's products (CP.*.*) is ten ranges, one for each
// indicator digit a GTIN may begin with.
const MaxMatchRanges = 1000

// keyMatch is what one MATCH_* filter selects in the event-EPC index:
// rows with one of the roles and either one of the keys or a key in one of
// the half-open ranges [from, to).
type keyMatch struct {
	roles  int
	keys   []string
	ranges [][2]string
}

// parseMatch reads the values of m into the keys and key ranges they
// select.
func parseMatch(m EPCMatch) (keyMatch, error) {
	roles, ok := matchRoles[m.Param]
	if !ok {
		return keyMatch{}, fmt.Errorf("%w: %q is not a MATCH_ parameter", ErrBadQuery, m.Param)
	}
	km := keyMatch{roles: roles}
	classes := roles&classRoles != 0
	for _, v := range m.Values {
		if err := km.add(v, classes); err != nil {
			return keyMatch{}, fmt.Errorf("%w: %s: %v", ErrBadQuery, m.Param, err)
		}
	}
	return km, nil
}

// add adds what the value v selects: instances, or classes when classes
// is set.
func (km *keyMatch) add(v string, classes bool) error {
	if rest, ok := strings.CutPrefix(v, "urn:epc:idpat:"); ok {
		scheme, body, _ := strings.Cut(rest, ":")
		switch scheme {
		case "sgtin":
			return km.addProductPattern(v, body, classes)
		case "sscc":
			if classes {
				return fmt.Errorf("%q is a pattern of logistic units, not of classes", v)
			}
			return km.addCompanyPattern(v, body, "(00)", 2)
		}
		return fmt.Errorf("%q: only sgtin and sscc patterns name what a pharmaceutical ledger holds", v)
	}
	e, err := parseEPC(v)
	if err != nil {
		return err
	}
	switch {
	case e.Kind == gs1.EPCGTIN:
		km.addProduct(e.GTIN, classes)
	case classes && e.Kind == gs1.EPCLGTIN:
		km.keys = append(km.keys, EPCKey(e))
	case classes:
		return fmt.Errorf("%q is not a class of products (an LGTIN, a GTIN or an sgtin pattern)", v)
	case e.Kind == gs1.EPCSGTIN || e.Kind == gs1.EPCSSCC || e.Kind == gs1.EPCGIAI:
		km.keys = append(km.keys, EPCKey(e))
	case e.Kind == gs1.EPCLGTIN:
		return fmt.Errorf("%q is a class, not an instance: ask with MATCH_epcClass or MATCH_anyEPCClass", v)
	default:
		return fmt.Errorf("%q names a place or a party, not an object", v)
	}
	return nil
}

// addProduct selects a product's packs (instances) or its classes: the
// product itself and its lots.
func (km *keyMatch) addProduct(gtin string, classes bool) {
	if classes {
		km.keys = append(km.keys, "(01)"+gtin)
		km.addPrefix("(01)" + gtin + "(10)")
		return
	}
	km.addPrefix("(01)" + gtin + "(21)")
}

// addProductPattern reads the body of an sgtin pattern: CP.IIR.* (one
// product), CP.*.* (a company's products) or *.*.* (every product).
func (km *keyMatch) addProductPattern(v, body string, classes bool) error {
	fields := strings.Split(body, ".")
	switch {
	case len(fields) == 3 && fields[1] != "*":
		e, err := parseEPC(v)
		if err != nil {
			return err
		}
		km.addProduct(e.GTIN, classes)
		return nil
	case len(fields) == 3 && fields[2] == "*":
		return km.addCompanyPattern(v, fields[0]+"."+fields[1], "(01)", 2)
	}
	return fmt.Errorf("%q is not an sgtin pattern (CP.IIR.*, CP.*.* or *.*.*)", v)
}

// addCompanyPattern reads CP.* (or CP.*.* as its first two fields) under
// the key prefix of its kind: a GS1 key's digits begin with an indicator
// or extension digit and then the company prefix, so a company's keys are
// ten ranges. GS1 hands out company prefixes so that none begins another,
// which makes these ranges exactly the company's. "*.*" is every key of
// the kind.
func (km *keyMatch) addCompanyPattern(v, body, prefix string, fields int) error {
	parts := strings.Split(body, ".")
	if len(parts) != fields || parts[1] != "*" {
		return fmt.Errorf("%q is not a pattern ending in .*", v)
	}
	cp := parts[0]
	if cp == "*" {
		km.addPrefix(prefix)
		return nil
	}
	if len(cp) < 6 || len(cp) > 12 || strings.Trim(cp, "0123456789") != "" {
		return fmt.Errorf("%q: a company prefix is 6 to 12 digits", v)
	}
	for d := '0'; d <= '9'; d++ {
		km.addPrefix(prefix + string(d) + cp)
	}
	return nil
}

// addPrefix selects the keys beginning with p: keys are ASCII, so they lie
// from p up to p with its last byte one higher.
func (km *keyMatch) addPrefix(p string) {
	end := []byte(p)
	end[len(end)-1]++
	km.ranges = append(km.ranges, [2]string{p, string(end)})
}

// sql is the condition selecting the events km matches, and its values.
func (km keyMatch) sql() (string, []any) {
	ids, args := km.eventIDs()
	return "id IN (" + ids + ")", args
}

// exists is the condition that an event_records row is one km matches,
// read through the event's own rows of the event-EPC index
// (eventEPCsByEventIndex): a few lookups per event, however many events km
// matches in all.
func (km keyMatch) exists() (string, []any) {
	var parts []string
	var args []any
	if len(km.keys) > 0 {
		parts = append(parts, `EXISTS (SELECT 1 FROM event_epcs AS e WHERE e.event_id = event_records.id AND e."key" IN ? AND e.roles & ? <> 0)`)
		args = append(args, km.keys, km.roles)
	}
	if len(km.ranges) > 0 {
		values := "(?,?)" + strings.Repeat(",(?,?)", len(km.ranges)-1)
		parts = append(parts, `EXISTS (SELECT 1 FROM (VALUES `+values+`) AS r
			JOIN event_epcs AS e ON e.event_id = event_records.id AND e."key" >= r.column1 AND e."key" < r.column2 WHERE e.roles & ? <> 0)`)
		for _, r := range km.ranges {
			args = append(args, r[0], r[1])
		}
		args = append(args, km.roles)
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}

// eventIDs is the statement selecting the ids of the events km matches,
// through the event-EPC index.
func (km keyMatch) eventIDs() (string, []any) {
	return km.indexRows(true)
}

// indexRows selects, with roles, the ids of the events km matches; without,
// the event-EPC rows under km's keys whatever their roles, which reads no
// row it does not select (a count of them stops where it is told to).
func (km keyMatch) indexRows(roles bool) (string, []any) {
	var parts []string
	var args []any
	roleCond := func(col string) string {
		if !roles {
			return ""
		}
		args = append(args, km.roles)
		return " AND " + col + " & ? <> 0"
	}
	if len(km.keys) > 0 {
		args = append(args, km.keys)
		parts = append(parts, `SELECT event_id FROM event_epcs WHERE "key" IN ?`+roleCond("roles"))
	}
	if len(km.ranges) > 0 {
		// The ranges drive the join, each an index range of keys.
		values := "(?,?)" + strings.Repeat(",(?,?)", len(km.ranges)-1)
		for _, r := range km.ranges {
			args = append(args, r[0], r[1])
		}
		parts = append(parts, `SELECT e.event_id FROM (VALUES `+values+`) AS r
			JOIN event_epcs AS e ON e."key" >= r.column1 AND e."key" < r.column2 WHERE 1`+roleCond("e.roles"))
	}
	return strings.Join(parts, " UNION ALL "), args
}
