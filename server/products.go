package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// productsAPI registers products (GTINs) and manufacturers' signing keys.
// Only the owner of the GTIN's company prefix (or an admin) may register
// one; models checks it.
type productsAPI struct {
	ledger LifecycleLedger
}

// registerProduct handles POST /api/v1/products.
func (h *productsAPI) registerProduct(c *gin.Context) {
	cl, err := callerOf(c)
	if err != nil {
		abortErr(c, err)
		return
	}
	var p models.RegisterProductPayload
	if err := bindStrict(c, &p); err != nil {
		abortErr(c, err)
		return
	}
	res, err := proposeOne(c, h.ledger, cl, models.KindRegisterProduct, p)
	if err != nil {
		abortErr(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"seq": res.Seq, "product": p})
}

// listProducts handles GET /api/v1/products.
func (h *productsAPI) listProducts(c *gin.Context) {
	if _, err := callerOf(c); err != nil {
		abortErr(c, err)
		return
	}
	db, err := h.ledger.Read(c.Request.Context(), raftstore.Local)
	if err != nil {
		abortErr(c, storeErr(err))
		return
	}
	var prods []models.Product
	if err := db.Order("gtin").Limit(1000).Find(&prods).Error; err != nil {
		abortErr(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"products": prods})
}

// registerKey handles POST /api/v1/keys.
func (h *productsAPI) registerKey(c *gin.Context) {
	cl, err := callerOf(c)
	if err != nil {
		abortErr(c, err)
		return
	}
	var p models.RegisterKeyPayload
	if err := bindStrict(c, &p); err != nil {
		abortErr(c, err)
		return
	}
	res, err := proposeOne(c, h.ledger, cl, models.KindRegisterKey, p)
	if err != nil {
		abortErr(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"seq": res.Seq, "key_id": p.KeyID})
}

// listAlerts handles GET /api/v1/alerts: regulators and admins see every
// alert, an organisation those raised by it or at its premises.
func listAlerts(l LifecycleLedger) gin.HandlerFunc {
	return func(c *gin.Context) {
		cl, err := callerOf(c)
		if err != nil {
			abortErr(c, err)
			return
		}
		alerts, err := loadAlerts(c, l, cl, 500)
		if err != nil {
			abortErr(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"alerts": alerts})
	}
}

// loadAlerts reads the newest alerts the caller may see.
func loadAlerts(c *gin.Context, l LifecycleLedger, cl Caller, limit int) ([]models.Alert, error) {
	db, err := l.Read(c.Request.Context(), raftstore.Local)
	if err != nil {
		return nil, storeErr(err)
	}
	q := db.Model(&models.Alert{})
	if !cl.seesEverything() {
		q = q.Where("actor = ? OR location = ?", cl.Org, cl.Org)
	}
	alerts := []models.Alert{}
	if err := q.Order("id DESC").Limit(limit).Find(&alerts).Error; err != nil {
		return nil, err
	}
	return alerts, nil
}
