package server

import (
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/raftstore"
)

// keptHead is a tree head a user kept, which the ledger page checks the
// ledger still extends.
type keptHead struct {
	Size uint64
	Root []byte
	// SignedBy names the key whose signature on the head checked, when
	// the head came as a signed checkpoint; "" for a size and root as
	// typed, which nothing authenticates.
	SignedBy string
}

// keptHeadParam reads the kept head of the ledger page: a signed
// checkpoint (?checkpoint=, the text GET /api/v1/ledger/head and the page
// show), or a size and root (?old_size=&old_root=); nil when neither.
func (d *Dashboard) keptHeadParam(c *gin.Context) (*keptHead, error) {
	note, size, root := c.Query("checkpoint"), c.Query("old_size"), c.Query("old_root")
	switch {
	case note != "" && (size != "" || root != ""):
		return nil, errf(http.StatusBadRequest, "bad_head", "Give the signed checkpoint you kept, or its size and root, not both.")
	case note != "":
		return d.signedHead(note)
	case size == "":
		return nil, nil
	}
	n, err := strconv.ParseUint(size, 10, 64)
	r, herr := hex.DecodeString(strings.TrimSpace(root))
	if err != nil || n == 0 || herr != nil || len(r) != 32 {
		return nil, errf(http.StatusBadRequest, "bad_head", "Give the size (a positive integer) and the root (64 hex digits) of the tree head you kept.")
	}
	return &keptHead{Size: n, Root: r}, nil
}

// signedHead reads a signed checkpoint of this ledger: its signature must
// check with the head-signing key of a node the cluster lists, or this
// node's own (raftstore.VerifyCheckpoint), and its origin must be this
// ledger's. The keys are the ones GET /api/v1/cluster lists, so a user
// who trusts a key from elsewhere compares it there.
func (d *Dashboard) signedHead(note string) (*keptHead, error) {
	// A form's text area sends CRLF line ends, and a paste may gain or
	// lose blank space at its ends; the note's own lines are LF.
	note = strings.TrimSpace(strings.ReplaceAll(note, "\r\n", "\n")) + "\n"
	head := d.ledger.Head()
	keys := []string{head.Key}
	nodes, err := d.ledger.Nodes()
	if err != nil {
		return nil, storeErr(err)
	}
	for _, n := range nodes {
		if n.PublicKey != "" {
			keys = append(keys, n.PublicKey)
		}
	}
	slices.Sort(keys)
	origin, _, _ := strings.Cut(head.Checkpoint, "\n")
	for _, key := range slices.Compact(keys) {
		cp, err := raftstore.VerifyCheckpoint(note, key)
		if err != nil {
			continue
		}
		if cp.Origin != origin {
			return nil, errf(http.StatusBadRequest, "bad_checkpoint", "That checkpoint is of the ledger %q, not of this one (%q).", cp.Origin, origin)
		}
		if cp.Size == 0 {
			return nil, errf(http.StatusBadRequest, "bad_head", "That checkpoint is of the empty tree, which every ledger extends; keep a later one.")
		}
		name, _, _ := strings.Cut(key, "+")
		return &keptHead{Size: cp.Size, Root: cp.Root, SignedBy: name}, nil
	}
	return nil, errf(http.StatusBadRequest, "bad_checkpoint",
		"That checkpoint carries no valid signature of a node of this cluster (the keys GET /api/v1/cluster lists), so it says nothing about this ledger.")
}
