package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// commandRoute builds the handler of a plain write: it binds the JSON body
// strictly into a payload P, lets check refuse or normalise it (a malformed
// request then costs a 400, not a committed rejection), proposes it as kind
// on the caller's authority, and answers status with the ledger seq and
// what answer adds. The rules themselves run in models.Apply.
func commandRoute[P any](l commandProposer, kind models.CommandKind, status int,
	check func(*P) error, answer func(P, models.Result) gin.H) gin.HandlerFunc {
	return func(c *gin.Context) {
		cl, err := callerOf(c)
		if err != nil {
			abortErr(c, err)
			return
		}
		var p P
		if err := bindStrict(c, &p); err != nil {
			abortErr(c, err)
			return
		}
		if check != nil {
			if err := check(&p); err != nil {
				abortErr(c, err)
				return
			}
		}
		res, err := proposeOne(c, l, cl, kind, p)
		if err != nil {
			abortErr(c, err)
			return
		}
		body := answer(p, res)
		body["seq"] = res.Seq
		c.JSON(status, body)
	}
}

// listRoute builds the handler of a table any authenticated caller may
// read: up to limit rows of T (0: all) from this node's projection, in
// order, answered as {name: rows}.
func listRoute[T any](l projectionReader, name, order string, limit int) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, err := callerOf(c); err != nil {
			abortErr(c, err)
			return
		}
		db, err := l.Read(c.Request.Context(), raftstore.Local)
		if err != nil {
			abortErr(c, storeErr(err))
			return
		}
		q := db.Order(order)
		if limit > 0 {
			q = q.Limit(limit)
		}
		rows := []T{}
		if err := q.Find(&rows).Error; err != nil {
			abortErr(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{name: rows})
	}
}
