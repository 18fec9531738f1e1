package server

import (
	"net/http"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// checkRecall normalises the GTIN and refuses a malformed lot before a
// recall is proposed. Who may recall (the product's manufacturer or a
// regulator) is a rule in models.
func checkRecall(p *models.RecallPayload) error {
	gtin, err := gs1.NormalizeGTIN(p.GTIN)
	if err != nil {
		return errf(http.StatusBadRequest, "bad_gtin", "gtin: %v", err)
	}
	p.GTIN = gtin
	if p.Lot == "" || len(p.Lot) > 20 {
		return errf(http.StatusBadRequest, "bad_lot", "lot must be 1 to 20 characters")
	}
	return nil
}
