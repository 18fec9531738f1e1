package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

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
	alerts, err := models.ListAlerts(db, models.AlertQuery{Viewer: viewerOf(cl), Limit: limit})
	if err != nil {
		return nil, err
	}
	if alerts == nil {
		alerts = []models.Alert{} // a JSON list, never null
	}
	return alerts, nil
}
