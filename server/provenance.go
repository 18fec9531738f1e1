package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// provenanceAPI answers the chain of custody of a pack, a lot or a case or
// pallet: its events in ledger order, each with its ledger sequence number,
// the path of its ledger entry and a Merkle inclusion proof of that entry
// against one signed tree head. The proof shows offline that the entry at
// that seq is in the signed tree; fetching the entry
// (GET /api/v1/ledger/entries/{seq}, whose leaf_input hashes to the proof's
// leaf) shows what it committed, and the node checks each event against
// its entry before serving it (provenance_check.go). What no proof shows
// is that the list is whole: an event left out leaves nothing to check,
// so the proofs do not show that no event was removed.
type provenanceAPI struct {
	ledger LifecycleLedger
}

// maxProvenanceEvents bounds one answer; a lot of 10,000 packs that each
// moved five times would otherwise be 50,000 events with proofs.
const maxProvenanceEvents = 2000

// provenanceEvent is one event in a chain of custody, as this node stores
// it, checked against the ledger entry that committed it.
type provenanceEvent struct {
	// Seq is the position of the capture entry that committed the event.
	Seq         uint64    `json:"seq"`
	EventID     string    `json:"event_id"`
	Type        string    `json:"type"`
	EventTime   time.Time `json:"event_time"`
	RecordTime  time.Time `json:"record_time"`
	BizStep     string    `json:"biz_step,omitempty"`
	Disposition string    `json:"disposition,omitempty"`
	BizLocation string    `json:"biz_location,omitempty"`
	Actor       string    `json:"actor,omitempty"`
	// Event is the EPCIS 2.0 event as stored: the committed one, with
	// the record time the ledger gave it, and an errorDeclaration when a
	// later entry declared it erroneous.
	Event json.RawMessage `json:"event"`
	// Entry is the path of the ledger entry at Seq
	// (/api/v1/ledger/entries/{seq}, for those who may read the whole
	// entry), whose command holds the event as committed and whose
	// leaf_input hashes to Proof's leaf.
	Entry string `json:"entry"`
	// DeclaredIn is the seq of the capture whose errorDeclaration Event
	// restates, checked against that entry; absent for an event not
	// declared, or declared before the node recorded where (then the
	// declaration is not checked).
	DeclaredIn uint64 `json:"declared_in,omitempty"`
	// Proof is the inclusion proof of the ledger entry at Seq in the tree
	// of Head.Size entries: it shows that entry is in the signed tree, not
	// that the chain lists every event.
	Proof *raftstore.InclusionProof `json:"proof,omitempty"`
}

// entryPath is the API path of the ledger entry at seq.
func entryPath(seq uint64) string {
	return "/api/v1/ledger/entries/" + strconv.FormatUint(seq, 10)
}

// Provenance is the chain of custody of one pack, lot or container.
type Provenance struct {
	// Key is the canonical key asked about ("(01)...(21)...").
	Key string `json:"key"`
	// Items are the ledger records of the pack, the lot's first packs (up
	// to models.MaxCustodyItems) or the container, as this node's
	// projection holds them now (no proof covers them); ItemsTruncated
	// says the lot has more.
	Items          []models.Item     `json:"items"`
	ItemsTruncated bool              `json:"items_truncated,omitempty"`
	Events         []provenanceEvent `json:"events"`
	Head           provenanceHead    `json:"head"`
	// Truncated says there are more events than Events holds or, of a
	// lot read only in part (models.Custody), that there may be.
	Truncated bool `json:"truncated,omitempty"`
	// Changes are the decommissions and undos of the pack, or of the
	// lot's packs, made through /api/v1/decommission (not EPCIS events),
	// in ledger order; ChangesTruncated says there are more.
	Changes          []provenanceChange `json:"changes"`
	ChangesTruncated bool               `json:"changes_truncated,omitempty"`
	// Recall is the recall of the lot, or of the pack's lot.
	Recall *provenanceRecall `json:"recall,omitempty"`
}

// provenanceHead is the signed tree head the proofs are against.
type provenanceHead struct {
	Size       uint64 `json:"size"`
	Root       []byte `json:"root"`
	Checkpoint string `json:"checkpoint"`
	Key        string `json:"key"`
}

// pack handles GET /api/v1/provenance/packs/{gtin}/{serial}.
func (h *provenanceAPI) pack(c *gin.Context) {
	gtin, err := gs1.NormalizeGTIN(c.Param("gtin"))
	if err != nil {
		abortErr(c, errf(http.StatusBadRequest, "bad_gtin", "%v", err))
		return
	}
	sg := gs1.SGTIN{GTIN: gtin, Serial: c.Param("serial")}
	if err := sg.Validate(); err != nil {
		abortErr(c, errf(http.StatusBadRequest, "bad_serial", "%v", err))
		return
	}
	s, err := models.PackSubject(gtin, sg.Serial)
	if err != nil {
		abortErr(c, errf(http.StatusBadRequest, "bad_gtin", "%v", err))
		return
	}
	h.answer(c, s)
}

// lot handles GET /api/v1/provenance/lots/{gtin}/{lot}.
func (h *provenanceAPI) lot(c *gin.Context) {
	gtin, err := gs1.NormalizeGTIN(c.Param("gtin"))
	if err != nil {
		abortErr(c, errf(http.StatusBadRequest, "bad_gtin", "%v", err))
		return
	}
	lot := c.Param("lot")
	if lot == "" || len(lot) > 20 {
		abortErr(c, errf(http.StatusBadRequest, "bad_lot", "lot must be 1 to 20 characters"))
		return
	}
	s, err := models.LotSubject(gtin, lot)
	if err != nil {
		abortErr(c, errf(http.StatusBadRequest, "bad_gtin", "%v", err))
		return
	}
	h.answer(c, s)
}

// container handles GET /api/v1/provenance/containers/{sscc}.
func (h *provenanceAPI) container(c *gin.Context) {
	sscc := gs1.SSCC(c.Param("sscc"))
	if err := sscc.Validate(); err != nil {
		abortErr(c, errf(http.StatusBadRequest, "bad_sscc", "%v", err))
		return
	}
	h.answer(c, models.ContainerSubject(models.ContainerKey(sscc)))
}

// answer loads the subject's chain of custody and the proofs.
func (h *provenanceAPI) answer(c *gin.Context, s models.Subject) {
	cl, err := callerOf(c)
	if err != nil {
		abortErr(c, err)
		return
	}
	p, err := loadProvenance(c, h.ledger, cl, s)
	if err != nil {
		abortErr(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

// loadProvenance reads the subject's chain of custody as the caller may see
// it (models.ChainOfCustody, the one implementation), checks every event
// against the ledger entry that committed it (refusing the answer,
// projection_mismatch, when one differs) and adds an inclusion proof of
// that entry against one signed tree head. Shared with the dashboard.
func loadProvenance(c *gin.Context, l LifecycleLedger, cl Caller, s models.Subject) (Provenance, error) {
	p := Provenance{Key: s.Key, Items: []models.Item{}, Events: []provenanceEvent{}, Changes: []provenanceChange{}}
	db, err := l.Read(c.Request.Context(), raftstore.Local)
	if err != nil {
		return p, storeErr(err)
	}
	q := models.CustodyQuery{Viewer: viewerOf(cl), Limit: maxProvenanceEvents}
	cust, err := models.ChainOfCustody(db, s, q)
	if errors.Is(err, models.ErrNotFound) {
		// "Not on the ledger" suggests a falsified pack: say it only once
		// this node has caught up with the leader (catchup.go).
		if err := catchUp(c.Request.Context(), l); err != nil {
			return p, err
		}
		cust, err = models.ChainOfCustody(db, s, q)
	}
	if errors.Is(err, models.ErrNotFound) {
		return p, errf(http.StatusNotFound, "not_found", "%s is not on the ledger", s.Key)
	}
	if err != nil {
		return p, err
	}
	p.Items, p.ItemsTruncated, p.Truncated = cust.Items, cust.ItemsTruncated, cust.Truncated
	adoptions, err := models.RulesHistory(db)
	if err != nil {
		return p, err
	}
	check := newEventChecker(l, adoptions)
	head := l.Head()
	p.Head = provenanceHead{Size: head.Size, Root: head.Root, Checkpoint: head.Checkpoint, Key: head.Key}
	proofs := map[uint64]*raftstore.InclusionProof{}
	// proofAt is the proof of the entry at seq, read once per answer; nil
	// for an entry committed after the head was read.
	proofAt := func(seq uint64) (*raftstore.InclusionProof, error) {
		if seq > head.Size {
			return nil, nil
		}
		if pr, ok := proofs[seq]; ok {
			return pr, nil
		}
		got, err := l.InclusionProof(seq, head.Size)
		if err != nil {
			return nil, err
		}
		proofs[seq] = &got
		return &got, nil
	}
	for _, r := range cust.Events {
		// An event is served only as its committed entry has it
		// (provenance_check.go).
		declaredIn, err := check.check(r)
		if err != nil {
			if statusOf(err, 0) == http.StatusInternalServerError {
				_ = c.Error(err) // for the operator: the node's projection is not its ledger
			}
			return p, err
		}
		ev := provenanceEvent{Seq: r.Seq, EventID: r.EventID, Type: r.Type, EventTime: r.EventTime, RecordTime: r.RecordTime,
			BizStep: r.BizStep, Disposition: r.Disposition, BizLocation: r.BizLocation, Actor: r.Actor, Event: r.Event,
			Entry: entryPath(r.Seq), DeclaredIn: declaredIn}
		if ev.Proof, err = proofAt(r.Seq); err != nil {
			return p, err
		}
		p.Events = append(p.Events, ev)
	}
	if err := addLifecycle(l, s, cust, &p, proofAt); err != nil {
		if statusOf(err, 0) == http.StatusInternalServerError {
			_ = c.Error(err)
		}
		return p, err
	}
	return p, nil
}
