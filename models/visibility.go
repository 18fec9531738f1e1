package models

import (
	"fmt"

	"gorm.io/gorm"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// Who may read whose trade. Every organisation writes under its own name,
// and reads are narrowed by the same rule wherever events are served (the
// EPCIS query, chains of custody): regulators and the cluster's admins read
// everything; any other organisation sees only its own trade, the events
// it captured and those that happened at its own locations.

// Viewer is the organisation a read is answered for.
type Viewer struct {
	// Org is the organisation's id: its GLN, or an admin's name.
	Org string
	// Role is the organisation's role; regulators and admins see
	// everything.
	Role Role
}

// SeesEverything reports whether v may read every organisation's trade:
// regulators and admins.
func (v Viewer) SeesEverything() bool {
	return v.Role == RoleRegulator || v.Role == RoleAdmin
}

// visibleEvents returns the SQL condition on event_records that keeps the
// events v may see, and its arguments; "" when v sees everything. An
// organisation's own locations are its GLN and the SGLNs under it ((254)
// extensions), both as LocationKey writes them: the LIKE pattern is the
// key of an SGLN whose extension is the wildcard. A GLN is digits, so the
// pattern has no stray wildcard.
func (v Viewer) visibleEvents() (string, []any) {
	if v.SeesEverything() {
		return "", nil
	}
	site := gs1.SGLN{GLN: gs1.GLN(v.Org)}
	anyPart := gs1.SGLN{GLN: site.GLN, Extension: "%"}
	return "(event_records.actor = ? OR event_records.biz_location = ? OR event_records.biz_location LIKE ?)",
		[]any{v.Org, LocationKey(site), LocationKey(anyPart)}
}

// locationOrgIndex is the expression index that groups an organisation's
// events by location: every key of its GLN's locations (LocationKey, with
// or without an extension) begins with the 18 characters of "(414)" and
// the GLN. Within one value an index keeps ids in order, so a trading
// partner's events at its locations are read in ledger order.
const (
	locationOrgExpr  = `substr(biz_location, 1, 18)`
	locationOrgIndex = `CREATE INDEX IF NOT EXISTS idx_event_records_location_org ON event_records (` + locationOrgExpr + `)`
)

// visibleEventsApart splits visibleEvents into its two halves, the events
// v captured and those at v's locations, each a condition an index reads
// in ledger order (actor's, and locationOrgIndex). One condition with OR
// would have SQLite read every event of the ledger in id order to find a
// page of a small partner's, or gather and sort all of a large one's. ok
// is false when v sees everything, or its id is not a GLN (its locations'
// keys are then not 18 characters long).
func (v Viewer) visibleEventsApart() (byActor, atLocation string, actorArgs, locationArgs []any, ok bool) {
	if v.SeesEverything() || gs1.GLN(v.Org).Validate() != nil {
		return "", "", nil, nil, false
	}
	site := gs1.SGLN{GLN: gs1.GLN(v.Org)}
	anyPart := gs1.SGLN{GLN: site.GLN, Extension: "%"}
	return "event_records.actor = ?",
		locationOrgExpr + " = ? AND (event_records.biz_location = ? OR event_records.biz_location LIKE ?)",
		[]any{v.Org}, []any{LocationKey(site), LocationKey(site), LocationKey(anyPart)}, true
}

// SeesEntry reports whether v may read the ledger entry at seq, which
// actor wrote. An entry is served whole or not at all (its leaf hash is
// over its exact bytes), so v reads it if v sees everything, wrote it, or
// sees every event it captured: another organisation's capture at v's own
// locations. Entries that captured no event (tokens, decommissions,
// recalls, alerts, registrations) are their writer's, the regulators' and
// the admins'.
func (v Viewer) SeesEntry(db *gorm.DB, seq uint64, actor string) (bool, error) {
	if v.SeesEverything() || (actor != "" && actor == v.Org) {
		return true, nil
	}
	cond, args := v.visibleEvents()
	var n struct{ Total, Visible int64 }
	err := db.Raw(`SELECT count(*) AS total, COALESCE(SUM(CASE WHEN `+cond+` THEN 1 ELSE 0 END), 0) AS visible
		FROM event_records WHERE seq = ?`, append(args, int64(seq))...).Scan(&n).Error
	if err != nil {
		return false, fmt.Errorf("models: who may read entry %d: %w", seq, err)
	}
	return n.Total > 0 && n.Visible == n.Total, nil
}
