package models

// The roles an identifier plays in an event, as the event-EPC index
// records them. EPCIS queries select by role: MATCH_epc looks in epcList
// and childEPCs, MATCH_parentID in parentID only, MATCH_anyEPC in every
// instance field, and the MATCH_*EPCClass parameters in the quantity
// lists. An index row with no role (0) is an item inside a container the
// event moved or emptied: provenance follows those, EPCIS queries do not.
const (
	RoleEPCList        = 1 << iota // epcList
	RoleChildEPC                   // childEPCs
	RoleParentID                   // parentID
	RoleInputEPC                   // inputEPCList
	RoleOutputEPC                  // outputEPCList
	RoleQuantity                   // an epcClass of quantityList or childQuantityList
	RoleInputQuantity              // an epcClass of inputQuantityList
	RoleOutputQuantity             // an epcClass of outputQuantityList
)

// contentsKey is the key under which the event-EPC index holds an item
// inside a container an event moved, or one an unpacking of all took out
// (with no role): apart from the keys events name, so that EPCIS queries,
// which look only at what events name, never read those rows, however
// often a product's cases and pallets move. Provenance reads both. No
// identifier's key begins with "~".
func contentsKey(key string) string { return "~" + key }

// contentsKeySQL is contentsKey in SQL, of the column or value expr.
func contentsKeySQL(expr string) string { return `'~' || ` + expr }

// Role sets the MATCH_* parameters select by.
const (
	instanceRoles = RoleEPCList | RoleChildEPC | RoleParentID | RoleInputEPC | RoleOutputEPC
	classRoles    = RoleQuantity | RoleInputQuantity | RoleOutputQuantity
)

// keyRoles is one identifier an event names, by its canonical key, and the
// roles it plays there.
type keyRoles struct {
	key   string
	roles int
}

// eventKeyRoles lists the identifiers e names, each key once with all its
// roles, in the order the event first names them.
func eventKeyRoles(e *Event) []keyRoles {
	var out []keyRoles
	// Most events name one to a few identifiers, which a scan finds; a
	// pallet's may name thousands, which a map finds.
	var at map[string]int
	add := func(uri string, role int) {
		k := keyOf(uri)
		if at == nil && len(out) > 8 {
			at = make(map[string]int, 2*len(out))
			for i, kr := range out {
				at[kr.key] = i
			}
		}
		if at != nil {
			if i, ok := at[k]; ok {
				out[i].roles |= role
				return
			}
			at[k] = len(out)
		} else {
			for i := range out {
				if out[i].key == k {
					out[i].roles |= role
					return
				}
			}
		}
		out = append(out, keyRoles{k, role})
	}
	for _, l := range []struct {
		uris []string
		role int
	}{{e.EPCList, RoleEPCList}, {e.ChildEPCs, RoleChildEPC}, {e.InputEPCList, RoleInputEPC}, {e.OutputEPCList, RoleOutputEPC}} {
		for _, s := range l.uris {
			add(s, l.role)
		}
	}
	if e.ParentID != "" {
		add(e.ParentID, RoleParentID)
	}
	for _, l := range []struct {
		list []QuantityElement
		role int
	}{{e.QuantityList, RoleQuantity}, {e.ChildQuantityList, RoleQuantity}, {e.InputQuantityList, RoleInputQuantity}, {e.OutputQuantityList, RoleOutputQuantity}} {
		for _, q := range l.list {
			add(q.EPCClass, l.role)
		}
	}
	return out
}
