package server

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

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

// proposeAlert commits the alert a suspect verification raised, on the
// caller's authority. The alert is a side effect of a verification, not
// the request itself, so the request's Idempotency-Key alone cannot be its
// id: a till that sends its sale's id with every scan of the sale would
// have the second suspect scan's alert refused as the key reused, and lose
// that scan's verdict with it. The id is the key together with a digest of
// the alert (the scan as parsed, the place, the verdict and its reason): a
// retry judged the same gets the first alert back and records none, while
// another scan under the same key is another alert.
func proposeAlert(c *gin.Context, p commandProposer, cl Caller, alert models.AlertPayload) (models.Result, error) {
	k, err := idempotencyKey(c)
	if err != nil {
		return models.Result{}, err
	}
	cmd, err := models.NewCommand("", models.KindAlert, cl.Org, time.Time{}, alert)
	if err != nil {
		return models.Result{}, err
	}
	if k != "" {
		// The digest is of the payload the command carries, the bytes a
		// repeat is compared by, so one id never names two payloads.
		sum := sha256.Sum256(cmd.Payload)
		cmd.ID = "idem:" + cl.Org + ":" + string(models.KindAlert) + ":" + hex.EncodeToString(sum[:16]) + ":" + k
	}
	return propose(c, p, cmd)
}
