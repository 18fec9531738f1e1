package server

import (
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// listAlerts handles GET /api/v1/alerts: regulators and admins see every
// alert, an organisation those raised by it or at its premises. Newest
// first, a page of ?limit= at a time (defaultAlertList unless asked), from
// ?before= an id; ?verdict= keeps one verdict or finding.
func listAlerts(l LifecycleLedger) gin.HandlerFunc {
	return func(c *gin.Context) {
		cl, err := callerOf(c)
		if err != nil {
			abortErr(c, err)
			return
		}
		before, err := beforeParam(c)
		if err != nil {
			abortErr(c, err)
			return
		}
		limit := defaultAlertList
		if c.Query("limit") != "" {
			if limit, err = limitParam(c, maxAlertList); err != nil {
				abortErr(c, err)
				return
			}
		}
		alerts, err := loadAlerts(c, l, models.AlertQuery{Viewer: viewerOf(cl), BeforeID: before, Verdict: c.Query("verdict"), Limit: limit + 1})
		if err != nil {
			abortErr(c, err)
			return
		}
		answerPage(c, "alerts", alerts, limit, "before", func(a models.Alert) string { return strconv.FormatInt(a.ID, 10) })
	}
}

// loadAlerts reads the alerts q selects from this node's projection.
func loadAlerts(c *gin.Context, l LifecycleLedger, q models.AlertQuery) ([]models.Alert, error) {
	db, err := l.Read(c.Request.Context(), raftstore.Local)
	if err != nil {
		return nil, storeErr(err)
	}
	alerts, err := models.ListAlerts(db, q)
	if err != nil {
		return nil, err
	}
	if alerts == nil {
		alerts = []models.Alert{} // a JSON list, never null
	}
	return alerts, nil
}
