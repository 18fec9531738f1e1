package models

import (
	"encoding/json"
	"fmt"
	"time"
)

// CommandKind names what a replicated Command does. The payload's Go type is
// fixed by the kind.
type CommandKind string

// Command is one write to the ledger, as proposed to Raft and applied by every
// node. The leader fills Time (the record time) before proposing, so applying
// the same command on any node gives the same result.
type Command struct {
	// ID is the client-visible idempotency key: an EPCIS eventID, an
	// Idempotency-Key header or a server-generated id. Applying an ID a second
	// time returns the first Result and changes nothing.
	ID string `json:"id"`
	// Kind selects the payload type and the rule that applies it.
	Kind CommandKind `json:"kind"`
	// Actor is the organisation (its GLN) on whose authority the command is
	// made; empty for commands made by the cluster itself.
	Actor string `json:"actor,omitempty"`
	// Time is the record time stamped by the leader.
	Time time.Time `json:"time"`
	// Payload is the kind-specific body, JSON-encoded.
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Result is what applying a Command produced. A rejected command is still a
// committed ledger entry; its Result says why and it changed no state.
type Result struct {
	// Seq is the command's 1-based position in the ledger (its Merkle leaf
	// index plus one), filled by the replicated store.
	Seq uint64 `json:"seq"`
	// Accepted is false when the rules rejected the command.
	Accepted bool `json:"accepted"`
	// Code is a machine-readable reason when Accepted is false.
	Code string `json:"code,omitempty"`
	// Message is a human-readable explanation when Accepted is false.
	Message string `json:"message,omitempty"`
	// Data is optional kind-specific output, JSON-encoded.
	Data json.RawMessage `json:"data,omitempty"`
}

// The command kinds. Each names its payload type in its comment.
const (
	// KindRegisterOrganisation registers a trading partner or an admin
	// (RegisterOrganisationPayload).
	KindRegisterOrganisation CommandKind = "register_organisation"
	// KindIssueToken records a new API token's hash (IssueTokenPayload).
	KindIssueToken CommandKind = "issue_token"
	// KindRevokeToken revokes an API token (RevokeTokenPayload).
	KindRevokeToken CommandKind = "revoke_token"
	// KindRegisterProduct registers a GTIN (RegisterProductPayload).
	KindRegisterProduct CommandKind = "register_product"
	// KindRegisterKey registers a manufacturer signing key (RegisterKeyPayload).
	KindRegisterKey CommandKind = "register_key"
	// KindCaptureEvents applies a list of EPCIS events, all or nothing
	// (CaptureEventsPayload).
	KindCaptureEvents CommandKind = "capture_events"
	// KindDecommission sets an EU FMD inactive status on packs
	// (DecommissionPayload).
	KindDecommission CommandKind = "decommission"
	// KindUndoDecommission makes decommissioned packs active again
	// (UndoDecommissionPayload).
	KindUndoDecommission CommandKind = "undo_decommission"
	// KindRecall recalls one lot of a product (RecallPayload).
	KindRecall CommandKind = "recall"
	// KindAlert records a suspect verification (AlertPayload).
	KindAlert CommandKind = "alert"
	// KindAdoptRules moves the ledger to a newer version of the rules
	// (AdoptRulesPayload; see RulesVersion).
	KindAdoptRules CommandKind = "adopt_rules"
)

// NewCommand builds a Command with payload encoded as JSON. The server calls
// it after authenticating a request; the leader stamps Time before proposing.
func NewCommand(id string, kind CommandKind, actor string, at time.Time, payload any) (Command, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return Command{}, fmt.Errorf("models: encode %s payload: %w", kind, err)
	}
	return Command{ID: id, Kind: kind, Actor: actor, Time: at, Payload: raw}, nil
}
