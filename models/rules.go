package models

import (
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Versioned rules. A ledger entry's result is part of its Merkle leaf, so
// every node must judge an entry as every other node did, and as it will
// when it replays the entry years later. A binary that changes a rule
// therefore keeps the old rule too, and applies the new one only from the
// entry where the ledger adopted its version (KindAdoptRules) onwards.
// Nodes can then be upgraded one at a time: until the adoption commits,
// new binaries judge as old ones do. A node that meets an adoption of
// rules newer than it knows stops (ErrRulesTooNew) rather than judge by
// rules it does not have; it goes on once its binary is upgraded.
//
// Version 1 is the rules as they were before they had versions, so a
// ledger without an adoption is at version 1.

// RulesVersion is the newest version of the rules this binary applies.
const RulesVersion = 3

// The versions of the rules, each named for what it changed.
const (
	// rulesEPCISFidelity (2): EPCIS 2.0 and CBV 2.0 conformance.
	//   - The event hash (CBV 2.0 §8.9) writes every GS1 identifier as its
	//     canonical Digital Link (a sensor's GIAI, a GDTI in a
	//     bizTransaction, a transformationID), expands compact URIs
	//     (gs1:Temperature) and covers the user fields of readPoint and
	//     bizLocation.
	//   - An eventTimeZoneOffset beyond -14:00 to +14:00 is refused.
	//   - A CBV value written as a compact URI (cbv:BizStep-shipping) is
	//     the standard value it names, not an extension.
	rulesEPCISFidelity = 2
	// rulesCaptureConsistency (3): a capture records only what the ledger
	// can stand behind.
	//   - A commissioned pack's lot (ILMD cbvmda:lotNumber) is one AI (10)
	//     carries, 1 to 20 characters of CSET 82, or no code could name it
	//     and no recall reach it; its expiry (cbvmda:itemExpirationDate)
	//     is one AI (17) carries, its two-digit year read in the century
	//     the GS1 rule gives it at the entry's record time; and a pack
	//     named by a Digital Link with a lot (/10/) or an expiry (?17=)
	//     other than its ILMD's is refused, not recorded by the ILMD.
	//   - An event's disposition, when it says something of a status the
	//     ledger keeps (active, in_transit, dispensed, destroyed, stolen;
	//     retail_sold: dispensed; inactive: decommissioned, not destroyed
	//     or stolen), agrees with what the event did: the status it set,
	//     for a pack or container whose status it changed; for one it left
	//     as it was, active or in_transit freely (an event recorded late,
	//     or listed before another in its document, may describe a state
	//     since left), and the others only if the pack is so at some
	//     point of the capture (its start, or after any of its events). An event naming classes may not say a pack
	//     left the supply chain. What a persistentDisposition sets is said
	//     as the disposition is. A decommissioning event saying inactive
	//     records a decommission the command made, of packs so.
	//   - An unpacking of a container's whole contents is indexed for what
	//     it took out (a projection change, tied to the version so every
	//     node and replay indexes an entry alike).
	rulesCaptureConsistency = 3
)

// RulesAdoption records that the ledger adopted a version of the rules:
// entries after Seq are judged by it.
type RulesAdoption struct {
	Version    int       `gorm:"primaryKey;autoIncrement:false" json:"version"`
	Seq        uint64    `gorm:"not null" json:"seq"`
	Actor      string    `json:"actor,omitempty"`
	RecordTime time.Time `json:"record_time"`
}

// AdoptRulesPayload is the payload of KindAdoptRules.
type AdoptRulesPayload struct {
	// Version is the rules' version, newer than the ledger's.
	Version int `json:"version"`
}

// ErrRulesTooNew is the fault of a node applying an adoption of rules
// newer than its binary's: it must not commit the entry, nor any after it,
// until it runs a binary that knows them. Batch.Apply returns it whatever
// IsFault says.
var ErrRulesTooNew = errors.New("models: the ledger adopted rules newer than this binary applies")

// ActiveRules returns the version of the rules the ledger in db judges its
// next entry by.
func ActiveRules(db *gorm.DB) (int, error) {
	var v *int
	if err := db.Model(&RulesAdoption{}).Select("MAX(version)").Scan(&v).Error; err != nil {
		return 0, fmt.Errorf("models: active rules: %w", err)
	}
	if v == nil {
		return 1, nil
	}
	return *v, nil
}

// rulesAt returns the rules version the ledger judged its entry at seq by.
func rulesAt(tx *gorm.DB, seq uint64) (int, error) {
	var v *int
	if err := tx.Model(&RulesAdoption{}).Where("seq < ?", seq).Select("MAX(version)").Scan(&v).Error; err != nil {
		return 0, fmt.Errorf("models: rules at %d: %w", seq, err)
	}
	if v == nil {
		return 1, nil
	}
	return *v, nil
}

// RulesHistory returns the ledger's adoptions of rules, oldest first.
func RulesHistory(db *gorm.DB) ([]RulesAdoption, error) {
	var out []RulesAdoption
	if err := db.Order("version").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: rules history: %w", err)
	}
	return out, nil
}

// adoptRules moves the ledger to a newer version of the rules. An admin,
// or the cluster itself when it bootstraps, may.
func (a *applier) adoptRules(p AdoptRulesPayload) error {
	if a.actor != nil && a.actor.Role != RoleAdmin {
		return reject(CodeForbidden, "only an admin adopts rules; %s is a %s", a.actor.ID, a.actor.Role)
	}
	if p.Version <= a.rules {
		return reject(CodeConflict, "the ledger is at rules version %d; adopt a newer one", a.rules)
	}
	if p.Version > a.batch.supported() {
		return fmt.Errorf("%w: the entry at seq %d adopts version %d, this binary applies up to %d: upgrade it",
			ErrRulesTooNew, a.seq, p.Version, a.batch.supported())
	}
	adoption := RulesAdoption{Version: p.Version, Seq: a.seq, Actor: a.cmd.Actor, RecordTime: a.at}
	if err := a.tx.Create(&adoption).Error; err != nil {
		return fmt.Errorf("record rules adoption: %w", err)
	}
	a.batch.active = 0 // read again: later commands are judged by the new rules
	return nil
}

// supported is the newest rules version the batch applies: Supported, or
// RulesVersion when that is unset.
func (b *Batch) supported() int {
	if b.Supported > 0 {
		return b.Supported
	}
	return RulesVersion
}

// activeRules returns the ledger's rules version, read once per batch and
// again after an adoption. A ledger at rules newer than the batch applies
// is ErrRulesTooNew: the node did not apply the adoption itself (it got
// the ledger in a snapshot or a restore, or its binary was rolled back),
// and must not judge by older rules what the others judge by newer ones.
func (b *Batch) activeRules(tx *gorm.DB) (int, error) {
	if b.active == 0 {
		v, err := ActiveRules(tx)
		if err != nil {
			return 0, err
		}
		b.active = v
	}
	if b.active > b.supported() {
		return 0, fmt.Errorf("%w: the ledger is at rules version %d, this binary applies up to %d: upgrade it",
			ErrRulesTooNew, b.active, b.supported())
	}
	return b.active, nil
}
