package server

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

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
	// Items are the ledger records of the pack, the lot's packs (up to 100)
	// or the container.
	Items     []models.Item     `json:"items"`
	Events    []provenanceEvent `json:"events"`
	Head      provenanceHead    `json:"head"`
	Truncated bool              `json:"truncated,omitempty"`
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
	key := models.PackKey(gtin, sg.Serial)
	h.answer(c, key, func(db *gorm.DB) *gorm.DB { return db.Where(`"key" = ?`, key) })
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
	h.answer(c, models.LotKey(gtin, lot), func(db *gorm.DB) *gorm.DB { return db.Where("gtin = ? AND lot = ?", gtin, lot) })
}

// container handles GET /api/v1/provenance/containers/{sscc}.
func (h *provenanceAPI) container(c *gin.Context) {
	sscc := gs1.SSCC(c.Param("sscc"))
	if err := sscc.Validate(); err != nil {
		abortErr(c, errf(http.StatusBadRequest, "bad_sscc", "%v", err))
		return
	}
	key := models.ContainerKey(sscc)
	h.answer(c, key, func(db *gorm.DB) *gorm.DB { return db.Where(`"key" = ?`, key) })
}

// answer loads the items items selects, their events and the proofs.
func (h *provenanceAPI) answer(c *gin.Context, key string, items func(*gorm.DB) *gorm.DB) {
	cl, err := callerOf(c)
	if err != nil {
		abortErr(c, err)
		return
	}
	p, err := loadProvenance(c, h.ledger, cl, key, items)
	if err != nil {
		abortErr(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

// loadProvenance is the provenance query, shared with the dashboard.
func loadProvenance(c *gin.Context, l LifecycleLedger, cl Caller, key string, items func(*gorm.DB) *gorm.DB) (Provenance, error) {
	p := Provenance{Key: key, Items: []models.Item{}, Events: []provenanceEvent{}}
	db, err := l.Read(c.Request.Context(), raftstore.Local)
	if err != nil {
		return p, storeErr(err)
	}
	if err := items(db.Model(&models.Item{})).Order("id").Limit(100).Find(&p.Items).Error; err != nil {
		return p, err
	}
	if len(p.Items) == 0 {
		return p, errf(http.StatusNotFound, "not_found", "%s is not on the ledger", key)
	}
	keys := items(db.Model(&models.Item{})).Select(`"key"`)
	q := db.Model(&models.EventRecord{}).
		Where("id IN (?)", db.Model(&models.EventEPC{}).Select("event_id").Where(`"key" IN (?)`, keys))
	if !cl.seesEverything() {
		q = q.Where("(actor = ? OR biz_location = ? OR biz_location LIKE ?)", cl.Org, "(414)"+cl.Org, "(414)"+cl.Org+"(254)%")
	}
	var recs []models.EventRecord
	if err := q.Order("id").Limit(maxProvenanceEvents + 1).Find(&recs).Error; err != nil {
		return p, err
	}
	if len(recs) == 0 && !cl.seesEverything() {
		// A trading partner sees only its own trade: a pack it never
		// handled is, to it, not on the ledger.
		return p, errf(http.StatusNotFound, "not_found", "%s is not on the ledger", key)
	}
	if len(recs) > maxProvenanceEvents {
		recs, p.Truncated = recs[:maxProvenanceEvents], true
	}
	head := l.Head()
	p.Head = provenanceHead{Size: head.Size, Root: head.Root, Checkpoint: head.Checkpoint, Key: head.Key}
	proofs := map[uint64]*raftstore.InclusionProof{}
	for _, r := range recs {
		ev := provenanceEvent{Seq: r.Seq, EventID: r.EventID, Type: r.Type, EventTime: r.EventTime, RecordTime: r.RecordTime,
			BizStep: r.BizStep, Disposition: r.Disposition, BizLocation: r.BizLocation, Actor: r.Actor, Event: json.RawMessage(r.JSON)}
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
