package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
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
	// KeyOwner is the organisation that registered the key a valid
	// signature was made with (SigningKey.OrgID). A key signs only its
	// owner's products: a valid signature by a key the product's
	// manufacturer does not own, or whose owner is not given, is judged
	// invalid.
	KeyOwner string `json:"key_owner,omitempty"`
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

// Verify judges a scanned pack against the projection: one statement of
// indexed lookups (the product by GTIN, the pack by key, its lot's
// recall), no scans. It returns an error only for unreadable scans and storage
// failures; every judgement, good or bad, is a Verification.
func Verify(db *gorm.DB, req VerifyRequest) (Verification, error) {
	gtin, serial, err := scannedPack(req)
	if err != nil {
		return Verification{}, err
	}
	rows, err := readVerifyRows(db, gtin, serial)
	if err != nil {
		return Verification{}, err
	}
	return judge(req, gtin, serial, rows), nil
}

// scannedPack is the scan's normalised GTIN and its serial ("" if none).
func scannedPack(req VerifyRequest) (gtin, serial string, err error) {
	rawGTIN, ok := req.Scan.Get("01")
	if !ok {
		return "", "", fmt.Errorf("models: verify: the scan has no GTIN (01)")
	}
	gtin, err = gs1.NormalizeGTIN(rawGTIN)
	if err != nil {
		return "", "", fmt.Errorf("models: verify: %w", err)
	}
	serial, _ = req.Scan.Get("21")
	return gtin, serial, nil
}

// verifyRows is what a verification reads: the product (nil when the GTIN
// is not registered), the pack (nil when the scan has no serial or the
// serial is not on the ledger) and its lot's recall (nil when none).
type verifyRows struct {
	product *Product
	pack    *Item
	recall  *Recall
}

// readVerifyRows reads a verification's rows from the projection.
func readVerifyRows(db *gorm.DB, gtin, serial string) (verifyRows, error) {
	// One statement with explicit columns, straight to the connection
	// pool (prepared once when the caller's session prepares statements):
	// the product by GTIN and, in the same row, the pack by key with its
	// lot's recall. This is the hottest read path; gorm's statement
	// building and reflective Scan cost more than the query, and so did a
	// second statement's round through database/sql and the driver.
	//
	// The read does not follow the caller's cancellation: it is an
	// indexed point lookup of a few microseconds, and with a cancellable
	// context database/sql and go-sqlite3 each start a goroutine per query
	// to watch it, which cost more than the lookup.
	pool, ctx := db.Statement.ConnPool, db.Statement.Context
	if ctx == nil {
		ctx = context.Background()
	}
	ctx = context.WithoutCancel(ctx)
	var key any // NULL matches no pack: a scan without a serial
	if serial != "" {
		key = PackKey(gtin, serial)
	}
	var packed sql.NullString
	err := pool.QueryRowContext(ctx, verifySQL, key, gtin).Scan(&packed)
	if errors.Is(err, sql.ErrNoRows) {
		return verifyRows{}, nil
	}
	var (
		prod Product
		row  verifyPackRow
	)
	if err == nil {
		err = unpackVerifyRow(packed.String, &prod, &row)
	}
	if err != nil {
		return verifyRows{}, fmt.Errorf("models: verify: %w", err)
	}
	rows := verifyRows{product: &prod}
	if !row.id.Valid {
		return rows, nil
	}
	pack, err := row.item()
	if err != nil {
		return verifyRows{}, fmt.Errorf("models: verify: %w", err)
	}
	rows.pack = &pack
	if row.recallID.Valid {
		rows.recall = &Recall{ID: row.recallID.V, GTIN: pack.GTIN, Lot: pack.Lot, RecalledBy: row.recallBy.V,
			Reason: row.recallReason.V, Seq: uint64(row.recallSeq.V), RecordTime: row.recallTime.Time}
	}
	return rows, nil
}

// judge is the verdict on a scan of gtin and serial given what the ledger
// holds (rows). It reads nothing, so the answer depends only on the rows,
// wherever they were read from.
func judge(req VerifyRequest, gtin, serial string, rows verifyRows) Verification {
	at := req.Time
	if at.IsZero() {
		at = time.Now()
	}
	var v Verification
	add := func(verdict Verdict, format string, args ...any) {
		v.Reasons = append(v.Reasons, Reason{Verdict: verdict, Message: fmt.Sprintf(format, args...)})
	}
	prod := rows.product
	if prod == nil {
		add(VerdictUnknownProduct, "GTIN %s is not a registered product", gtin)
		return v.finish()
	}
	v.Product = prod
	if serial == "" {
		add(VerdictUnknownSerial, "the scan has no serial number (21)")
		return v.finish()
	}
	pack := rows.pack
	if pack == nil {
		add(VerdictUnknownSerial, "serial %s of %s is not on the ledger", serial, gtin)
		return v.finish()
	}
	v.Pack = pack

	switch req.Signature {
	case SignatureValid:
		// Any manufacturer's key makes signatures that verify; only the
		// product's own manufacturer's key makes its codes genuine.
		switch owner := req.KeyOwner; {
		case owner == "":
			add(VerdictSignatureInvalid, "the code's signature (8030) verifies, but the owner of its key is not known, so it may not be %s's", prod.Manufacturer)
		case owner != prod.Manufacturer:
			add(VerdictSignatureInvalid, "the code is signed with a key of %s, not of %s, the manufacturer of %s", owner, prod.Manufacturer, gtin)
		}
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
	if r := rows.recall; r != nil {
		v.Recall = r
		add(VerdictRecalled, "lot %s is recalled by %s", pack.Lot, r.RecalledBy)
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
	// A pack in transit stays its shipper's (Holder) until received, but
	// is in no pharmacy's stock: not the destination's yet, and not the
	// shipper's any more, which may not dispense it.
	if req.Pharmacy != "" && !pack.Status.Decommissioned() {
		switch {
		case pack.Status == StatusInTransit && pack.Destination == req.Pharmacy:
			add(VerdictNotInCustody, "the pack is in transit to %s and not yet received", req.Pharmacy)
		case pack.Status == StatusInTransit && pack.Holder == req.Pharmacy:
			add(VerdictNotInCustody, "the pack was shipped by %s to %s and is in transit", req.Pharmacy, pack.Destination)
		case pack.Holder != req.Pharmacy:
			add(VerdictNotInCustody, "the pack is held by %s, not %s", pack.Holder, req.Pharmacy)
		}
	}
	if req.Signature == SignatureMissing && prod.Signed {
		add(VerdictSignatureMissing, "packs of %s are signed but this code carries no signature (8030)", gtin)
	}
	return v.finish()
}

// verifySQL reads a product by GTIN (the second parameter) and, when the
// first parameter is the key of one of its packs, that pack and the recall
// of its lot; a pack's columns are NULL when there is no such pack. Each
// lookup is by a unique index.
//
// The 32 columns come back packed into one text value (see packColumns):
// go-sqlite3 and database/sql spend about a microsecond on each column of
// a row (type, value, name and declared type, each a cgo call, then a
// conversion), which made the columns, not the lookup, most of a
// verification's cost.
var verifySQL = `SELECT ` + packColumns(verifyColumns) + `
	FROM products LEFT JOIN items ON items."key" = ?
	LEFT JOIN recalls ON recalls.gtin = items.gtin AND recalls.lot = items.lot
	WHERE products.gtin = ? LIMIT 1`

// verifyColumns are verifySQL's columns, in unpackVerifyRow's order.
var verifyColumns = slices.Concat(
	[]string{"products.gtin", "products.name", "products.manufacturer", "products.form", "products.strength",
		"products.pack_size", "products.signed", "products.seq", "products.record_time"},
	prefixed("items.", itemColumns),
	[]string{"recalls.id", "recalls.recalled_by", "recalls.reason", "recalls.seq", "recalls.record_time"})

func prefixed(prefix string, cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = prefix + `"` + c + `"`
	}
	return out
}

// packColumns is an SQL expression joining the columns into one text
// value, each as its length in bytes, a colon and its text ("5:hello",
// "1:0"), or "-1:" for NULL. Lengths make any byte safe in a value.
func packColumns(cols []string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = "coalesce(octet_length(" + c + ") || ':' || " + c + ", '-1:')"
	}
	return strings.Join(parts, " || ")
}

// packedField is one column of a packed row.
type packedField struct {
	s     string
	valid bool // not NULL
}

// unpackColumns splits a packColumns value into n fields.
func unpackColumns(packed string, fields []packedField) error {
	rest := packed
	for i := range fields {
		colon := strings.IndexByte(rest, ':')
		if colon < 0 {
			return fmt.Errorf("packed row: column %d: no length", i)
		}
		n, ok := packedLength(rest[:colon])
		lengthText := rest[:colon]
		rest = rest[colon+1:]
		switch {
		case !ok || n > len(rest):
			return fmt.Errorf("packed row: column %d: bad length %q", i, lengthText)
		case n == -1:
			fields[i] = packedField{}
		default:
			fields[i] = packedField{s: rest[:n], valid: true}
			rest = rest[n:]
		}
	}
	if rest != "" {
		return fmt.Errorf("packed row: %d bytes after %d columns", len(rest), len(fields))
	}
	return nil
}

// packedLength reads a length as SQLite writes it: "-1", "0", or digits
// without a leading zero.
func packedLength(s string) (int, bool) {
	if s == "-1" {
		return -1, true
	}
	if s == "" || len(s) > 9 || s[0] == '0' && len(s) > 1 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// unpackVerifyRow fills the product and the pack row from verifySQL's
// packed value, with the conversions database/sql's Scan made: a NULL in
// a product column is an error, numbers and booleans must parse, times are
// go-sqlite3's stored forms.
func unpackVerifyRow(packed string, prod *Product, row *verifyPackRow) error {
	var f [32]packedField
	if len(verifyColumns) != len(f) {
		return fmt.Errorf("packed row: %d columns, want %d", len(verifyColumns), len(f))
	}
	if err := unpackColumns(packed, f[:]); err != nil {
		return err
	}
	r := &fieldReader{f: f[:], names: verifyColumns}
	prod.GTIN, prod.Name, prod.Manufacturer, prod.Form, prod.Strength, prod.PackSize = r.str(0), r.str(1), r.str(2), r.str(3), r.str(4), r.str(5)
	signed := r.nullBool(6)
	if !signed.Valid {
		r.errs = append(r.errs, errors.New("a product flag is NULL"))
	}
	prod.Signed = signed.V
	seq := r.nullUint(7)
	rt := r.nullTime(8)
	if !seq.Valid || !rt.Valid {
		r.errs = append(r.errs, errors.New("a product's seq or record time is NULL"))
	}
	prod.Seq, prod.RecordTime = seq.V, rt.Time
	r.itemFields(9, row)
	row.recallID, row.recallBy, row.recallReason, row.recallSeq, row.recallTime = r.nullInt(27), r.nullStr(28), r.nullStr(29), r.nullInt(30), r.nullTime(31)
	return errors.Join(r.errs...)
}

// unpackItemFields reads an item's columns (itemColumns, in order) into
// the pack fields of a verifyPackRow.
func unpackItemFields(f []packedField) (verifyPackRow, error) {
	var row verifyPackRow
	r := &fieldReader{f: f, names: itemColumns}
	r.itemFields(0, &row)
	return row, errors.Join(r.errs...)
}

// fieldReader converts packed fields as database/sql's Scan would,
// collecting the errors.
type fieldReader struct {
	f     []packedField
	names []string // the columns, for errors
	errs  []error
}

func (r *fieldReader) str(i int) string {
	if !r.f[i].valid {
		r.errs = append(r.errs, fmt.Errorf("column %s is NULL", r.names[i]))
	}
	return r.f[i].s
}

func (r *fieldReader) nullStr(i int) sql.Null[string] {
	return sql.Null[string]{V: r.f[i].s, Valid: r.f[i].valid}
}

func (r *fieldReader) nullInt(i int) sql.Null[int64] {
	if !r.f[i].valid {
		return sql.Null[int64]{}
	}
	n, err := strconv.ParseInt(r.f[i].s, 10, 64)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("column %s: %w", r.names[i], err))
	}
	return sql.Null[int64]{V: n, Valid: true}
}

func (r *fieldReader) nullUint(i int) sql.Null[uint64] {
	n := r.nullInt(i)
	if n.V < 0 {
		r.errs = append(r.errs, fmt.Errorf("column %s: negative", r.names[i]))
	}
	return sql.Null[uint64]{V: uint64(n.V), Valid: n.Valid}
}

func (r *fieldReader) nullBool(i int) sql.Null[bool] {
	if !r.f[i].valid {
		return sql.Null[bool]{}
	}
	b, err := strconv.ParseBool(r.f[i].s)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("column %s: %w", r.names[i], err))
	}
	return sql.Null[bool]{V: b, Valid: true}
}

func (r *fieldReader) nullTime(i int) sql.NullTime {
	if !r.f[i].valid {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: parseStoredTime(r.f[i].s), Valid: true}
}

// itemFields reads itemColumns' 18 fields, starting at field at, into
// row's pack fields.
func (r *fieldReader) itemFields(at int, row *verifyPackRow) {
	row.id, row.key, row.kind, row.gtin, row.serial, row.lot = r.nullInt(at), r.nullStr(at+1), r.nullStr(at+2), r.nullStr(at+3), r.nullStr(at+4), r.nullStr(at+5)
	row.expiry, row.status, row.holder, row.destination = r.nullStr(at+6), r.nullStr(at+7), r.nullStr(at+8), r.nullStr(at+9)
	row.parentID, row.decBy, row.decAt, row.decLoc = r.nullInt(at+10), r.nullStr(at+11), r.nullTime(at+12), r.nullStr(at+13)
	row.decSeq, row.suppliedToPublic, row.commissionedSeq, row.seq = r.nullUint(at+14), r.nullBool(at+15), r.nullUint(at+16), r.nullUint(at+17)
}

// storedTimeLayouts are the forms go-sqlite3 reads back as times (its
// SQLiteTimestampFormats, which TestStoredTimeLayoutsAreTheDrivers keeps
// this copy equal to), the first being the one it and sqliteTime write.
var storedTimeLayouts = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// parseStoredTime reads a stored time exactly as go-sqlite3 reads a text
// value of a datetime column: the first layout that fits, in UTC, a
// trailing "Z" dropped, and the zero time when none fits.
func parseStoredTime(s string) time.Time {
	s = strings.TrimSuffix(s, "Z")
	for _, layout := range storedTimeLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t
		}
	}
	return time.Time{}
}

// verifyPackRow holds the pack and recall columns of verifySQL's row, all
// NULL when the pack is unknown.
type verifyPackRow struct {
	id, parentID                         sql.Null[int64]
	key, kind, gtin, serial, lot, expiry sql.Null[string]
	status, holder, destination          sql.Null[string]
	decBy, decLoc                        sql.Null[string]
	decAt                                sql.NullTime
	decSeq, commissionedSeq, seq         sql.Null[uint64]
	suppliedToPublic                     sql.Null[bool]
	recallID, recallSeq                  sql.Null[int64]
	recallBy, recallReason               sql.Null[string]
	recallTime                           sql.NullTime
}

// item is the found pack. Only decommissioned_at may be NULL in a pack's
// row; any other NULL is a damaged projection, an error as when these
// columns were scanned into plain values.
func (r *verifyPackRow) item() (Item, error) {
	if !(r.key.Valid && r.kind.Valid && r.gtin.Valid && r.serial.Valid && r.lot.Valid && r.expiry.Valid &&
		r.status.Valid && r.holder.Valid && r.destination.Valid && r.parentID.Valid && r.decBy.Valid &&
		r.decLoc.Valid && r.decSeq.Valid && r.suppliedToPublic.Valid && r.commissionedSeq.Valid && r.seq.Valid) {
		return Item{}, fmt.Errorf("item %d has a NULL column", r.id.V)
	}
	it := Item{ID: r.id.V, Key: r.key.V, Kind: r.kind.V, GTIN: r.gtin.V, Serial: r.serial.V, Lot: r.lot.V,
		Expiry: r.expiry.V, Status: Status(r.status.V), Holder: r.holder.V, Destination: r.destination.V,
		ParentID: r.parentID.V, DecommissionedBy: r.decBy.V, DecommissionedLoc: r.decLoc.V,
		DecommissionedSeq: r.decSeq.V, SuppliedToPublic: r.suppliedToPublic.V,
		CommissionedSeq: r.commissionedSeq.V, Seq: r.seq.V}
	if r.decAt.Valid {
		t := r.decAt.Time
		it.DecommissionedAt = &t
	}
	return it, nil
}

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
