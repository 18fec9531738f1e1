package models

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// Decoders of the structured EPCIS event fields: quantities, vocabularies,
// locations, business transactions, sources and destinations, error
// declarations, sensor elements and ILMD. Each names the bad field by path.

// decodeObjectList decodes raw, an array of JSON objects, into one T per
// object with each, which gets the object's fields and its path;
// notArray is the reason given when raw is not an array.
func decodeObjectList[T any](raw json.RawMessage, path, notArray string,
	each func(obj map[string]json.RawMessage, p string, dst *T) error) ([]T, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, derr(path, "%s", notArray)
	}
	out := make([]T, len(list))
	for i, r := range list {
		p := index(path, i)
		obj, err := decodeObject(r, p)
		if err != nil {
			return nil, err
		}
		if err := each(obj, p, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func decodeQuantities(raw json.RawMessage, path string) ([]QuantityElement, error) {
	return decodeObjectList(raw, path, "must be an array of quantity elements", func(obj map[string]json.RawMessage, p string, q *QuantityElement) error {
		for _, k := range sortedKeys(obj) {
			if k != "epcClass" && k != "quantity" && k != "uom" {
				return derr(join(p, k), "not a field of a quantity element")
			}
		}
		if err := decodeString(obj["epcClass"], join(p, "epcClass"), &q.EPCClass); err != nil {
			return err
		}
		if err := checkClassEPC(q.EPCClass, join(p, "epcClass")); err != nil {
			return err
		}
		if qr, ok := obj["quantity"]; ok {
			var f float64
			if err := json.Unmarshal(qr, &f); err != nil || f < 0 {
				return derr(join(p, "quantity"), "must be a non-negative number")
			}
			q.Quantity = &f
		}
		if ur, ok := obj["uom"]; ok {
			if q.Quantity == nil {
				return derr(join(p, "uom"), "a uom needs a quantity")
			}
			if err := decodeString(ur, join(p, "uom"), &q.UOM); err != nil {
				return err
			}
		}
		return nil
	})
}

// checkClassEPC checks that s names a class of objects (a lot or a
// product), as a quantity element's epcClass must.
func checkClassEPC(s, path string) error {
	epc, err := parseEPC(s)
	if err != nil {
		return derr(path, "%v", err)
	}
	if epc.Kind != gs1.EPCLGTIN && epc.Kind != gs1.EPCGTIN {
		return derr(path, "%q is a %s, not a class (lgtin or product)", s, epc.Kind)
	}
	return nil
}

func decodeVocab(obj map[string]json.RawMessage, field, path string, v *cbvVocab, dst *string) error {
	raw, ok := obj[field]
	if !ok {
		return nil
	}
	p := join(path, field)
	var s string
	if err := decodeString(raw, p, &s); err != nil {
		return err
	}
	n, err := v.normalize(s)
	if err != nil {
		return derr(p, "%v", err)
	}
	*dst = n
	return nil
}

func decodePersistentDisposition(raw json.RawMessage, path string) (*PersistentDisposition, error) {
	obj, err := decodeObject(raw, path)
	if err != nil {
		return nil, err
	}
	pd := &PersistentDisposition{}
	for _, k := range sortedKeys(obj) {
		r := obj[k]
		var dst *[]string
		switch k {
		case "set":
			dst = &pd.Set
		case "unset":
			dst = &pd.Unset
		default:
			return nil, derr(join(path, k), "not a field of persistentDisposition")
		}
		if err := decodeStrings(r, join(path, k), dst); err != nil {
			return nil, err
		}
		for i, s := range *dst {
			n, err := vocabDisposition.normalize(s)
			if err != nil {
				return nil, derr(index(join(path, k), i), "%v", err)
			}
			(*dst)[i] = n
		}
	}
	return pd, nil
}

// decodeLocation decodes a readPoint or bizLocation: {"id": URI} with any
// namespaced user fields beside the id (a bare URI string is accepted too).
// GS1 locations must be valid SGLNs; other URIs (geo:, a company's own) are
// kept. The user fields come back compacted, nil when there are none.
func decodeLocation(raw json.RawMessage, path string) (string, map[string]json.RawMessage, error) {
	var id string
	var ext map[string]json.RawMessage
	if isJSONString(raw) {
		if err := decodeString(raw, path, &id); err != nil {
			return "", nil, err
		}
	} else {
		obj, err := decodeObject(raw, path)
		if err != nil {
			return "", nil, err
		}
		for _, k := range sortedKeys(obj) {
			if k == "id" {
				continue
			}
			if !isExtensionKey(k) {
				return "", nil, derr(join(path, k), "not a field of a location")
			}
			if ext == nil {
				ext = map[string]json.RawMessage{}
			}
			ext[k] = compactJSON(obj[k])
		}
		if err := decodeString(obj["id"], join(path, "id"), &id); err != nil {
			return "", nil, err
		}
		path = join(path, "id")
	}
	if err := checkLocationID(id, path); err != nil {
		return "", nil, err
	}
	return id, ext, nil
}

// checkLocationID checks a location's id: a URI, and a valid SGLN when it
// claims to be a GS1 location.
func checkLocationID(id, path string) error {
	if !strings.Contains(id, ":") {
		return derr(path, "%q is not a URI", id)
	}
	if isGS1LocationURI(id) {
		epc, err := parseEPC(id)
		if err != nil {
			return derr(path, "%v", err)
		}
		if epc.Kind != gs1.EPCSGLN {
			return derr(path, "%q is a %s, not a location (sgln)", id, epc.Kind)
		}
	}
	return nil
}

// isGS1LocationURI reports whether id claims to be a GS1 location, which
// must then parse.
func isGS1LocationURI(id string) bool {
	return strings.HasPrefix(id, "urn:epc:id:sgln:") || strings.Contains(id, "/414/")
}

func decodeBizTransactions(raw json.RawMessage, path string, dst *[]BizTransaction) error {
	list, err := decodeObjectList(raw, path, "must be an array", func(obj map[string]json.RawMessage, p string, bt *BizTransaction) error {
		for _, k := range sortedKeys(obj) {
			if k != "type" && k != "bizTransaction" {
				return derr(join(p, k), "not a field of a business transaction")
			}
		}
		if err := decodeString(obj["bizTransaction"], join(p, "bizTransaction"), &bt.BizTransaction); err != nil {
			return err
		}
		return decodeVocab(obj, "type", p, vocabBizTransactionType, &bt.Type)
	})
	if err != nil {
		return err
	}
	*dst = append(*dst, list...) // an empty list leaves a nil slice nil
	return nil
}

// decodeSourceDest decodes a sourceList or destinationList into (type, id)
// pairs; idField is "source" or "destination".
func decodeSourceDest(raw json.RawMessage, path, idField string) ([][2]string, error) {
	return decodeObjectList(raw, path, "must be an array", func(obj map[string]json.RawMessage, p string, pair *[2]string) error {
		for _, k := range sortedKeys(obj) {
			if k != "type" && k != idField {
				return derr(join(p, k), "not a field of a %s", idField)
			}
		}
		var typ, id string
		if err := decodeString(obj["type"], join(p, "type"), &typ); err != nil {
			return err
		}
		typ, err := vocabSourceDestType.normalize(typ)
		if err != nil {
			return derr(join(p, "type"), "%v", err)
		}
		if err := decodeString(obj[idField], join(p, idField), &id); err != nil {
			return err
		}
		if !strings.Contains(id, ":") {
			return derr(join(p, idField), "%q is not a URI", id)
		}
		*pair = [2]string{typ, id}
		return nil
	})
}

func decodeErrorDeclaration(raw json.RawMessage, path string) (*ErrorDeclaration, error) {
	obj, err := decodeObject(raw, path)
	if err != nil {
		return nil, err
	}
	d := &ErrorDeclaration{}
	for _, k := range sortedKeys(obj) {
		r := obj[k]
		switch k {
		case "declarationTime", "reason", "correctiveEventIDs":
		default:
			if !isExtensionKey(k) {
				return nil, derr(join(path, k), "not a field of errorDeclaration")
			}
			if d.Extensions == nil {
				d.Extensions = map[string]json.RawMessage{}
			}
			d.Extensions[k] = compactJSON(r)
		}
	}
	if err := decodeTime(obj["declarationTime"], join(path, "declarationTime"), &d.DeclarationTime); err != nil {
		return nil, err
	}
	if err := decodeVocab(obj, "reason", path, vocabErrorReason, &d.Reason); err != nil {
		return nil, err
	}
	if r, ok := obj["correctiveEventIDs"]; ok {
		if err := decodeStrings(r, join(path, "correctiveEventIDs"), &d.CorrectiveEventIDs); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func decodeSensorElements(raw json.RawMessage, path string) ([]SensorElement, error) {
	return decodeObjectList(raw, path, "must be an array", func(obj map[string]json.RawMessage, p string, se *SensorElement) error {
		var err error
		for _, k := range sortedKeys(obj) {
			v := obj[k]
			switch k {
			case "sensorMetadata":
				if se.SensorMetadata, err = decodeSensorFields(v, join(p, k), sensorMetadataFields); err != nil {
					return err
				}
			case "sensorReport":
				var reports []json.RawMessage
				if err := json.Unmarshal(v, &reports); err != nil {
					return derr(join(p, k), "must be an array")
				}
				for j, rr := range reports {
					m, err := decodeSensorFields(rr, index(join(p, k), j), sensorReportFields)
					if err != nil {
						return err
					}
					se.SensorReport = append(se.SensorReport, m)
				}
			default:
				if !isExtensionKey(k) {
					return derr(join(p, k), "not a field of a sensor element")
				}
				if se.Extensions == nil {
					se.Extensions = map[string]json.RawMessage{}
				}
				se.Extensions[k] = compactJSON(v)
			}
		}
		if len(se.SensorReport) == 0 {
			return derr(join(p, "sensorReport"), "a sensor element needs at least one report")
		}
		return nil
	})
}

// decodeSensorFields decodes sensor metadata or one report: standard fields
// must be JSON scalars, other keys namespaced extensions.
func decodeSensorFields(raw json.RawMessage, path string, fields []string) (map[string]json.RawMessage, error) {
	obj, err := decodeObject(raw, path)
	if err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(obj))
	for _, k := range sortedKeys(obj) {
		v := obj[k]
		if slices.Contains(fields, k) {
			v = bytes.TrimSpace(v)
			if len(v) == 0 || v[0] == '{' || v[0] == '[' || string(v) == "null" {
				return nil, derr(join(path, k), "must be a string, number or boolean")
			}
		} else if !isExtensionKey(k) {
			return nil, derr(join(path, k), "not a standard sensor field")
		}
		out[k] = compactJSON(v)
	}
	return out, nil
}

// The ILMD keys Pedigree reads, in their compact and bare spellings.
var (
	ilmdLotKeys    = []string{"cbvmda:lotNumber", "lotNumber", "urn:epcglobal:cbv:mda:lotNumber"}
	ilmdExpiryKeys = []string{"cbvmda:itemExpirationDate", "itemExpirationDate", "urn:epcglobal:cbv:mda:itemExpirationDate"}
)

func decodeILMD(raw json.RawMessage, path string) (*ILMD, error) {
	obj, err := decodeObject(raw, path)
	if err != nil {
		return nil, err
	}
	m := &ILMD{}
	for _, k := range sortedKeys(obj) {
		v := obj[k]
		p := join(path, k)
		switch {
		case slices.Contains(ilmdLotKeys, k):
			if m.LotNumber != "" {
				return nil, derr(p, "lot given twice")
			}
			if err := decodeString(v, p, &m.LotNumber); err != nil {
				return nil, err
			}
		case slices.Contains(ilmdExpiryKeys, k):
			if m.ItemExpirationDate != "" {
				return nil, derr(p, "expiry given twice")
			}
			if err := decodeString(v, p, &m.ItemExpirationDate); err != nil {
				return nil, err
			}
			if _, err := time.Parse(time.DateOnly, m.ItemExpirationDate); err != nil {
				return nil, derr(p, "%q is not a date like 2027-06-30", m.ItemExpirationDate)
			}
		case isExtensionKey(k):
			if m.Extensions == nil {
				m.Extensions = map[string]json.RawMessage{}
			}
			m.Extensions[k] = compactJSON(v)
		default:
			return nil, derr(p, "not a known ILMD field (use a namespaced extension)")
		}
	}
	return m, nil
}
