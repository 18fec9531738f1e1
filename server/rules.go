package server

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// The rules version of the ledger (models.RulesVersion): which version it
// is at, which every member's binary knows, and an admin's adoption of a
// newer one once every member knows it.

// RulesNode is what the rules routes need from the local node;
// *raftstore.Store implements it.
type RulesNode interface {
	commandProposer
	ActiveRules() int
	MembersRules(ctx context.Context) ([]raftstore.NodeRules, error)
}

type rulesAPI struct {
	node   RulesNode
	reader projectionReader
}

// rulesView is the body of GET /api/v1/cluster/rules.
type rulesView struct {
	// Active is the version the ledger judges new entries by.
	Active int `json:"active"`
	// Members says the newest version each member's binary applies.
	Members []raftstore.NodeRules `json:"members"`
	// History lists the ledger's adoptions, oldest first.
	History []models.RulesAdoption `json:"history"`
}

func (a *rulesAPI) get(c *gin.Context) {
	members, err := a.node.MembersRules(c.Request.Context())
	if err != nil {
		abortErr(c, storeErr(err))
		return
	}
	db, err := a.reader.Read(c.Request.Context(), raftstore.Local)
	if err != nil {
		abortErr(c, storeErr(err))
		return
	}
	history, err := models.RulesHistory(db)
	if err != nil {
		abortErr(c, err)
		return
	}
	if history == nil {
		history = []models.RulesAdoption{}
	}
	c.JSON(http.StatusOK, rulesView{Active: a.node.ActiveRules(), Members: members, History: history})
}

// adopt handles POST /api/v1/cluster/rules {"version": N}: the ledger
// adopts rules version N once every member's binary applies it. A member
// that did not would stop at the adoption, so an upgrade left half done
// is refused rather than stopping nodes.
func (a *rulesAPI) adopt(c *gin.Context) {
	cl, err := callerOf(c)
	if err != nil {
		abortErr(c, err)
		return
	}
	var p models.AdoptRulesPayload
	if err := bindStrict(c, &p); err != nil {
		abortErr(c, err)
		return
	}
	if p.Version < 1 {
		abortErr(c, errf(http.StatusBadRequest, "bad_version", "version must be a positive integer"))
		return
	}
	// The leader refuses an adoption some member lacks
	// (raftstore.ErrRulesUnsupported: 409 rules_unsupported), checked
	// against its own view of the members and ordered against joins.
	res, err := proposeOne(c, a.node, cl, models.KindAdoptRules, p)
	if err != nil {
		abortErr(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"version": p.Version, "seq": res.Seq})
}
