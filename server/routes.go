package server

import (
	"context"
	"net/http"
	"strconv"

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
	check func(context.Context, Caller, *P) error, answer func(P, models.Result) gin.H) gin.HandlerFunc {
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
			if err := check(c.Request.Context(), cl, &p); err != nil {
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

// listSpec describes a table read a page at a time, in the order of a
// unique key column: ascending from ?after=, or descending (newest first)
// from ?before=, the key of the previous page's last row.
type listSpec struct {
	name  string // the answer's field, and the table's resource name
	key   string // the key column
	desc  bool   // newest first, paged with ?before= (an integer key)
	limit int    // the page size, by default and at most
}

// listRoute builds the handler of a table any authenticated caller may
// read from this node's projection: a page of ?limit= rows (at most, and
// by default, spec.limit), answered as {name: rows}. When more follow, the
// answer's "next" and its Link rel="next" header give the next page's
// URL; cursor is the key of a row, for that URL.
func listRoute[T any](l projectionReader, spec listSpec, cursor func(T) string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, err := callerOf(c); err != nil {
			abortErr(c, err)
			return
		}
		limit, err := limitParam(c, spec.limit)
		if err != nil {
			abortErr(c, err)
			return
		}
		db, err := l.Read(c.Request.Context(), raftstore.Local)
		if err != nil {
			abortErr(c, storeErr(err))
			return
		}
		order, param := spec.key, "after"
		if spec.desc {
			order, param = spec.key+" DESC", "before"
		}
		q := db.Order(order).Limit(limit + 1)
		if spec.desc {
			before, err := beforeParam(c)
			if err != nil {
				abortErr(c, err)
				return
			}
			if before > 0 {
				q = q.Where(spec.key+" < ?", before)
			}
		} else if after := c.Query("after"); after != "" {
			q = q.Where(spec.key+" > ?", after)
		}
		rows := []T{}
		if err := q.Find(&rows).Error; err != nil {
			abortErr(c, err)
			return
		}
		answerPage(c, spec.name, rows, limit, param, cursor)
	}
}

// answerPage answers rows, read with limit+1, as {name: rows}: cut to
// limit, with the next page's URL (param set to the cursor of the last
// row kept) when more follow.
func answerPage[T any](c *gin.Context, name string, rows []T, limit int, param string, cursor func(T) string) {
	body := gin.H{name: rows}
	if len(rows) > limit {
		rows = rows[:limit]
		body[name] = rows
		body["next"] = nextPage(c, param, cursor(rows[limit-1]))
	}
	c.JSON(http.StatusOK, body)
}

// limitParam reads ?limit=, a page size from 1 to max; max when absent.
func limitParam(c *gin.Context, max int) (int, error) {
	s := c.Query("limit")
	if s == "" {
		return max, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, errf(http.StatusBadRequest, "bad_limit", "limit must be an integer from 1 to %d", max)
	}
	return n, nil
}

// nextPage sets the Link rel="next" header of a paged answer to this
// request's URL with param set to value, and returns that URL.
func nextPage(c *gin.Context, param, value string) string {
	q := c.Request.URL.Query()
	q.Set(param, value)
	u := c.Request.URL.Path + "?" + q.Encode()
	c.Header("Link", "<"+u+`>; rel="next"`)
	return u
}
