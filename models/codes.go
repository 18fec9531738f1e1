package models

import "fmt"

// Result codes: the machine-readable reasons Apply gives when it rejects a
// command. The server maps them to HTTP statuses; clients branch on them.
const (
	CodeBadPayload       = "bad_payload"     // payload does not decode or a field is invalid
	CodeUnknownKind      = "unknown_kind"    // no rule for the command kind
	CodeUnknownActor     = "unknown_actor"   // the actor is not a registered organisation
	CodeForbidden        = "forbidden"       // the actor's role or identity may not do this
	CodeConflict         = "conflict"        // the thing already exists
	CodeNotFound         = "not_found"       // a referenced organisation, token, key ... is unknown
	CodeUnknownProduct   = "unknown_product" // GTIN not registered
	CodeUnknownItem      = "unknown_item"    // pack or container never commissioned
	CodeNotYourPrefix    = "not_your_prefix" // GTIN outside the manufacturer's company prefixes
	CodeAlreadyExists    = "already_commissioned"
	CodeNotCustodian     = "not_custodian"     // the actor does not hold the item
	CodeNotDestination   = "not_destination"   // receipt by someone the shipment was not for
	CodeNotInTransit     = "not_in_transit"    // receipt of something not shipped
	CodeInactive         = "inactive"          // item is not active (double dispense ...)
	CodeFinal            = "final_status"      // destroyed or stolen
	CodeInContainer      = "in_container"      // act on the container, or unpack first
	CodeUndoOtherOrg     = "undo_other_org"    // undo by another organisation or premises
	CodeUndoTooLate      = "undo_too_late"     // more than 10 days after the decommission
	CodeUndoNotAllowed   = "undo_not_allowed"  // expired, recalled or supplied to the public
	CodeRecalled         = "recalled"          // the lot is recalled: recalled again, or a pack of it supplied
	CodeExpired          = "expired"           // an expired pack supplied
	CodeUnsupportedEvent = "unsupported_event" // an event the rules cannot apply
	CodeInternal         = "internal_error"    // storage failure or a bug; see Message
	CodeRulesTooNew      = "rules_too_new"     // Apply alone: the command adopts rules this binary lacks
	// CodeIDReused answers a command whose id the ledger already holds for
	// a different command (kind, actor or payload): the id, an
	// Idempotency-Key, names one request. Nothing is recorded.
	CodeIDReused = "idempotency_key_reused"
)

// Rejection is a rule's refusal of a command. Apply turns it into a Result
// with Accepted false.
type Rejection struct {
	Code    string
	Message string
}

// Error returns the code and message.
func (r *Rejection) Error() string { return r.Code + ": " + r.Message }

// reject builds a Rejection with a formatted message.
func reject(code, format string, args ...any) *Rejection {
	return &Rejection{Code: code, Message: fmt.Sprintf(format, args...)}
}
