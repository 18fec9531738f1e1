package server

import (
	"context"
	"net/http"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// The decommission routes set the EU FMD inactive statuses (dispensed,
// destroyed, stolen, exported, sample, free sample, locked) and undo them.
// The rules, including the 10-day undo limit of Delegated Regulation
// 2016/161 Art. 13, live in models and run in Apply; these checks refuse a
// malformed request before it becomes a committed rejection.

// maxDecommissionEPCs bounds one request; a pharmacy dispenses a handful of
// packs at a time, a wholesaler destroying stock sends more.
const maxDecommissionEPCs = 1000

// decommissionChecks refuse a malformed decommission or undo, and one at
// premises not the caller's: the location is where the ledger says a pack
// was dispensed or destroyed, which verifiers and regulators are shown,
// so it is checked as a verification's location is (checkLocation).
type decommissionChecks struct {
	premises *verifyAPI
}

func (d decommissionChecks) decommission(ctx context.Context, cl Caller, p *models.DecommissionPayload) error {
	if err := checkEPCList(p.EPCs); err != nil {
		return err
	}
	if !p.Status.Decommissioned() {
		return errf(http.StatusBadRequest, "bad_status", "status %q is not one of dispensed, destroyed, stolen, exported, sample, free_sample, locked", p.Status)
	}
	return d.checkPremises(ctx, cl, p.Location)
}

func (d decommissionChecks) undo(ctx context.Context, cl Caller, p *models.UndoDecommissionPayload) error {
	if err := checkEPCList(p.EPCs); err != nil {
		return err
	}
	return d.checkPremises(ctx, cl, p.Location)
}

// checkPremises checks a location as Apply reads it (models.LocationGLN):
// a GLN, or an SGLN or PGLN URI, whose GLN counts.
func (d decommissionChecks) checkPremises(ctx context.Context, cl Caller, loc string) error {
	if loc == "" {
		return nil // the caller's own GLN
	}
	gln, ok := models.LocationGLN(loc)
	if !ok {
		return errf(http.StatusBadRequest, "bad_location", "location %q is not a GLN, an SGLN URI or a PGLN URI", loc)
	}
	return d.premises.checkLocation(ctx, cl, gln)
}

// checkEPCList refuses an empty or oversized list and identifiers that are
// not pack EPCs, before anything is proposed.
func checkEPCList(epcs []string) error {
	if len(epcs) == 0 {
		return errf(http.StatusBadRequest, "bad_epcs", "epcs is empty")
	}
	if len(epcs) > maxDecommissionEPCs {
		return errf(http.StatusRequestEntityTooLarge, "too_many_epcs", "%d epcs; at most %d per request", len(epcs), maxDecommissionEPCs)
	}
	for i, s := range epcs {
		e, err := gs1.ParseEPC(s)
		if err != nil {
			return errf(http.StatusBadRequest, "bad_epc", "epcs[%d]: %v", i, err)
		}
		if e.Kind != gs1.EPCSGTIN {
			return errf(http.StatusBadRequest, "bad_epc", "epcs[%d]: %q is not a pack (SGTIN)", i, s)
		}
	}
	return nil
}
