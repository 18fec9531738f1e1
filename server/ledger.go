package server

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// LedgerProofs is what the ledger endpoints need: the signed tree head and
// RFC 6962 proofs; *raftstore.Store implements it.
type LedgerProofs interface {
	Head() raftstore.Head
	Entry(seq uint64) (raftstore.Entry, error)
	InclusionProof(seq, size uint64) (raftstore.InclusionProof, error)
	ConsistencyProof(first, second uint64) (raftstore.ConsistencyProof, error)
}

type ledgerAPI struct {
	ledger LedgerProofs
	// local is the node's tree size and its way to catch up with the
	// leader (catchup.go).
	local interface {
		projectionReader
		appliedIndexer
	}
	nodeID string
}

// reach is catchUpTo for this node's tree: a client asking for an entry
// or a proof names a size the cluster has acknowledged, perhaps on another
// node.
func (a *ledgerAPI) reach(c *gin.Context, size uint64) error {
	return catchUpTo(c.Request.Context(), a.local, a.local.Status().TreeSize, size)
}

// headView is GET /api/v1/ledger/head: hashes in hex, the signature in
// base64 as in the signed note it comes from.
type headView struct {
	Size       uint64 `json:"size"`
	Root       string `json:"root"`
	Signature  string `json:"signature"`
	Checkpoint string `json:"checkpoint"`
	Key        string `json:"key"`
	Node       string `json:"node"`
}

type inclusionView struct {
	Seq      uint64   `json:"seq"`
	Size     uint64   `json:"size"`
	LeafHash string   `json:"leaf_hash"`
	Hashes   []string `json:"hashes"`
	Root     string   `json:"root"`
}

type consistencyView struct {
	First      uint64   `json:"first"`
	Second     uint64   `json:"second"`
	FirstRoot  string   `json:"first_root"`
	SecondRoot string   `json:"second_root"`
	Hashes     []string `json:"hashes"`
}

// entryView is GET /api/v1/ledger/entries/:seq: the committed entry, and
// the exact leaf bytes (hex) whose RFC 6962 hash is its Merkle leaf, so a
// regulator can check SHA-256(0x00 || leaf_input) == leaf_hash and then an
// inclusion proof, without trusting how the JSON was re-encoded.
type entryView struct {
	Seq       uint64         `json:"seq"`
	Command   models.Command `json:"command"`
	Result    models.Result  `json:"result"`
	LeafInput string         `json:"leaf_input"`
	LeafHash  string         `json:"leaf_hash"`
}

func (a *ledgerAPI) entry(c *gin.Context) {
	seq, err := strconv.ParseUint(c.Param("seq"), 10, 64)
	if err != nil || seq == 0 {
		abortErr(c, errf(http.StatusBadRequest, "invalid_request", "seq %q is not a positive integer", c.Param("seq")))
		return
	}
	if err := a.reach(c, seq); err != nil {
		abortErr(c, err)
		return
	}
	e, err := a.ledger.Entry(seq)
	if err != nil {
		abortErr(c, storeErr(err))
		return
	}
	if err := mayReadEntry(c, a.local, e); err != nil {
		abortErr(c, err)
		return
	}
	c.JSON(http.StatusOK, entryView{
		Seq: e.Seq, Command: e.Command, Result: e.Result,
		LeafInput: hex.EncodeToString(raftstore.LeafInput(e.Seq, e.Command, e.Result)),
		LeafHash:  hex.EncodeToString(e.LeafHash),
	})
}

func (a *ledgerAPI) head(c *gin.Context) {
	h := a.ledger.Head()
	c.JSON(http.StatusOK, headView{
		Size: h.Size, Root: hex.EncodeToString(h.Root), Signature: base64.StdEncoding.EncodeToString(h.Signature),
		Checkpoint: h.Checkpoint, Key: h.Key, Node: a.nodeID,
	})
}

// inclusion answers ?seq=N[&size=M]; without size, the current tree.
func (a *ledgerAPI) inclusion(c *gin.Context) {
	seq, err := uintParam(c, "seq", true)
	if err != nil {
		abortErr(c, err)
		return
	}
	size, err := treeSizeParam(c, "size")
	if err != nil {
		abortErr(c, err)
		return
	}
	if err := a.reach(c, max(seq, size)); err != nil {
		abortErr(c, err)
		return
	}
	p, err := a.ledger.InclusionProof(seq, size)
	if err != nil {
		abortErr(c, storeErr(err))
		return
	}
	c.JSON(http.StatusOK, inclusionView{Seq: p.Seq, Size: p.Size, LeafHash: hex.EncodeToString(p.LeafHash), Hashes: hexAll(p.Hashes), Root: hex.EncodeToString(p.Root)})
}

// consistency answers ?first=N[&second=M]; without second, the current
// tree.
func (a *ledgerAPI) consistency(c *gin.Context) {
	first, err := uintParam(c, "first", true)
	if err != nil {
		abortErr(c, err)
		return
	}
	second, err := treeSizeParam(c, "second")
	if err != nil {
		abortErr(c, err)
		return
	}
	if err := a.reach(c, max(first, second)); err != nil {
		abortErr(c, err)
		return
	}
	p, err := a.ledger.ConsistencyProof(first, second)
	if err != nil {
		abortErr(c, storeErr(err))
		return
	}
	c.JSON(http.StatusOK, consistencyView{First: p.First, Second: p.Second, FirstRoot: hex.EncodeToString(p.FirstRoot),
		SecondRoot: hex.EncodeToString(p.SecondRoot), Hashes: hexAll(p.Hashes)})
}

// treeSizeParam reads an optional tree size: 0 when absent, which the
// store reads as the current tree. An explicit 0 is the empty tree, which
// no entry is in and no proof leads to: refused, rather than read as the
// current tree, which is not what was asked.
func treeSizeParam(c *gin.Context, name string) (uint64, error) {
	v, err := uintParam(c, name, false)
	if err == nil && v == 0 && c.Query(name) != "" {
		return 0, errf(http.StatusBadRequest, "bad_tree_size",
			"%s=0 names the empty tree, which no proof leads to; give a positive tree size, or leave %s out for the current tree", name, name)
	}
	return v, err
}

func uintParam(c *gin.Context, name string, required bool) (uint64, error) {
	s := c.Query(name)
	if s == "" {
		if required {
			return 0, errf(http.StatusBadRequest, "invalid_request", "query parameter %s is required", name)
		}
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errf(http.StatusBadRequest, "invalid_request", "query parameter %s=%q is not a non-negative integer", name, s)
	}
	return v, nil
}

func hexAll(hs [][]byte) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = hex.EncodeToString(h)
	}
	return out
}

// mayReadEntry refuses an entry the caller may not read whole: as in every
// read, an organisation's trade is its own, its trading partners' where
// they took part, and the regulators' (models.Viewer.SeesEntry). Its leaf
// hash and proofs stay public: they say nothing of what it holds.
func mayReadEntry(c *gin.Context, r projectionReader, e raftstore.Entry) error {
	cl, err := callerOf(c)
	if err != nil {
		return err
	}
	db, err := r.Read(c.Request.Context(), raftstore.Local)
	if err != nil {
		return storeErr(err)
	}
	ok, err := viewerOf(cl).SeesEntry(db, e.Seq, e.Command.Actor)
	if err != nil {
		return err
	}
	if !ok {
		return errf(http.StatusForbidden, "forbidden",
			"entry %d is another organisation's trade: its writer, regulators and admins may read it", e.Seq)
	}
	return nil
}
