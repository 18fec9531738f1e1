package server

import (
	"strconv"
	"time"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// A verification's answer is encoded by hand, to the same bytes
// encoding/json makes of verifyResponse (TestVerifyJSONMatchesEncodingJSON
// fills every field, through reflection, and compares; a field added to
// any of the types without its line here fails it). encoding/json's
// reflection, and its re-parsing of what time.Time's MarshalJSON returns,
// were 6% of the node's CPU per verification.

// appendJSON appends r as encoding/json would marshal it. The error is
// time.Time's for a year outside 0-9999, the one failure encoding/json
// has on this type.
func (r *verifyResponse) appendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, `{"verdict":`...)
	b = models.AppendJSONString(b, string(r.Verdict))
	b = append(b, `,"verified":`...)
	b = strconv.AppendBool(b, r.Verified)
	b = append(b, `,"reasons":`...)
	if r.Reasons == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, re := range r.Reasons {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"verdict":`...)
			b = models.AppendJSONString(b, string(re.Verdict))
			b = append(b, `,"message":`...)
			b = models.AppendJSONString(b, re.Message)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendOptString(b, `,"alert_code":`, r.AlertCode)
	b = appendOptString(b, `,"verification_failure_reason":`, r.FailureReason)
	b = appendOptString(b, `,"additional_info":`, r.AdditionalInfo)
	if p := r.Product; p != nil {
		if b, err = appendProductJSON(append(b, `,"product":`...), p); err != nil {
			return nil, err
		}
	}
	if p := r.Pack; p != nil {
		if b, err = appendPackJSON(append(b, `,"pack":`...), p); err != nil {
			return nil, err
		}
	}
	if rc := r.Recall; rc != nil {
		if b, err = appendRecallJSON(append(b, `,"recall":`...), rc); err != nil {
			return nil, err
		}
	}
	s := r.Signature
	b = append(b, `,"signature":{"status":`...)
	b = models.AppendJSONString(b, string(s.Status))
	b = appendOptString(b, `,"key_id":`, s.KeyID)
	b = appendOptString(b, `,"algorithm":`, string(s.Algorithm))
	b = appendOptString(b, `,"key_owner":`, s.KeyOwner)
	b = appendOptString(b, `,"reason":`, s.Reason)
	b = append(b, `},"scan":{"hri":`...)
	b = models.AppendJSONString(b, r.Scan.HRI)
	b = append(b, `,"ais":`...)
	b = appendElementsJSON(b, r.Scan.AIs)
	b = append(b, '}')
	if r.AlertSeq != 0 {
		b = append(b, `,"alert_seq":`...)
		b = strconv.AppendUint(b, r.AlertSeq, 10)
	}
	return append(b, '}'), nil
}

func appendProductJSON(b []byte, p *models.Product) ([]byte, error) {
	b = append(b, `{"gtin":`...)
	b = models.AppendJSONString(b, p.GTIN)
	b = append(b, `,"name":`...)
	b = models.AppendJSONString(b, p.Name)
	b = append(b, `,"manufacturer":`...)
	b = models.AppendJSONString(b, p.Manufacturer)
	b = appendOptString(b, `,"form":`, p.Form)
	b = appendOptString(b, `,"strength":`, p.Strength)
	b = appendOptString(b, `,"pack_size":`, p.PackSize)
	b = append(b, `,"signed":`...)
	b = strconv.AppendBool(b, p.Signed)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, p.Seq, 10)
	b = append(b, `,"record_time":`...)
	b, err := appendJSONTime(b, p.RecordTime)
	return append(b, '}'), err
}

func appendPackJSON(b []byte, p *packView) ([]byte, error) {
	b = append(b, `{"gtin":`...)
	b = models.AppendJSONString(b, p.GTIN)
	b = append(b, `,"serial":`...)
	b = models.AppendJSONString(b, p.Serial)
	b = append(b, `,"lot":`...)
	b = models.AppendJSONString(b, p.Lot)
	b = append(b, `,"expiry":`...)
	b = models.AppendJSONString(b, p.Expiry)
	b = append(b, `,"status":`...)
	b = models.AppendJSONString(b, p.Status)
	b = append(b, `,"holder":`...)
	b = models.AppendJSONString(b, p.Holder)
	b = appendOptString(b, `,"decommissioned_by":`, p.DecommissionedBy)
	var err error
	if p.DecommissionedAt != nil {
		if b, err = appendJSONTime(append(b, `,"decommissioned_at":`...), *p.DecommissionedAt); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, p.Seq, 10)
	return append(b, '}'), nil
}

func appendRecallJSON(b []byte, r *models.Recall) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, r.ID, 10)
	b = append(b, `,"gtin":`...)
	b = models.AppendJSONString(b, r.GTIN)
	b = append(b, `,"lot":`...)
	b = models.AppendJSONString(b, r.Lot)
	b = append(b, `,"by":`...)
	b = models.AppendJSONString(b, r.RecalledBy)
	b = appendOptString(b, `,"reason":`, r.Reason)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	b = append(b, `,"record_time":`...)
	b, err := appendJSONTime(b, r.RecordTime)
	return append(b, '}'), err
}

func appendElementsJSON(b []byte, es gs1.ElementString) []byte {
	if es == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, e := range es {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"ai":`...)
		b = models.AppendJSONString(b, e.AI)
		b = append(b, `,"value":`...)
		b = models.AppendJSONString(b, e.Value)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendOptString appends key and s unless s is empty (omitempty).
func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return models.AppendJSONString(append(b, key...), s)
}

// appendJSONTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds, quoted).
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	text, err := t.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return append(b, text...), nil
}
