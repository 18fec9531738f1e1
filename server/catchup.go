package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/raftstore"
)

// Catching up with the leader. Reads take the node's projection as it is,
// and a follower applies each entry a moment after the leader has
// answered it (until the leader's next replication, or its CommitTimeout:
// 50 ms by default); a node that has just joined or restarted is behind
// for longer. For most answers that only makes them a moment old. For a
// few it would make them wrong: "unknown token", "no such entry" or "no
// such capture" about something the cluster has acknowledged, or a suspect
// verdict, with its alert, about a pack whose good news the node has not
// applied. Those answers are given only after catchUp.

// catchUpTimeout bounds the wait: long enough for a node to apply what the
// leader has committed, short enough that a client soon hears to retry
// while the cluster has no leader.
const catchUpTimeout = 3 * time.Second

// catchUp returns once this node has applied everything the leader had
// committed when asked, or a 503 telling the client to retry.
func catchUp(ctx context.Context, r projectionReader) error {
	if err := awaitLeaderState(ctx, r, catchUpTimeout); err != nil {
		return errf(http.StatusServiceUnavailable, "unavailable",
			"this node may be behind and cannot catch up with the leader (%v); retry", err)
	}
	return nil
}

// awaitLeaderState returns once this node has applied everything the
// leader had committed when asked (a Leader read), or the store's error
// if that takes longer than within.
func awaitLeaderState(ctx context.Context, r projectionReader, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	_, err := r.Read(ctx, raftstore.Leader)
	return err
}

// catchUpTo makes sure this node's tree, of have entries, holds size
// entries, catching up with the leader if it does not: "beyond the tree"
// from a node that is merely behind would be wrong. A size beyond the
// leader's tree stays beyond after catching up, and the caller refuses it.
func catchUpTo(ctx context.Context, r projectionReader, have, size uint64) error {
	if size <= have {
		return nil
	}
	return catchUp(ctx, r)
}

// readAtConsistency is the middleware of the routes that read the node's
// projection. Such a read is local by default: fastest, and at most a
// moment old on a follower. With ?consistency=leader the node first
// applies everything the leader had committed when asked; with
// linearizable, once the leader has also confirmed that it still leads
// (raftstore.Store.Read). The handler's own reads then see at least that
// state, the verify index too (it is published before the applied index
// grows). So a pharmacy verifying through a read replica can ask that a
// pack dispensed a moment ago elsewhere be seen as dispensed.
//
// It also refuses a query that does not decode: url.Values, which the
// handlers read their parameters with, drops such a pair without a word,
// and a dropped filter (?verdict=) answers more than was asked.
func readAtConsistency(r projectionReader) gin.HandlerFunc {
	return func(c *gin.Context) {
		q, err := decodedQuery(c)
		if err == nil {
			// Decoded whole, the values hold every pair.
			if levels := q["consistency"]; len(levels) > 1 {
				err = errf(http.StatusBadRequest, "bad_consistency", "consistency is given more than once; it takes one value")
			} else {
				err = readAt(c, r, q.Get("consistency"))
			}
		}
		if err != nil {
			abortErr(c, err)
		}
	}
}

// decodedQuery is the request's query, refused if url.Values cannot read
// it whole: the handlers read their parameters through it (c.Query), and
// it drops a pair that does not decode, or that holds ";", without a
// word.
func decodedQuery(c *gin.Context) (url.Values, error) {
	q, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err != nil {
		return nil, errf(http.StatusBadRequest, "query_parameter", "the query does not decode (%v); percent-encode \"%%\" as %%25 and \";\" as %%3B", err)
	}
	return q, nil
}

// readAtLevelAsked is readAtConsistency's work for a handler whose query
// may not decode whole and that answers its errors itself (the
// resolver, with a page for a browser): the level is read from the raw
// query (consistencyAsked).
func readAtLevelAsked(c *gin.Context, r projectionReader) error {
	asked, err := consistencyAsked(c.Request.URL.RawQuery)
	if err != nil {
		return err
	}
	return readAt(c, r, asked)
}

// readAt waits until this node holds what the consistency level asked
// asks ("" or local: nothing to wait for).
func readAt(c *gin.Context, r projectionReader, asked string) error {
	level, err := raftstore.ParseConsistency(asked)
	if err != nil {
		return errf(http.StatusBadRequest, "bad_consistency", "consistency %q is not local, leader or linearizable", asked)
	}
	if level == raftstore.Local {
		return nil
	}
	if _, err := r.Read(c.Request.Context(), level); err != nil {
		return errf(http.StatusServiceUnavailable, "unavailable",
			"this node cannot answer at consistency %s now (%v); retry", asked, err)
	}
	return nil
}

// consistencyAsked is the consistency parameter of a raw query, "" when
// there is none. It reads the query itself: url.Values drops a pair whose
// value does not decode (or holds ";"), which would turn a malformed
// "linearizable" into the default, local, without a word.
func consistencyAsked(raw string) (string, error) {
	var asked string
	n := 0
	for _, param := range strings.Split(raw, "&") {
		k, v, _ := strings.Cut(param, "=")
		if key, err := url.QueryUnescape(k); err != nil || key != "consistency" {
			continue
		}
		if n++; n > 1 {
			return "", errf(http.StatusBadRequest, "bad_consistency", "consistency is given more than once; it takes one value")
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return "", errf(http.StatusBadRequest, "bad_consistency", "consistency %q does not decode: %v", v, err)
		}
		asked = value
	}
	return asked, nil
}
