package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// A chain of custody's decommissions, undos and recall. They are not
// EPCIS events: /api/v1/decommission, its undo and /api/v1/recalls make
// them. The projection keeps them apart (models.LifecycleRecord, the
// recalls table), and, as with the events, each row served is first held
// to the committed entry at its seq, so a rewritten row is refused
// (projection_mismatch) rather than shown beside a proof.

// provenanceChange is a decommission or undo of a pack in a chain of
// custody, checked against the entry that made it.
type provenanceChange struct {
	// Seq is the position of the decommission or undo entry.
	Seq uint64 `json:"seq"`
	// Key is the pack's canonical key.
	Key string `json:"key"`
	// Kind is decommission or undo_decommission.
	Kind models.CommandKind `json:"kind"`
	// Status is the status the entry set: the decommissioned one, or
	// active for an undo.
	Status           models.Status `json:"status"`
	Actor            string        `json:"actor"`
	Location         string        `json:"location"`
	SuppliedToPublic bool          `json:"supplied_to_public,omitempty"`
	RecordTime       time.Time     `json:"record_time"`
	// Entry and Proof are as for an event (provenanceEvent).
	Entry string                    `json:"entry"`
	Proof *raftstore.InclusionProof `json:"proof,omitempty"`
}

// provenanceRecall is the recall of the lot (of the pack) a chain of
// custody is about, checked against the entry that made it.
type provenanceRecall struct {
	Seq        uint64                    `json:"seq"`
	GTIN       string                    `json:"gtin"`
	Lot        string                    `json:"lot"`
	By         string                    `json:"by"`
	Reason     string                    `json:"reason,omitempty"`
	RecordTime time.Time                 `json:"record_time"`
	Entry      string                    `json:"entry"`
	Proof      *raftstore.InclusionProof `json:"proof,omitempty"`
}

// recordMismatch is the error of a row (what it describes) that the
// committed entry at seq contradicts. It is the node's fault, not the
// client's, and another node's copy may well be sound.
func recordMismatch(seq uint64, what, detail string) error {
	return errf(http.StatusInternalServerError, "projection_mismatch",
		"this node's copy of %s does not match the ledger entry %d that made it (%s), so it is not served as proven; ask another node, and tell this node's operator",
		what, seq, detail)
}

// acceptedEntry reads the entry at seq for a row describing what, and
// holds it to its leaf (the entry as stored must be the leaf the tree,
// and so the proof, holds) and to being an accepted command of kind.
func acceptedEntry(l proofSource, seq uint64, kind models.CommandKind, what string) (raftstore.Entry, error) {
	e, err := l.Entry(seq)
	if errors.Is(err, raftstore.ErrNotFound) {
		return e, recordMismatch(seq, what, "the ledger has no such entry")
	}
	if err != nil {
		return e, err
	}
	if !bytes.Equal(raftstore.LeafHash(e.Seq, e.Command, e.Result), e.LeafHash) {
		return e, recordMismatch(seq, what, "the stored entry does not hash to its leaf in the tree")
	}
	if e.Command.Kind != kind || !e.Result.Accepted {
		return e, recordMismatch(seq, what, fmt.Sprintf("the entry is a %s, accepted %v, not an accepted %s", e.Command.Kind, e.Result.Accepted, kind))
	}
	return e, nil
}

// changeChecker checks the lifecycle rows of one answer. A lot's rows
// come in ledger order, so an entry's rows (up to 10,000 packs) come
// together: it reads, hashes and parses each entry once for all of them,
// and keeps the few read last.
type changeChecker struct {
	ledger  proofSource
	subject models.Subject
	entries recentEntries[*changeEntry]
}

// changeEntry is what one decommission or undo entry recorded.
type changeEntry struct {
	change models.LifecycleRecord
	keys   map[string]bool
}

func newChangeChecker(l proofSource, s models.Subject) *changeChecker {
	return &changeChecker{ledger: l, subject: s}
}

// entry reads the entry at seq once per answer.
func (k *changeChecker) entry(ch models.LifecycleChange, what string) (*changeEntry, error) {
	if ce, ok := k.entries.get(ch.Seq); ok {
		return ce, nil
	}
	e, err := acceptedEntry(k.ledger, ch.Seq, ch.Kind, what)
	if err != nil {
		return nil, err
	}
	of, err := models.LifecycleRecordsOf(e.Seq, e.Command)
	if err != nil {
		return nil, recordMismatch(ch.Seq, what, err.Error())
	}
	ce := &changeEntry{change: of.Change, keys: make(map[string]bool, len(of.Keys))}
	for _, key := range of.Keys {
		ce.keys[key] = true
	}
	k.entries.put(ch.Seq, ce)
	return ce, nil
}

// check holds a lifecycle row to its entry (the entry names the pack and
// made the change the row records) and to the chain it is listed in (the
// row is of the pack asked about, or of a pack of the lot asked about,
// as the pack's record has it).
func (k *changeChecker) check(ch models.LifecycleChange) error {
	what := fmt.Sprintf("the %s of %s", ch.Kind, ch.Key)
	ce, err := k.entry(ch, what)
	if err != nil {
		return err
	}
	want := ce.change
	switch {
	case !ce.keys[ch.Key]:
		return recordMismatch(ch.Seq, what, "the entry does not name the pack")
	case ch.Kind != want.Kind || ch.Status != want.Status || ch.Actor != want.Actor || ch.Location != want.Location ||
		ch.SuppliedToPublic != want.SuppliedToPublic || !ch.RecordTime.Equal(want.RecordTime):
		return recordMismatch(ch.Seq, what, "the entry made another change")
	case ch.GTIN != ch.ItemGTIN || ch.Lot != ch.ItemLot || !strings.HasPrefix(ch.Key, "(01)"+ch.GTIN+"(21)"):
		return recordMismatch(ch.Seq, what, "the row names another lot than the pack's")
	}
	if gtin, lot, ok := k.subject.Lot(); ok {
		if ch.GTIN != gtin || ch.Lot != lot {
			return recordMismatch(ch.Seq, what, "the pack is not of the lot asked about")
		}
	} else if ch.Key != k.subject.Key {
		return recordMismatch(ch.Seq, what, "the row is not of the pack asked about")
	}
	return nil
}

// checkRecallRow holds the recall row to its entry.
func checkRecallRow(l proofSource, r models.Recall) error {
	what := fmt.Sprintf("the recall of lot %s of %s", r.Lot, r.GTIN)
	e, err := acceptedEntry(l, r.Seq, models.KindRecall, what)
	if err != nil {
		return err
	}
	var p models.RecallPayload
	if err := json.Unmarshal(e.Command.Payload, &p); err != nil {
		return recordMismatch(r.Seq, what, err.Error())
	}
	gtin, err := gs1.NormalizeGTIN(p.GTIN)
	switch {
	case err != nil || gtin != r.GTIN || p.Lot != r.Lot:
		return recordMismatch(r.Seq, what, "the entry recalls another lot")
	case p.Reason != r.Reason || e.Command.Actor != r.RecalledBy || !e.Command.Time.Equal(r.RecordTime):
		return recordMismatch(r.Seq, what, "the entry records another recall")
	}
	return nil
}

// addLifecycle adds the custody's changes and recall to p, each checked
// against its entry and with its proof (proofAt).
func addLifecycle(l proofSource, s models.Subject, cust models.Custody, p *Provenance, proofAt func(seq uint64) (*raftstore.InclusionProof, error)) error {
	check := newChangeChecker(l, s)
	for _, ch := range cust.Changes {
		if err := check.check(ch); err != nil {
			return err
		}
		pr, err := proofAt(ch.Seq)
		if err != nil {
			return err
		}
		p.Changes = append(p.Changes, provenanceChange{Seq: ch.Seq, Key: ch.Key, Kind: ch.Kind, Status: ch.Status, Actor: ch.Actor,
			Location: ch.Location, SuppliedToPublic: ch.SuppliedToPublic, RecordTime: ch.RecordTime, Entry: entryPath(ch.Seq), Proof: pr})
	}
	p.ChangesTruncated = cust.ChangesTruncated
	if r := cust.Recall; r != nil {
		if err := checkRecallRow(l, *r); err != nil {
			return err
		}
		pr, err := proofAt(r.Seq)
		if err != nil {
			return err
		}
		p.Recall = &provenanceRecall{Seq: r.Seq, GTIN: r.GTIN, Lot: r.Lot, By: r.RecalledBy, Reason: r.Reason,
			RecordTime: r.RecordTime, Entry: entryPath(r.Seq), Proof: pr}
	}
	return nil
}
