package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pedigree-ledger/pedigree/models/gs1"
	"gorm.io/gorm"
)

// Verdict is the one-word answer of a verification, aligned with the EU FMD
// alert codes and the DSCSA VRS failure reasons.
type Verdict string

// The verdicts, in the order Verify ranks them when several apply: the
// first that applies is the verdict, all that apply are reasons.
const (
	VerdictUnknownProduct   Verdict = "unknown_product"
	VerdictUnknownSerial    Verdict = "unknown_serial"
	VerdictSignatureInvalid Verdict = "signature_invalid"
	VerdictLotMismatch      Verdict = "lot_mismatch"
	VerdictExpiryMismatch   Verdict = "expiry_mismatch"
	VerdictDestroyedStolen  Verdict = "destroyed_or_stolen"
	VerdictRecalled         Verdict = "recalled"
	VerdictAlreadyDispensed Verdict = "already_dispensed"
	// VerdictInactive is a pack exported, sampled or locked: decommissioned
	// but neither dispensed nor destroyed (EU FMD "pack already inactive").
	VerdictInactive         Verdict = "inactive"
	VerdictExpired          Verdict = "expired"
	VerdictNotInCustody     Verdict = "not_in_custody"
	VerdictSignatureMissing Verdict = "signature_missing"
	VerdictAuthentic        Verdict = "authentic"
)

// verdictInfo gives a verdict's EU FMD alert code and DSCSA VRS answer.
var verdictInfo = map[Verdict]struct{ fmd, dscsa, info string }{
	VerdictUnknownProduct:   {"NMVS_NC_PC_01", "No_match_GTIN_Serial", ""},
	VerdictUnknownSerial:    {"NMVS_NC_PC_02", "No_match_GTIN_Serial", "Suspect"},
	VerdictSignatureInvalid: {"", "No_reason_provided", "Suspect"},
	VerdictLotMismatch:      {"NMVS_FE_LOT_13", "No_match_GTIN_Serial_Lot", "Suspect"},
	VerdictExpiryMismatch:   {"NMVS_FE_LOT_12", "No_match_GTIN_Serial_Expiry", "Suspect"},
	VerdictDestroyedStolen:  {"NMVS_NC_PCK_22", "Not_for_re-distribution", "Illegitimate"},
	VerdictRecalled:         {"", "Not_for_re-distribution", "Recalled"},
	VerdictAlreadyDispensed: {"NMVS_NC_PCK_22", "Not_for_re-distribution", "Suspect"},
	VerdictInactive:         {"NMVS_NC_PCK_22", "Not_for_re-distribution", ""},
	VerdictExpired:          {"", "Not_for_re-distribution", "Expired"},
	VerdictNotInCustody:     {"", "No_reason_provided", "Suspect"},
	VerdictSignatureMissing: {"", "No_reason_provided", "Suspect"},
}

// SignatureStatus is the result of checking a scanned code's AI (8030)
// signature, computed by the caller (the server or scanner) before Verify.
type SignatureStatus string

// The signature statuses.
const (
	SignatureValid      SignatureStatus = "valid"
	SignatureMissing    SignatureStatus = "missing"
	SignatureInvalid    SignatureStatus = "invalid"
	SignatureUnknownKey SignatureStatus = "unknown_key"
	SignatureNotChecked SignatureStatus = "not_checked"
)

// VerifyRequest is one verification of a scanned pack.
type VerifyRequest struct {
	// Scan is the scanned element string: (01) and (21), usually (10) and
	// (17), maybe (8030).
	Scan gs1.ElementString `json:"scan"`
	// Pharmacy is the verifying pharmacy's GLN; when set, a pack it does
	// not hold is not in its custody.
	Pharmacy string `json:"pharmacy,omitempty"`
	// Time is when the verification happens; zero means now.
	Time time.Time `json:"time"`
	// Signature is the caller's check of AI (8030).
	Signature SignatureStatus `json:"signature"`
}

// Verification is Verify's answer.
type Verification struct {
	Verdict Verdict `json:"verdict"`
	// Reasons lists every verdict that applies, the first being Verdict,
	// each with a sentence for the pharmacist.
	Reasons []Reason `json:"reasons"`
	// AlertCode is the EU FMD alert code of the verdict, if it has one.
	AlertCode string `json:"alert_code,omitempty"`
	// Verified, FailureReason and AdditionalInfo are the DSCSA VRS answer.
	Verified       bool   `json:"verified"`
	FailureReason  string `json:"verification_failure_reason,omitempty"`
	AdditionalInfo string `json:"additional_info,omitempty"`
	// Product is the registered product, nil if unknown.
	Product *Product `json:"product,omitempty"`
	// Pack is the pack's ledger record, nil if unknown.
	Pack *Item `json:"pack,omitempty"`
	// RecalledAt is the recall's record time for a recalled lot.
	Recall *Recall `json:"recall,omitempty"`
}

// Reason is one finding of a verification.
type Reason struct {
	Verdict Verdict `json:"verdict"`
	Message string  `json:"message"`
}

// Verify judges a scanned pack against the projection: two indexed reads
// (the product by GTIN, the pack by key with its lot's recall joined), no
// scans. It returns an error only for unreadable scans and storage
// failures; every judgement, good or bad, is a Verification.
func Verify(db *gorm.DB, req VerifyRequest) (Verification, error) {
	at := req.Time
	if at.IsZero() {
		at = time.Now()
	}
	var v Verification
	add := func(verdict Verdict, format string, args ...any) {
		v.Reasons = append(v.Reasons, Reason{Verdict: verdict, Message: fmt.Sprintf(format, args...)})
	}
	rawGTIN, ok := req.Scan.Get("01")
	if !ok {
		return v, fmt.Errorf("models: verify: the scan has no GTIN (01)")
	}
	gtin, err := gs1.NormalizeGTIN(rawGTIN)
	if err != nil {
		return v, fmt.Errorf("models: verify: %w", err)
	}
	serial, _ := req.Scan.Get("21")

	// Two indexed reads with explicit columns, straight to the connection
	// pool (prepared once when the caller's session prepares statements):
	// this is the hottest read path, and gorm's statement building and
	// reflective Scan cost more than the queries.
	pool, ctx := db.Statement.ConnPool, db.Statement.Context
	if ctx == nil {
		ctx = context.Background()
	}
	var prod Product
	err = pool.QueryRowContext(ctx, `SELECT gtin, name, manufacturer, form, strength, pack_size, signed, seq, record_time
		FROM products WHERE gtin = ?`, gtin).Scan(&prod.GTIN, &prod.Name, &prod.Manufacturer,
		&prod.Form, &prod.Strength, &prod.PackSize, &prod.Signed, &prod.Seq, &prod.RecordTime)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		add(VerdictUnknownProduct, "GTIN %s is not a registered product", gtin)
		return v.finish(), nil
	case err != nil:
		return v, fmt.Errorf("models: verify: %w", err)
	}
	v.Product = &prod
	if serial == "" {
		add(VerdictUnknownSerial, "the scan has no serial number (21)")
		return v.finish(), nil
	}
	var (
		pack         Item
		status       string
		decAt        sql.NullTime
		recallID     sql.NullInt64
		recallBy     sql.NullString
		recallReason sql.NullString
		recallSeq    sql.NullInt64
		recallTime   sql.NullTime
	)
	err = pool.QueryRowContext(ctx, `SELECT `+verifyItemColumns+`, recalls.id, recalls.recalled_by, recalls.reason, recalls.seq, recalls.record_time
		FROM items LEFT JOIN recalls ON recalls.gtin = items.gtin AND recalls.lot = items.lot
		WHERE items."key" = ? LIMIT 1`, PackKey(gtin, serial)).Scan(
		&pack.ID, &pack.Key, &pack.Kind, &pack.GTIN, &pack.Serial, &pack.Lot, &pack.Expiry, &status, &pack.Holder,
		&pack.Destination, &pack.ParentID, &pack.DecommissionedBy, &decAt, &pack.DecommissionedLoc,
		&pack.DecommissionedSeq, &pack.SuppliedToPublic, &pack.CommissionedSeq, &pack.Seq,
		&recallID, &recallBy, &recallReason, &recallSeq, &recallTime)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		add(VerdictUnknownSerial, "serial %s of %s is not on the ledger", serial, gtin)
		return v.finish(), nil
	case err != nil:
		return v, fmt.Errorf("models: verify: %w", err)
	}
	pack.Status = Status(status)
	if decAt.Valid {
		t := decAt.Time
		pack.DecommissionedAt = &t
	}
	v.Pack = &pack

	switch req.Signature {
	case SignatureInvalid:
		add(VerdictSignatureInvalid, "the code's signature (8030) does not verify")
	case SignatureUnknownKey:
		add(VerdictSignatureInvalid, "the code's signature (8030) names a key that is not registered")
	}
	if lot, ok := req.Scan.Get("10"); ok && lot != pack.Lot {
		add(VerdictLotMismatch, "scanned lot %s, the ledger has %s", lot, pack.Lot)
	}
	if exp, ok := req.Scan.Get("17"); ok {
		d, err := gs1.ParseExpiry(exp, at)
		if err != nil || d.Format(time.DateOnly) != pack.Expiry {
			add(VerdictExpiryMismatch, "scanned expiry %s, the ledger has %s", exp, pack.Expiry)
		}
	}
	switch pack.Status {
	case StatusDestroyed, StatusStolen:
		add(VerdictDestroyedStolen, "the pack was recorded %s by %s%s", pack.Status, pack.DecommissionedBy, when(pack.DecommissionedAt))
	}
	if recallID.Valid {
		v.Recall = &Recall{ID: recallID.Int64, GTIN: pack.GTIN, Lot: pack.Lot, RecalledBy: recallBy.String,
			Reason: recallReason.String, Seq: uint64(recallSeq.Int64), RecordTime: recallTime.Time}
		add(VerdictRecalled, "lot %s is recalled by %s", pack.Lot, recallBy.String)
	}
	switch pack.Status {
	case StatusDispensed:
		add(VerdictAlreadyDispensed, "the pack was dispensed by %s at %s%s", pack.DecommissionedBy, pack.DecommissionedLoc, when(pack.DecommissionedAt))
	case StatusExported, StatusSample, StatusFreeSample, StatusLocked:
		add(VerdictInactive, "the pack is %s (set by %s%s)", pack.Status, pack.DecommissionedBy, when(pack.DecommissionedAt))
	}
	if expiredAt(pack.Expiry, at) {
		add(VerdictExpired, "the pack expired on %s", pack.Expiry)
	}
	if req.Pharmacy != "" && pack.Holder != req.Pharmacy && !pack.Status.Decommissioned() {
		if pack.Status == StatusInTransit && pack.Destination == req.Pharmacy {
			add(VerdictNotInCustody, "the pack is in transit to %s and not yet received", req.Pharmacy)
		} else {
			add(VerdictNotInCustody, "the pack is held by %s, not %s", pack.Holder, req.Pharmacy)
		}
	}
	if req.Signature == SignatureMissing && prod.Signed {
		add(VerdictSignatureMissing, "packs of %s are signed but this code carries no signature (8030)", gtin)
	}
	return v.finish(), nil
}

// verifyItemColumns are the items columns Verify reads, in Item's order.
var verifyItemColumns = "items." + strings.Join(itemColumns, ", items.")

// when formats a decommission time for a reason.
func when(t *time.Time) string {
	if t == nil {
		return ""
	}
	return " on " + t.UTC().Format(time.RFC3339)
}

// finish ranks the reasons and fills the verdict and codes.
func (v Verification) finish() Verification {
	if len(v.Reasons) == 0 {
		v.Verdict, v.Verified = VerdictAuthentic, true
		v.Reasons = []Reason{{Verdict: VerdictAuthentic, Message: "the pack is active and matches the ledger"}}
		return v
	}
	v.Verdict = v.Reasons[0].Verdict
	info := verdictInfo[v.Verdict]
	v.AlertCode, v.FailureReason, v.AdditionalInfo = info.fmd, info.dscsa, info.info
	lot, exp := false, false
	for _, r := range v.Reasons {
		lot = lot || r.Verdict == VerdictLotMismatch
		exp = exp || r.Verdict == VerdictExpiryMismatch
	}
	if lot && exp {
		v.FailureReason = "No_match_GTIN_Serial_Lot_Expiry"
	}
	return v
}

// Alert returns the alert command payload the server proposes for a
// non-authentic verification (ok false for an authentic one).
func (v Verification) Alert(req VerifyRequest) (AlertPayload, bool) {
	if v.Verdict == VerdictAuthentic || v.Verdict == "" {
		return AlertPayload{}, false
	}
	p := AlertPayload{Verdict: v.Verdict, Code: v.AlertCode, Scanned: req.Scan.HRI(), Location: req.Pharmacy}
	p.GTIN, _ = req.Scan.Get("01")
	p.Serial, _ = req.Scan.Get("21")
	p.Lot, _ = req.Scan.Get("10")
	if len(v.Reasons) > 0 {
		p.Message = v.Reasons[0].Message
	}
	return p, true
}
