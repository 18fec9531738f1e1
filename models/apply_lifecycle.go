package models

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pedigree-ledger/pedigree/models/gs1"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Rules for products, signing keys, decommissioning and its undo, recalls
// and alerts.

// UndoWindow is how long after a decommission the same organisation may
// undo it (Delegated Regulation (EU) 2016/161, Art. 13).
const UndoWindow = 10 * 24 * time.Hour

func (a *applier) registerProduct(p RegisterProductPayload) error {
	gtin, err := gs1.NormalizeGTIN(p.GTIN)
	if err != nil {
		return reject(CodeBadPayload, "gtin: %v", err)
	}
	if strings.TrimSpace(p.Name) == "" {
		return reject(CodeBadPayload, "name is empty")
	}
	maker := p.Manufacturer
	if maker == "" {
		maker = a.actorID()
	}
	if !a.isAdmin() && maker != a.actorID() {
		return reject(CodeForbidden, "%s may register only its own products", a.actorID())
	}
	org, err := a.registeredOrg(maker, "manufacturer")
	if err != nil {
		return err
	}
	if org.Role != RoleManufacturer {
		return reject(CodeForbidden, "%s is a %s, not a manufacturer", maker, org.Role)
	}
	if !gs1.UnderCompanyPrefix(gtin, strings.Fields(org.Prefixes)) {
		return reject(CodeNotYourPrefix, "GTIN %s is not under a company prefix of %s", gtin, maker)
	}
	var n int64
	if err := a.tx.Model(&Product{}).Where("gtin = ?", gtin).Count(&n).Error; err != nil {
		return fmt.Errorf("look up product: %w", err)
	}
	if n > 0 {
		return reject(CodeConflict, "product %s is already registered", gtin)
	}
	prod := Product{GTIN: gtin, Name: p.Name, Manufacturer: maker, Form: p.Form, Strength: p.Strength,
		PackSize: p.PackSize, Signed: p.Signed, Seq: a.seq, RecordTime: a.at}
	if err := a.tx.Create(&prod).Error; err != nil {
		return fmt.Errorf("create product: %w", err)
	}
	return nil
}

func (a *applier) registerKey(p RegisterKeyPayload) error {
	owner := p.OrgID
	if owner == "" {
		owner = a.actorID()
	}
	if !a.isAdmin() && owner != a.actorID() {
		return reject(CodeForbidden, "%s may register only its own keys", a.actorID())
	}
	org, err := a.registeredOrg(owner, "organisation")
	if err != nil {
		return err
	}
	if org.Role != RoleManufacturer {
		return reject(CodeForbidden, "%s is a %s; only manufacturers sign packs", owner, org.Role)
	}
	switch p.Algorithm {
	case AlgEd25519:
		if len(p.PublicKey) != ed25519.PublicKeySize {
			return reject(CodeBadPayload, "an Ed25519 public key is %d bytes, not %d", ed25519.PublicKeySize, len(p.PublicKey))
		}
	case AlgECDSAP256:
		if !validP256Point(p.PublicKey) {
			return reject(CodeBadPayload, "public_key is not a P-256 point (65-byte uncompressed or 33-byte compressed)")
		}
	default:
		return reject(CodeBadPayload, "algorithm %q is not %s or %s", p.Algorithm, AlgEd25519, AlgECDSAP256)
	}
	// Codes name a key by the id derived from it: a key under any other id
	// could only sit on the id of someone else's key, and keep it, since
	// ids are unique.
	if want := KeyID(p.Algorithm, p.PublicKey); p.KeyID != want {
		return reject(CodeBadPayload, "key_id %q is not the id of this key; its id is %q", p.KeyID, want)
	}
	var n int64
	if err := a.tx.Model(&SigningKey{}).Where("key_id = ?", p.KeyID).Count(&n).Error; err != nil {
		return fmt.Errorf("look up key: %w", err)
	}
	if n > 0 {
		return reject(CodeConflict, "key id %q is already registered", p.KeyID)
	}
	key := SigningKey{KeyID: p.KeyID, OrgID: owner, Algorithm: p.Algorithm, PublicKey: p.PublicKey, Seq: a.seq, RecordTime: a.at}
	if err := a.tx.Create(&key).Error; err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	return nil
}

// validP256Point checks a SEC 1 encoded P-256 public key, uncompressed or
// compressed.
func validP256Point(b []byte) bool {
	_, ok := P256Uncompressed(b)
	return ok
}

// decommissionItem sets an EU FMD inactive status on one pack held by the
// actor and records who, where and when, for an undo.
func (a *applier) decommissionItem(it *Item, status Status, loc string, suppliedToPublic bool) error {
	if it.Kind != ItemPack {
		return reject(CodeBadPayload, "%s is a container; decommission the packs in it", it.Key)
	}
	if it.Status.Final() {
		return reject(CodeFinal, "%s is %s, which is final", it.Key, it.Status)
	}
	if status == StatusDispensed && a.actor.Role != RolePharmacy {
		return reject(CodeForbidden, "only a pharmacy dispenses; %s is a %s", a.actorID(), a.actor.Role)
	}
	// Destroyed and stolen may follow another inactive status (a locked or
	// expired pack is destroyed); the others need an active pack.
	if it.Status != StatusActive && !(status.Final() && it.Status.Decommissioned()) {
		return reject(CodeInactive, "%s is already %s", it.Key, it.Status)
	}
	at := a.at
	it.Status = status
	it.ParentID = 0
	it.DecommissionedBy, it.DecommissionedAt, it.DecommissionedLoc, it.DecommissionedSeq = a.actorID(), &at, loc, a.seq
	it.SuppliedToPublic = suppliedToPublic
	it.Seq = a.seq
	return nil
}

// loadPacks loads the named packs in one query, in payload order.
func (a *applier) loadPacks(epcs []string) ([]*Item, error) {
	if len(epcs) == 0 {
		return nil, reject(CodeBadPayload, "no epcs")
	}
	keys := make([]string, len(epcs))
	seen := make(map[string]bool, len(epcs))
	for i, s := range epcs {
		epc, err := parseEPC(s)
		if err != nil {
			return nil, reject(CodeBadPayload, "epcs[%d]: %v", i, err)
		}
		if epc.Kind != gs1.EPCSGTIN {
			return nil, reject(CodeBadPayload, "epcs[%d]: %s is not a pack (SGTIN)", i, s)
		}
		keys[i] = EPCKey(epc)
		if seen[keys[i]] {
			return nil, reject(CodeBadPayload, "epcs[%d]: %s is listed twice", i, keys[i])
		}
		seen[keys[i]] = true
	}
	var found []Item
	for chunk := range slices.Chunk(keys, sqlChunk) {
		var part []Item
		if err := a.tx.Where(`"key" IN ?`, chunk).Find(&part).Error; err != nil {
			return nil, fmt.Errorf("load packs: %w", err)
		}
		found = append(found, part...)
	}
	byKey := make(map[string]*Item, len(found))
	for i := range found {
		byKey[found[i].Key] = &found[i]
	}
	out := make([]*Item, len(keys))
	for i, k := range keys {
		it, ok := byKey[k]
		if !ok {
			return nil, reject(CodeUnknownItem, "%s was never commissioned", k)
		}
		out[i] = it
	}
	return out, nil
}

// premises resolves a payload location to a GLN (LocationGLN),
// defaulting to the actor's own.
func (a *applier) premises(loc string) (string, error) {
	if loc == "" {
		return a.actorID(), nil
	}
	if gln, ok := LocationGLN(loc); ok {
		return gln, nil
	}
	return "", reject(CodeBadPayload, "location %q is not a GLN or SGLN URI", loc)
}

// LocationGLN is the GLN a decommission's location names: a GLN itself,
// or an SGLN or PGLN URI's. Apply reads a location so; the API checks one
// against the caller's premises by it.
func LocationGLN(loc string) (string, bool) {
	if len(loc) == 13 && gs1.ValidCheckDigit(loc) {
		return loc, true
	}
	gln := glnOf(loc)
	return gln, gln != ""
}

// savePacks writes changed packs back in one statement.
func (a *applier) savePacks(items []*Item) error {
	if err := a.tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "id"}}, UpdateAll: true}).
		CreateInBatches(items, 500).Error; err != nil {
		return fmt.Errorf("save packs: %w", err)
	}
	for _, it := range items {
		a.batch.wrote(it)
	}
	return nil
}

func (a *applier) decommission(p DecommissionPayload) error {
	if a.isCluster() {
		return reject(CodeForbidden, "packs are decommissioned by an organisation")
	}
	if !p.Status.Decommissioned() {
		return reject(CodeBadPayload, "status %q is not one of dispensed, destroyed, stolen, exported, sample, free_sample, locked", p.Status)
	}
	if p.SuppliedToPublic && p.Status != StatusDispensed {
		return reject(CodeBadPayload, "supplied_to_public goes only with status dispensed")
	}
	loc, err := a.premises(p.Location)
	if err != nil {
		return err
	}
	items, err := a.loadPacks(p.EPCs)
	if err != nil {
		return err
	}
	if err := a.maySupply(items, p.Status); err != nil {
		return err
	}
	for _, it := range items {
		if it.Holder != a.actorID() {
			return reject(CodeNotCustodian, "%s is not held by %s", it.Key, a.actorID())
		}
		if err := a.decommissionItem(it, p.Status, loc, p.SuppliedToPublic); err != nil {
			return err
		}
	}
	if err := a.savePacks(items); err != nil {
		return err
	}
	return a.writeLifecycle(items, p.Status, loc, p.SuppliedToPublic)
}

func (a *applier) undoDecommission(p UndoDecommissionPayload) error {
	if a.isCluster() {
		return reject(CodeForbidden, "an undo is made by an organisation")
	}
	loc, err := a.premises(p.Location)
	if err != nil {
		return err
	}
	items, err := a.loadPacks(p.EPCs)
	if err != nil {
		return err
	}
	recalled, err := a.recalledLots(items)
	if err != nil {
		return err
	}
	for _, it := range items {
		switch {
		case it.Status.Final():
			return reject(CodeFinal, "%s is %s, which is final", it.Key, it.Status)
		case !it.Status.Decommissioned() || it.DecommissionedAt == nil:
			return reject(CodeInactive, "%s is %s, not decommissioned", it.Key, it.Status)
		case it.DecommissionedBy != a.actorID():
			return reject(CodeUndoOtherOrg, "%s was decommissioned by %s; only it may undo", it.Key, it.DecommissionedBy)
		case it.DecommissionedLoc != loc:
			return reject(CodeUndoOtherOrg, "%s was decommissioned at %s, not %s", it.Key, it.DecommissionedLoc, loc)
		case a.at.Sub(*it.DecommissionedAt) > UndoWindow:
			return reject(CodeUndoTooLate, "%s was decommissioned %s ago, more than 10 days", it.Key, a.at.Sub(*it.DecommissionedAt).Round(time.Hour))
		case it.SuppliedToPublic:
			return reject(CodeUndoNotAllowed, "%s was supplied to the public", it.Key)
		case expiredAt(it.Expiry, a.at):
			return reject(CodeUndoNotAllowed, "%s expired on %s", it.Key, it.Expiry)
		case recalled[LotKey(it.GTIN, it.Lot)]:
			return reject(CodeUndoNotAllowed, "lot %s of %s is recalled", it.Lot, it.GTIN)
		}
		it.Status = StatusActive
		it.DecommissionedBy, it.DecommissionedAt, it.DecommissionedLoc, it.DecommissionedSeq = "", nil, "", 0
		it.Seq = a.seq
	}
	if err := a.savePacks(items); err != nil {
		return err
	}
	return a.writeLifecycle(items, StatusActive, loc, false)
}

// maySupply refuses to hand expired packs, or packs of a recalled lot, to
// a person (status dispensed, sample or free sample). A pharmacist's scan
// of such a pack says recalled or expired, and a decommission verifies the
// pack as it sets the status (EU FMD Art. 36): a system that dispenses
// without scanning first must meet the same answer. Such packs may still
// be destroyed, locked, exported or reported stolen.
func (a *applier) maySupply(items []*Item, status Status) error {
	if status != StatusDispensed && status != StatusSample && status != StatusFreeSample {
		return nil
	}
	for _, it := range items {
		if expiredAt(it.Expiry, a.at) {
			return reject(CodeExpired, "%s expired on %s: it may be destroyed, not %s", it.Key, it.Expiry, status)
		}
	}
	recalled, err := a.recalledLots(items)
	if err != nil {
		return err
	}
	for _, it := range items {
		if recalled[LotKey(it.GTIN, it.Lot)] {
			return reject(CodeRecalled, "lot %s of %s is recalled: %s may be destroyed or locked, not %s", it.Lot, it.GTIN, it.Key, status)
		}
	}
	return nil
}

// recalledLots returns which of the items' lots are recalled, by LotKey.
func (a *applier) recalledLots(items []*Item) (map[string]bool, error) {
	var gtins []string
	for _, it := range items {
		gtins = append(gtins, it.GTIN)
	}
	slices.Sort(gtins)
	gtins = slices.Compact(gtins)
	var recalls []Recall
	if err := a.tx.Where("gtin IN ?", gtins).Find(&recalls).Error; err != nil {
		return nil, fmt.Errorf("load recalls: %w", err)
	}
	out := make(map[string]bool, len(recalls))
	for _, r := range recalls {
		out[LotKey(r.GTIN, r.Lot)] = true
	}
	return out, nil
}

// expiredAt reports whether a pack with expiry ("2006-01-02") is expired at
// t: it is usable through the whole of its expiry day (UTC).
func expiredAt(expiry string, t time.Time) bool {
	d, err := time.Parse(time.DateOnly, expiry)
	if err != nil {
		return false
	}
	return !t.Before(d.AddDate(0, 0, 1))
}

func (a *applier) recall(p RecallPayload) error {
	gtin, err := gs1.NormalizeGTIN(p.GTIN)
	if err != nil {
		return reject(CodeBadPayload, "gtin: %v", err)
	}
	if p.Lot == "" {
		return reject(CodeBadPayload, "lot is empty")
	}
	var prod Product
	err = a.tx.Where("gtin = ?", gtin).Take(&prod).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return reject(CodeUnknownProduct, "GTIN %s is not a registered product", gtin)
	}
	if err != nil {
		return fmt.Errorf("look up product: %w", err)
	}
	if !a.isCluster() && prod.Manufacturer != a.actorID() && a.actor.Role != RoleRegulator {
		return reject(CodeForbidden, "only %s (the manufacturer) or a regulator recalls %s", prod.Manufacturer, gtin)
	}
	var n int64
	if err := a.tx.Model(&Recall{}).Where("gtin = ? AND lot = ?", gtin, p.Lot).Count(&n).Error; err != nil {
		return fmt.Errorf("look up recall: %w", err)
	}
	if n > 0 {
		return reject(CodeRecalled, "lot %s of %s is already recalled", p.Lot, gtin)
	}
	r := Recall{GTIN: gtin, Lot: p.Lot, RecalledBy: a.actorID(), Reason: p.Reason, Seq: a.seq, RecordTime: a.at}
	if err := a.tx.Create(&r).Error; err != nil {
		return fmt.Errorf("create recall: %w", err)
	}
	return nil
}

func (a *applier) alert(p AlertPayload) error {
	if p.Verdict == "" {
		return reject(CodeBadPayload, "verdict is empty")
	}
	if p.Verdict == VerdictAuthentic {
		return reject(CodeBadPayload, "an authentic verification raises no alert")
	}
	loc := p.Location
	if loc == "" {
		loc = a.actorID()
	}
	al := Alert{Verdict: string(p.Verdict), Code: p.Code, Actor: a.actorID(), Location: loc, Scanned: p.Scanned,
		GTIN: p.GTIN, Serial: p.Serial, Lot: p.Lot, Message: p.Message, Seq: a.seq, RecordTime: a.at}
	if err := a.tx.Create(&al).Error; err != nil {
		return fmt.Errorf("create alert: %w", err)
	}
	return nil
}
