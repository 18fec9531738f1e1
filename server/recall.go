package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// recallAPI recalls lots and lists recalls. Who may recall (the product's
// manufacturer or a regulator) is a rule in models.
type recallAPI struct {
	ledger LifecycleLedger
}

// recall handles POST /api/v1/recalls.
func (h *recallAPI) recall(c *gin.Context) {
	cl, err := callerOf(c)
	if err != nil {
		abortErr(c, err)
		return
	}
	var p models.RecallPayload
	if err := bindStrict(c, &p); err != nil {
		abortErr(c, err)
		return
	}
	gtin, err := gs1.NormalizeGTIN(p.GTIN)
	if err != nil {
		abortErr(c, errf(http.StatusBadRequest, "bad_gtin", "gtin: %v", err))
		return
	}
	p.GTIN = gtin
	if p.Lot == "" || len(p.Lot) > 20 {
		abortErr(c, errf(http.StatusBadRequest, "bad_lot", "lot must be 1 to 20 characters"))
		return
	}
	res, err := proposeOne(c, h.ledger, cl, models.KindRecall, p)
	if err != nil {
		abortErr(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"seq": res.Seq, "recall": p, "result": res.Data})
}

// listRecalls handles GET /api/v1/recalls: recalls are public safety
// information, so every authenticated caller sees all of them.
func (h *recallAPI) listRecalls(c *gin.Context) {
	if _, err := callerOf(c); err != nil {
		abortErr(c, err)
		return
	}
	db, err := h.ledger.Read(c.Request.Context(), raftstore.Local)
	if err != nil {
		abortErr(c, storeErr(err))
		return
	}
	var recalls []models.Recall
	if err := db.Order("id DESC").Limit(1000).Find(&recalls).Error; err != nil {
		abortErr(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"recalls": recalls})
}
