package models

import (
	"bytes"
	"encoding/json"
)

// The payloads of the command kinds. They are decoded strictly (unknown fields
// are rejected) so a typo in a client's request fails loudly instead of being
// ignored on every node.

// RegisterOrganisationPayload registers an organisation. ID is its GLN (13
// digits) for a trading partner or regulator, or a short name for an admin.
type RegisterOrganisationPayload struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Prefixes are the GS1 company prefixes the organisation licenses; a
	// manufacturer commissions only GTINs under one of them.
	Prefixes []string `json:"prefixes,omitempty"`
}

// IssueTokenPayload records an API token. Only the SHA-256 of the token
// travels through the ledger; the token itself is shown once to its holder.
type IssueTokenPayload struct {
	// TokenSHA256 is the lowercase hex SHA-256 of the bearer token.
	TokenSHA256 string `json:"token_sha256"`
	// OrgID is the organisation the token authenticates as.
	OrgID string `json:"org_id"`
	// Label is a free-text note for humans ("warehouse scanner 3").
	Label string `json:"label,omitempty"`
}

// RevokeTokenPayload revokes the token with the given hash.
type RevokeTokenPayload struct {
	TokenSHA256 string `json:"token_sha256"`
}

// RegisterProductPayload registers a product (one GTIN) of a manufacturer.
type RegisterProductPayload struct {
	// GTIN in any of its GS1 lengths; stored as GTIN-14.
	GTIN string `json:"gtin"`
	Name string `json:"name"`
	// Manufacturer is the GLN of the organisation owning the GTIN's company
	// prefix; empty means the actor.
	Manufacturer string `json:"manufacturer,omitempty"`
	// Form, Strength and PackSize describe the product for humans.
	Form     string `json:"form,omitempty"`
	Strength string `json:"strength,omitempty"`
	PackSize string `json:"pack_size,omitempty"`
	// Signed says packs of this product carry an AI 8030 signature, so an
	// unsigned scan of it is suspect.
	Signed bool `json:"signed,omitempty"`
}

// RegisterKeyPayload registers a manufacturer's public signing key.
type RegisterKeyPayload struct {
	// KeyID is the id signed codes carry: it must be KeyID(Algorithm,
	// PublicKey), the 4 characters derived from the key.
	KeyID string `json:"key_id"`
	// OrgID owns the key; empty means the actor.
	OrgID string `json:"org_id,omitempty"`
	// Algorithm is AlgEd25519 or AlgECDSAP256.
	Algorithm string `json:"algorithm"`
	// PublicKey is the raw key: 32 bytes for Ed25519, a 65-byte uncompressed
	// or 33-byte compressed point for P-256 (base64 in JSON).
	PublicKey []byte `json:"public_key"`
}

// The signing algorithms a key may use.
const (
	AlgEd25519   = "ed25519"
	AlgECDSAP256 = "ecdsa-p256"
)

// DecommissionPayload sets an EU FMD inactive status on packs.
type DecommissionPayload struct {
	// EPCs are the packs, as EPC URIs or GS1 Digital Link URIs.
	EPCs []string `json:"epcs"`
	// Status is one of the decommissioned statuses (StatusDispensed, ...).
	Status Status `json:"status"`
	// Location is the GLN (or SGLN URI) of the premises; empty means the
	// actor's own GLN. An undo must come from the same premises.
	Location string `json:"location,omitempty"`
	// SuppliedToPublic says the pack has left with a patient. Such a
	// dispense can never be undone (Delegated Regulation 2016/161 Art. 13).
	SuppliedToPublic bool `json:"supplied_to_public,omitempty"`
	// Reason is free text for the record.
	Reason string `json:"reason,omitempty"`
}

// UndoDecommissionPayload makes decommissioned packs active again.
type UndoDecommissionPayload struct {
	EPCs []string `json:"epcs"`
	// Location as in DecommissionPayload; it must match the decommission's.
	Location string `json:"location,omitempty"`
}

// RecallPayload recalls one lot of a product.
type RecallPayload struct {
	GTIN   string `json:"gtin"`
	Lot    string `json:"lot"`
	Reason string `json:"reason,omitempty"`
}

// AlertPayload records a suspect verification or other finding regulators
// must see. The server proposes one for every non-authentic verdict.
type AlertPayload struct {
	// Verdict is the verification verdict (or another alert kind).
	Verdict Verdict `json:"verdict"`
	// Code is the EU FMD alert code, when one applies.
	Code string `json:"code,omitempty"`
	// Scanned is the scanned element string in bracketed form
	// (gs1.ElementString.HRI: a "(" in a value is written "\(", so the
	// text reads back as the same scan). Alerts raised before that wrote
	// it unescaped.
	Scanned string `json:"scanned,omitempty"`
	GTIN    string `json:"gtin,omitempty"`
	Serial  string `json:"serial,omitempty"`
	Lot     string `json:"lot,omitempty"`
	// Location is the GLN where the scan happened.
	Location string `json:"location,omitempty"`
	Message  string `json:"message,omitempty"`
}

// CaptureEventsPayload is a list of EPCIS events applied all or nothing, in
// order: a later event may act on packs an earlier one commissioned. Each
// event is decoded strictly (DecodeEvent).
type CaptureEventsPayload struct {
	Events []Event `json:"events"`
}

// CaptureResult is the Result.Data of an accepted capture_events: the event
// ids in order, hash ids filled in for events that had none.
type CaptureResult struct {
	EventIDs []string `json:"event_ids"`
}

// UnmarshalJSON decodes the events strictly, naming a bad field by its
// position ("events[3].epcList[0]").
func (p *CaptureEventsPayload) UnmarshalJSON(data []byte) error {
	// One pass reads a well-formed payload; whatever it cannot decide the
	// strict passes decide, with the same messages as ever.
	if events, ok := decodeCaptureFast(data); ok {
		p.Events = events
		return nil
	}
	return p.decodeStrict(data)
}

// decodeStrict is the strict decoding of a capture payload: the payload
// split into events, each event decoded by decodeEvent. It is the
// reference the one-pass decoder must agree with.
func (p *CaptureEventsPayload) decodeStrict(data []byte) error {
	var wire struct {
		Events []json.RawMessage `json:"events"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if dec.Decode(&wire) != nil || wire.Events == nil {
		obj, err := decodeObject(data, "")
		if err != nil {
			return err
		}
		for _, k := range sortedKeys(obj) {
			if k != "events" {
				return derr(k, "unknown field")
			}
		}
		return derr("events", "must be an array of events")
	}
	var err error
	raws := wire.Events
	p.Events = make([]Event, len(raws))
	for i, r := range raws {
		if p.Events[i], err = decodeEvent(r, index("events", i)); err != nil {
			return err
		}
	}
	return nil
}
