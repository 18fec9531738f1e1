package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Apply applies one committed command to the projection inside tx and says
// whether the rules accepted it. seq is the command's 1-based ledger
// position; it is recorded on everything the command writes.
//
// Apply is deterministic: the same projection, seq and command give the same
// writes and Result on every node. It never panics: a bad payload, a broken
// rule or a storage error all come back as Accepted false with a Code and a
// Message. When it rejects a command it may have written part of it, so the
// caller runs it inside a SAVEPOINT and rolls back to it on rejection, then
// calls RecordRejection in the same transaction, which records the alerts
// that some rejections raise.
//
// An adoption of rules newer than this binary's, which a node applying
// entries in a Batch must stop at (ErrRulesTooNew), is here a rejection
// with CodeRulesTooNew.
func Apply(tx *gorm.DB, seq uint64, cmd Command) Result {
	res, _, fault := NewBatch().run(tx, seq, cmd)
	if fault != nil {
		return Result{Seq: seq, Code: CodeRulesTooNew, Message: fault.Error()}
	}
	return res
}

// run applies cmd to the projection (or, while b.inMemory, to b's pending
// capture). needSQL says the command stopped, unapplied, because it needs
// the database to hold everything first (see Batch). fault is an error
// b.IsFault calls this node's own: the command has no result.
func (b *Batch) run(tx *gorm.DB, seq uint64, cmd Command) (res Result, needSQL bool, fault error) {
	res.Seq = seq
	defer func() {
		if p := recover(); p != nil {
			res, needSQL, fault = Result{Seq: seq, Code: CodeInternal, Message: fmt.Sprintf("rule for %s failed: %v", cmd.Kind, p)}, false, nil
		}
	}()
	data, err := applyRule(tx, seq, cmd, b)
	if err != nil {
		var rej *Rejection
		switch {
		case errors.Is(err, errNeedSQL):
			return Result{Seq: seq}, true, nil
		case errors.As(err, &rej):
			return Result{Seq: seq, Code: rej.Code, Message: rej.Message}, false, nil
		case errors.Is(err, ErrRulesTooNew), b.IsFault != nil && b.IsFault(err):
			return Result{}, false, fmt.Errorf("models: %s %s at seq %d: %w", cmd.Kind, cmd.ID, seq, err)
		}
		return Result{Seq: seq, Code: CodeInternal, Message: err.Error()}, false, nil
	}
	res.Accepted = true
	if data != nil {
		raw, err := json.Marshal(data)
		if err != nil {
			return Result{Seq: seq, Code: CodeInternal, Message: fmt.Sprintf("encode result: %v", err)}, false, nil
		}
		res.Data = raw
	}
	return res, false, nil
}

// RecordRejection writes what a rejected command leaves behind after its own
// writes were rolled back: an Alert when the rejection is one regulators must
// see (a receipt by someone who is not the shipment's destination). Call it
// in the same transaction, after rolling back to the command's savepoint.
func RecordRejection(tx *gorm.DB, seq uint64, cmd Command, res Result) error {
	if res.Accepted || res.Code != CodeNotDestination {
		return nil
	}
	alert := Alert{
		Verdict:    AlertWrongReceiver,
		Actor:      cmd.Actor,
		Location:   cmd.Actor,
		Message:    res.Message,
		Seq:        seq,
		RecordTime: cmd.Time.UTC(),
	}
	if err := tx.Create(&alert).Error; err != nil {
		return fmt.Errorf("models: record alert for rejected command %s: %w", cmd.ID, err)
	}
	return nil
}

// AlertWrongReceiver is the Alert verdict for a receipt by an organisation
// that was not the shipment's destination.
const AlertWrongReceiver = "wrong_receiver"

// applyRule dispatches to the rule for cmd.Kind. A non-nil first result is
// encoded into Result.Data.
func applyRule(tx *gorm.DB, seq uint64, cmd Command, b *Batch) (any, error) {
	a := &applier{tx: tx, seq: seq, cmd: cmd, at: cmd.Time.UTC(), batch: b}
	var err error
	if a.rules, err = b.activeRules(tx); err != nil {
		return nil, err
	}
	if err := a.loadActor(); err != nil {
		return nil, err
	}
	switch cmd.Kind {
	case KindRegisterOrganisation:
		var p RegisterOrganisationPayload
		return decodeThen(cmd, &p, func() (any, error) { return nil, a.registerOrganisation(p) })
	case KindIssueToken:
		var p IssueTokenPayload
		return decodeThen(cmd, &p, func() (any, error) { return nil, a.issueToken(p) })
	case KindRevokeToken:
		var p RevokeTokenPayload
		return decodeThen(cmd, &p, func() (any, error) { return nil, a.revokeToken(p) })
	case KindRegisterProduct:
		var p RegisterProductPayload
		return decodeThen(cmd, &p, func() (any, error) { return nil, a.registerProduct(p) })
	case KindRegisterKey:
		var p RegisterKeyPayload
		return decodeThen(cmd, &p, func() (any, error) { return nil, a.registerKey(p) })
	case KindCaptureEvents:
		var p CaptureEventsPayload
		if events, ok := b.takeDecoded(cmd); ok {
			p.Events = events
			return a.captureEvents(p)
		}
		return decodeThen(cmd, &p, func() (any, error) { return a.captureEvents(p) })
	case KindDecommission:
		var p DecommissionPayload
		return decodeThen(cmd, &p, func() (any, error) { return nil, a.decommission(p) })
	case KindUndoDecommission:
		var p UndoDecommissionPayload
		return decodeThen(cmd, &p, func() (any, error) { return nil, a.undoDecommission(p) })
	case KindRecall:
		var p RecallPayload
		return decodeThen(cmd, &p, func() (any, error) { return nil, a.recall(p) })
	case KindAlert:
		var p AlertPayload
		return decodeThen(cmd, &p, func() (any, error) { return nil, a.alert(p) })
	case KindAdoptRules:
		var p AdoptRulesPayload
		return decodeThen(cmd, &p, func() (any, error) { return nil, a.adoptRules(p) })
	}
	return nil, reject(CodeUnknownKind, "unknown command kind %q", cmd.Kind)
}

// decodeThen strictly decodes the command's payload into p and runs rule.
func decodeThen(cmd Command, p any, rule func() (any, error)) (any, error) {
	// A capture (up to 10,000 events) is decoded in one pass when it is
	// well formed; the strict decoder below only re-reads what that pass
	// refuses, to reject it with the usual message.
	if cp, ok := p.(*CaptureEventsPayload); ok {
		if events, ok := decodeCaptureFast(bytes.Trim(cmd.Payload, jsonSpace)); ok {
			cp.Events = events
			return rule()
		}
	}
	dec := json.NewDecoder(bytes.NewReader(cmd.Payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return nil, reject(CodeBadPayload, "%s payload: %v", cmd.Kind, err)
	}
	if dec.More() {
		return nil, reject(CodeBadPayload, "%s payload: trailing data", cmd.Kind)
	}
	return rule()
}

// jsonSpace is the whitespace JSON allows around a value (RFC 8259 §2).
const jsonSpace = " \t\r\n"

// applier carries one command's context through its rule.
type applier struct {
	tx  *gorm.DB
	seq uint64
	cmd Command
	at  time.Time // record time, UTC
	// actor is the acting organisation; nil when the cluster itself acts
	// (cmd.Actor empty), which only bootstrap and internal commands do.
	actor *Organisation
	// batch holds what earlier commands of the transaction read.
	batch *Batch
	// rules is the version of the rules the command is judged by.
	rules int
}

// loadActor looks up the acting organisation.
func (a *applier) loadActor() error {
	if a.cmd.Actor == "" {
		return nil
	}
	org, seen := a.batch.actors[a.cmd.Actor]
	if !seen {
		found, ok, err := findOrganisation(a.tx, a.cmd.Actor)
		if err != nil {
			return fmt.Errorf("load actor: %w", err)
		}
		if ok {
			org = &found
		}
		a.batch.actors[a.cmd.Actor] = org
	}
	if org == nil {
		return reject(CodeUnknownActor, "actor %q is not a registered organisation", a.cmd.Actor)
	}
	// The rule gets its own copy: the remembered row stays as stored.
	actor := *org
	a.actor = &actor
	return nil
}

// registeredOrg loads organisation id for a rule; its absence rejects the
// command, naming id as what ("organisation", "manufacturer").
func (a *applier) registeredOrg(id, what string) (Organisation, error) {
	org, ok, err := findOrganisation(a.tx, id)
	if err != nil {
		return org, fmt.Errorf("look up %s: %w", what, err)
	}
	if !ok {
		return org, reject(CodeNotFound, "%s %q is not registered", what, id)
	}
	return org, nil
}

// isCluster reports whether the cluster itself, not an organisation, acts.
func (a *applier) isCluster() bool { return a.actor == nil }

// isAdmin reports whether the actor is the cluster or an admin.
func (a *applier) isAdmin() bool { return a.actor == nil || a.actor.Role == RoleAdmin }

// actorID is the acting organisation's id ("" for the cluster).
func (a *applier) actorID() string { return a.cmd.Actor }
