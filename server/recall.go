package server

import (
	"context"
	"net/http"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// The page sizes of the API's lists (the largest a client may ask for,
// and what it gets by default). The dashboard's recalls page shows as
// many recalls at once as GET /api/v1/recalls answers.
const (
	maxRecallList       = 1000
	maxProductList      = 1000
	maxOrganisationList = 1000
	maxAlertList        = 1000
	defaultAlertList    = 500
)

// checkRecall normalises the GTIN and refuses a malformed lot (empty,
// longer than 20 characters or outside GS1 CSET 82) before a recall is
// proposed. Who may recall (the product's manufacturer or a
// regulator) is a rule in models.
func checkRecall(_ context.Context, _ Caller, p *models.RecallPayload) error {
	gtin, err := gs1.NormalizeGTIN(p.GTIN)
	if err != nil {
		return errf(http.StatusBadRequest, "bad_gtin", "gtin: %v", err)
	}
	p.GTIN = gtin
	if p.Lot == "" || len(p.Lot) > 20 {
		return errf(http.StatusBadRequest, "bad_lot", "lot must be 1 to 20 characters")
	}
	// A lot is AI (10): GS1 CSET 82 only. Anything else can never be on a
	// pack, and a recall of it would recall nothing.
	if err := (gs1.ElementString{{AI: "01", Value: gtin}, {AI: "10", Value: p.Lot}}).Validate(); err != nil {
		return errf(http.StatusBadRequest, "bad_lot", "lot: %v", err)
	}
	return nil
}
