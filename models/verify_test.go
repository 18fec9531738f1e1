package models

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// scan builds a scanned element string.
func scan(gtin, serial, lot, expiry string) gs1.ElementString {
	es := gs1.ElementString{{AI: "01", Value: gtin}}
	if expiry != "" {
		es = append(es, gs1.Element{AI: "17", Value: expiry})
	}
	if lot != "" {
		es = append(es, gs1.Element{AI: "10", Value: lot})
	}
	if serial != "" {
		es = append(es, gs1.Element{AI: "21", Value: serial})
	}
	return es
}

func TestVerifyVerdicts(t *testing.T) {
	l := newLedger(t)
	l.network()
	l.supplyChain("V1", "V2", "V3", "V4", "V5", "V6", "V7", "W1")
	// W1 shipped back to the wholesaler, not yet received there.
	l.capture(glnPharmacy, l.shipEv(glnWholesal, sgtinDL(gtinA, "W1")))
	// V2 dispensed, V3 destroyed, V4 stolen, V5 exported.
	l.capture(glnPharmacy, l.observeEv("dispensing", sgtinDL(gtinA, "V2")))
	l.mustApply(glnPharmacy, KindDecommission, DecommissionPayload{EPCs: []string{sgtinDL(gtinA, "V3")}, Status: StatusDestroyed})
	l.mustApply(glnPharmacy, KindDecommission, DecommissionPayload{EPCs: []string{sgtinDL(gtinA, "V4")}, Status: StatusStolen})
	l.mustApply(glnPharmacy, KindDecommission, DecommissionPayload{EPCs: []string{sgtinDL(gtinA, "V5")}, Status: StatusExported})
	// R1 of a recalled lot, at the pharmacy.
	r1 := sgtinDL(gtinA, "R1")
	l.capture(glnMaker, l.commissionEv("BAD", "2028-12-31", r1), l.shipEv(glnPharmacy, r1))
	l.capture(glnPharmacy, l.observeEv("receiving", r1))
	l.mustApply(glnReg, KindRecall, RecallPayload{GTIN: gtinA, Lot: "BAD", Reason: "contamination"})
	// E1 expired, at the pharmacy; T1 in transit to it; C1 of an unsigned product.
	e1, t1, c1 := sgtinDL(gtinA, "E1"), sgtinDL(gtinA, "T1"), sgtinDL(gtinC, "C1")
	l.capture(glnMaker, l.commissionEv("OLD", "2026-02-28", e1), l.shipEv(glnPharmacy, e1))
	l.capture(glnPharmacy, l.observeEv("receiving", e1))
	l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", t1, c1), l.shipEv(glnPharmacy, t1))

	at := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		scan     gs1.ElementString
		pharmacy string
		sig      SignatureStatus
		verdict  Verdict
		fmd      string
		dscsa    string
	}{
		{"authentic", scan(gtinA, "V1", "L1", "281231"), glnPharmacy, SignatureValid, VerdictAuthentic, "", ""},
		{"authentic, GTIN-13, no pharmacy", scan(gtinA[1:], "V1", "L1", "281231"), "", SignatureNotChecked, VerdictAuthentic, "", ""},
		{"unknown product", scan(gtinUnreg, "V1", "L1", "281231"), glnPharmacy, SignatureValid, VerdictUnknownProduct, "NMVS_NC_PC_01", "No_match_GTIN_Serial"},
		{"unknown serial", scan(gtinA, "NOPE", "L1", "281231"), glnPharmacy, SignatureValid, VerdictUnknownSerial, "NMVS_NC_PC_02", "No_match_GTIN_Serial"},
		{"no serial", scan(gtinA, "", "L1", "281231"), glnPharmacy, SignatureValid, VerdictUnknownSerial, "NMVS_NC_PC_02", "No_match_GTIN_Serial"},
		{"lot mismatch", scan(gtinA, "V1", "L9", "281231"), glnPharmacy, SignatureValid, VerdictLotMismatch, "NMVS_FE_LOT_13", "No_match_GTIN_Serial_Lot"},
		{"expiry mismatch", scan(gtinA, "V1", "L1", "281230"), glnPharmacy, SignatureValid, VerdictExpiryMismatch, "NMVS_FE_LOT_12", "No_match_GTIN_Serial_Expiry"},
		{"expiry day 00 is the month's end", scan(gtinA, "V1", "L1", "281200"), glnPharmacy, SignatureValid, VerdictAuthentic, "", ""},
		{"lot and expiry mismatch", scan(gtinA, "V1", "L9", "281230"), glnPharmacy, SignatureValid, VerdictLotMismatch, "NMVS_FE_LOT_13", "No_match_GTIN_Serial_Lot_Expiry"},
		{"already dispensed", scan(gtinA, "V2", "L1", "281231"), glnPharmacy, SignatureValid, VerdictAlreadyDispensed, "NMVS_NC_PCK_22", "Not_for_re-distribution"},
		{"destroyed", scan(gtinA, "V3", "L1", "281231"), glnPharmacy, SignatureValid, VerdictDestroyedStolen, "NMVS_NC_PCK_22", "Not_for_re-distribution"},
		{"stolen", scan(gtinA, "V4", "L1", "281231"), glnPharm2, SignatureValid, VerdictDestroyedStolen, "NMVS_NC_PCK_22", "Not_for_re-distribution"},
		{"exported", scan(gtinA, "V5", "L1", "281231"), glnPharmacy, SignatureValid, VerdictInactive, "NMVS_NC_PCK_22", "Not_for_re-distribution"},
		{"recalled", scan(gtinA, "R1", "BAD", "281231"), glnPharmacy, SignatureValid, VerdictRecalled, "", "Not_for_re-distribution"},
		{"expired", scan(gtinA, "E1", "OLD", "260228"), glnPharmacy, SignatureValid, VerdictExpired, "", "Not_for_re-distribution"},
		{"not in this pharmacy's custody", scan(gtinA, "V6", "L1", "281231"), glnPharm2, SignatureValid, VerdictNotInCustody, "", "No_reason_provided"},
		{"in transit, not yet received", scan(gtinA, "T1", "L1", "281231"), glnPharmacy, SignatureValid, VerdictNotInCustody, "", "No_reason_provided"},
		{"shipped away, in transit", scan(gtinA, "W1", "L1", "281231"), glnPharmacy, SignatureValid, VerdictNotInCustody, "", "No_reason_provided"},
		{"signature invalid", scan(gtinA, "V1", "L1", "281231"), glnPharmacy, SignatureInvalid, VerdictSignatureInvalid, "", "No_reason_provided"},
		{"signature by unknown key", scan(gtinA, "V1", "L1", "281231"), glnPharmacy, SignatureUnknownKey, VerdictSignatureInvalid, "", "No_reason_provided"},
		{"signature missing on a signed product", scan(gtinA, "V7", "L1", "281231"), glnPharmacy, SignatureMissing, VerdictSignatureMissing, "", "No_reason_provided"},
		{"signature missing on an unsigned product", scan(gtinC, "C1", "L1", "281231"), "", SignatureMissing, VerdictAuthentic, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := VerifyRequest{Scan: tc.scan, Pharmacy: tc.pharmacy, Time: at, Signature: tc.sig, KeyOwner: glnMaker}
			v, err := Verify(l.db, req)
			if err != nil {
				t.Fatal(err)
			}
			// The verify index holds these packs and answers the same.
			gtin, serial, _ := scannedPack(req)
			if _, ok := l.index.rows(gtin, serial); !ok && tc.verdict != VerdictUnknownSerial {
				t.Fatalf("the verify index does not hold %s %s", gtin, serial)
			}
			if vi, ok, err := l.index.Verify(req); err != nil || !ok && tc.verdict != VerdictUnknownSerial || ok && !reflect.DeepEqual(vi, v) {
				t.Fatalf("VerifyIndex.Verify = %+v, %v, %v; Verify = %+v", vi, ok, err, v)
			}
			if v.Verdict != tc.verdict || v.AlertCode != tc.fmd || v.FailureReason != tc.dscsa {
				t.Fatalf("verdict %s (%s, %s), want %s (%s, %s); reasons %+v", v.Verdict, v.AlertCode, v.FailureReason, tc.verdict, tc.fmd, tc.dscsa, v.Reasons)
			}
			if v.Verified != (tc.verdict == VerdictAuthentic) {
				t.Fatalf("verified = %v", v.Verified)
			}
			if len(v.Reasons) == 0 || v.Reasons[0].Verdict != tc.verdict || v.Reasons[0].Message == "" {
				t.Fatalf("reasons = %+v", v.Reasons)
			}
			if tc.verdict != VerdictUnknownProduct && v.Product == nil {
				t.Fatal("no product in the answer")
			}
			alert, raise := v.Alert(VerifyRequest{Scan: tc.scan, Pharmacy: tc.pharmacy})
			if raise != (tc.verdict != VerdictAuthentic) {
				t.Fatalf("alert raised = %v", raise)
			}
			if raise && (alert.Verdict != tc.verdict || alert.Scanned == "") {
				t.Fatalf("alert = %+v", alert)
			}
		})
	}
	// A dispensed pack says when and where.
	v, _ := Verify(l.db, VerifyRequest{Scan: scan(gtinA, "V2", "", ""), Time: at, Signature: SignatureValid, KeyOwner: glnMaker})
	if v.Pack == nil || v.Pack.DecommissionedBy != glnPharmacy || v.Pack.DecommissionedAt == nil {
		t.Fatalf("dispensed pack details = %+v", v.Pack)
	}
	// A recalled pack carries the recall.
	v, _ = Verify(l.db, VerifyRequest{Scan: scan(gtinA, "R1", "", ""), Time: at})
	if v.Recall == nil || v.Recall.RecalledBy != glnReg || v.Recall.Reason != "contamination" {
		t.Fatalf("recall details = %+v", v.Recall)
	}
	// A scan without a GTIN is an error, not a verdict.
	if _, err := Verify(l.db, VerifyRequest{Scan: gs1.ElementString{{AI: "21", Value: "X"}}, Time: at}); err == nil {
		t.Fatal("Verify without a GTIN succeeded")
	}
	// The alert command records what the server proposes.
	alert, _ := v.Alert(VerifyRequest{Scan: scan(gtinA, "R1", "", ""), Pharmacy: glnPharmacy})
	l.mustApply(glnPharmacy, KindAlert, alert)
	l.mustReject(CodeBadPayload, glnPharmacy, KindAlert, AlertPayload{Verdict: VerdictAuthentic})
	alerts, err := ListAlerts(l.db, AlertQuery{Verdict: string(VerdictRecalled)})
	if err != nil || len(alerts) != 1 || alerts[0].Serial != "R1" || alerts[0].Location != glnPharmacy {
		t.Fatalf("alerts = %+v, %v", alerts, err)
	}
}

// TestVerifySignatureByAnotherManufacturersKey: a signature that verifies
// is the product's only when the key is its manufacturer's. Another
// manufacturer's key (registered, so its signatures verify) makes the
// code suspect, as does a key whose owner the caller does not give.
func TestVerifySignatureByAnotherManufacturersKey(t *testing.T) {
	l := newLedger(t)
	l.network()
	l.supplyChain("S1")
	at := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		owner   string
		verdict Verdict
		says    string // in the first reason
	}{
		{"the manufacturer's key", glnMaker, VerdictAuthentic, ""},
		{"another manufacturer's key", glnMaker2, VerdictSignatureInvalid, "signed with a key of " + glnMaker2 + ", not of " + glnMaker},
		{"a key of unknown owner", "", VerdictSignatureInvalid, "owner of its key is not known"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := VerifyRequest{Scan: scan(gtinA, "S1", "L1", "281231"), Pharmacy: glnPharmacy, Time: at,
				Signature: SignatureValid, KeyOwner: tc.owner}
			v, err := Verify(l.db, req)
			if err != nil {
				t.Fatal(err)
			}
			if v.Verdict != tc.verdict || !strings.Contains(v.Reasons[0].Message, tc.says) {
				t.Fatalf("verdict %s, reasons %+v; want %s saying %q", v.Verdict, v.Reasons, tc.verdict, tc.says)
			}
			if vi, ok, err := l.index.Verify(req); err != nil || !ok || !reflect.DeepEqual(vi, v) {
				t.Fatalf("VerifyIndex.Verify = %+v, %v, %v; Verify = %+v", vi, ok, err, v)
			}
			if _, raise := v.Alert(req); raise != (tc.verdict != VerdictAuthentic) {
				t.Fatalf("alert raised = %v", raise)
			}
		})
	}
}

func TestRecall(t *testing.T) {
	l := newLedger(t)
	l.network()
	l.mustApply(glnMaker, KindRecall, RecallPayload{GTIN: gtinA, Lot: "L1"})
	l.mustApply(glnReg, KindRecall, RecallPayload{GTIN: gtinA[1:], Lot: "L2"})
	for _, tc := range []struct {
		name  string
		actor string
		p     RecallPayload
		code  string
	}{
		{"by another manufacturer", glnMaker2, RecallPayload{GTIN: gtinA, Lot: "L3"}, CodeForbidden},
		{"by a pharmacy", glnPharmacy, RecallPayload{GTIN: gtinA, Lot: "L3"}, CodeForbidden},
		{"twice", glnReg, RecallPayload{GTIN: gtinA, Lot: "L1"}, CodeRecalled},
		{"unknown product", glnReg, RecallPayload{GTIN: gtinUnreg, Lot: "L1"}, CodeUnknownProduct},
		{"no lot", glnMaker, RecallPayload{GTIN: gtinA}, CodeBadPayload},
		{"bad GTIN", glnMaker, RecallPayload{GTIN: "123", Lot: "L1"}, CodeBadPayload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l.t = t
			l.mustReject(tc.code, tc.actor, KindRecall, tc.p)
		})
	}
	recalls, err := ListRecalls(l.db, gtinA)
	if err != nil || len(recalls) != 2 || recalls[0].Lot != "L2" || recalls[0].RecalledBy != glnReg {
		t.Fatalf("recalls = %+v, %v", recalls, err)
	}
}

func TestLookups(t *testing.T) {
	l := newLedger(t)
	l.network()
	l.supplyChain("K1")
	if _, err := LookupPack(l.db, sgtinURN(gtinA, "K1")); err != nil {
		t.Fatal(err)
	}
	if _, err := LookupPack(l.db, sgtinURN(gtinA, "K2")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown pack: %v", err)
	}
	if p, err := LookupProduct(l.db, gtinA); err != nil || p.Name == "" {
		t.Fatalf("product %+v, %v", p, err)
	}
	if _, err := LookupKey(l.db, "nokey"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
	if o, err := LookupOrganisation(l.db, glnPharmacy); err != nil || o.Role != RolePharmacy {
		t.Fatalf("organisation %+v, %v", o, err)
	}
	lot, err := LotSubject(gtinA, "L1")
	if err != nil {
		t.Fatal(err)
	}
	h := custodyEvents(t, l.db, lot)
	if len(h) != 5 { // commission, ship, receive, ship, receive
		t.Fatalf("lot history: %d entries", len(h))
	}
	for i := 1; i < len(h); i++ {
		if h[i].Seq < h[i-1].Seq {
			t.Fatal("history out of ledger order")
		}
	}
}
