package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// decommissionAPI sets the EU FMD inactive statuses (dispensed, destroyed,
// stolen, exported, sample, free sample, locked) and undoes them. The
// rules, including the 10-day undo limit of Delegated Regulation 2016/161
// Art. 13, live in models and run in Apply; the handler checks the shape of
// the request so a malformed one is a 400, not a committed rejection.
type decommissionAPI struct {
	ledger commandProposer
}

// maxDecommissionEPCs bounds one request; a pharmacy dispenses a handful of
// packs at a time, a wholesaler destroying stock sends more.
const maxDecommissionEPCs = 1000

// decommission handles POST /api/v1/decommission.
func (h *decommissionAPI) decommission(c *gin.Context) {
	cl, err := callerOf(c)
	if err != nil {
		abortErr(c, err)
		return
	}
	var p models.DecommissionPayload
	if err := bindStrict(c, &p); err != nil {
		abortErr(c, err)
		return
	}
	if err := checkEPCList(p.EPCs); err != nil {
		abortErr(c, err)
		return
	}
	if !p.Status.Decommissioned() {
		abortErr(c, errf(http.StatusBadRequest, "bad_status", "status %q is not one of dispensed, destroyed, stolen, exported, sample, free_sample, locked", p.Status))
		return
	}
	res, err := proposeOne(c, h.ledger, cl, models.KindDecommission, p)
	if err != nil {
		abortErr(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"seq": res.Seq, "status": p.Status, "epcs": p.EPCs, "result": res.Data})
}

// undo handles POST /api/v1/decommission/undo.
func (h *decommissionAPI) undo(c *gin.Context) {
	cl, err := callerOf(c)
	if err != nil {
		abortErr(c, err)
		return
	}
	var p models.UndoDecommissionPayload
	if err := bindStrict(c, &p); err != nil {
		abortErr(c, err)
		return
	}
	if err := checkEPCList(p.EPCs); err != nil {
		abortErr(c, err)
		return
	}
	res, err := proposeOne(c, h.ledger, cl, models.KindUndoDecommission, p)
	if err != nil {
		abortErr(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"seq": res.Seq, "status": models.StatusActive, "epcs": p.EPCs, "result": res.Data})
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
