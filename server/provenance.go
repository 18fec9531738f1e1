package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// provenanceAPI answers the chain of custody of a pack, a lot or a case or
// pallet: its events in ledger order, each with its ledger sequence number
// and a Merkle inclusion proof against one signed tree head, so a regulator
// can check offline that no event was removed or rewritten.
type provenanceAPI struct {
	ledger LifecycleLedger
}

// maxProvenanceEvents bounds one answer; a lot of 10,000 packs that each
// moved five times would otherwise be 50,000 events with proofs.
const maxProvenanceEvents = 2000

// provenanceEvent is one event in a chain of custody.
type provenanceEvent struct {
	Seq         uint64          `json:"seq"`
	EventID     string          `json:"event_id"`
	Type        string          `json:"type"`
	EventTime   time.Time       `json:"event_time"`
	RecordTime  time.Time       `json:"record_time"`
	BizStep     string          `json:"biz_step,omitempty"`
	Disposition string          `json:"disposition,omitempty"`
	BizLocation string          `json:"biz_location,omitempty"`
	Actor       string          `json:"actor,omitempty"`
	Event       json.RawMessage `json:"event"`
	// Proof is the inclusion proof of the event's ledger entry in the tree
	// of Head.Size entries.
	Proof *raftstore.InclusionProof `json:"proof,omitempty"`
}

// Provenance is the chain of custody of one pack, lot or container.
type Provenance struct {
	// Key is the canonical key asked about ("(01)...(21)...").
	Key string `json:"key"`
	// Items are the ledger records of the pack, the lot's first packs (up
	// to models.MaxCustodyItems) or the container; ItemsTruncated says the
	// lot has more.
	Items          []models.Item     `json:"items"`
	ItemsTruncated bool              `json:"items_truncated,omitempty"`
	Events         []provenanceEvent `json:"events"`
	Head           provenanceHead    `json:"head"`
	// Truncated says there are more events than Events holds.
	Truncated bool `json:"truncated,omitempty"`
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
// it (models.ChainOfCustody, the one implementation) and adds an inclusion
// proof of every event against one signed tree head. Shared with the
// dashboard.
func loadProvenance(c *gin.Context, l LifecycleLedger, cl Caller, s models.Subject) (Provenance, error) {
	p := Provenance{Key: s.Key, Items: []models.Item{}, Events: []provenanceEvent{}}
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
	head := l.Head()
	p.Head = provenanceHead{Size: head.Size, Root: head.Root, Checkpoint: head.Checkpoint, Key: head.Key}
	proofs := map[uint64]*raftstore.InclusionProof{}
	for _, r := range cust.Events {
		ev := provenanceEvent{Seq: r.Seq, EventID: r.EventID, Type: r.Type, EventTime: r.EventTime, RecordTime: r.RecordTime,
			BizStep: r.BizStep, Disposition: r.Disposition, BizLocation: r.BizLocation, Actor: r.Actor, Event: r.Event}
		if r.Seq <= head.Size {
			pr, ok := proofs[r.Seq]
			if !ok {
				got, err := l.InclusionProof(r.Seq, head.Size)
				if err != nil {
					return p, err
				}
				pr = &got
				proofs[r.Seq] = pr
			}
			ev.Proof = pr
		}
		p.Events = append(p.Events, ev)
	}
	return p, nil
}
