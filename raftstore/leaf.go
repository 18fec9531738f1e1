package raftstore

import (
	"crypto/sha256"
	"encoding/binary"
	"time"

	"github.com/pedigree-ledger/pedigree/models"
)

// LeafPrefix starts the input of every Merkle leaf, so a Pedigree leaf can
// never be mistaken for the encoding of anything else.
const LeafPrefix = "pedigree-leaf-v1"

// LeafInput returns the exact bytes whose RFC 6962 leaf hash,
// SHA-256(0x00 || LeafInput), is the Merkle leaf of the ledger entry at seq.
// A regulator recomputes it from an entry as the API serves it:
//
//	LeafInput = "pedigree-leaf-v1" 0x00
//	            uint64be(seq)
//	            lp(command id) lp(kind) lp(actor)
//	            lp(record time, RFC 3339 with nanoseconds, UTC)
//	            lp(payload bytes, exactly as committed)
//	            byte(1 if accepted, else 0)
//	            lp(result code)
//	lp(x)     = uint32be(len(x)) x
//
// The encoding is length-prefixed so no two different entries share leaf
// bytes, and it binds the entry to its position (seq) and to whether the
// rules accepted it.
func LeafInput(seq uint64, cmd models.Command, res models.Result) []byte {
	ts := FormatTime(cmd.Time)
	n := len(LeafPrefix) + 1 + 8 + 6*4 + len(cmd.ID) + len(cmd.Kind) + len(cmd.Actor) + len(ts) + len(cmd.Payload) + 1 + len(res.Code)
	b := make([]byte, 0, n)
	b = append(b, LeafPrefix...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = appendLP(b, []byte(cmd.ID))
	b = appendLP(b, []byte(cmd.Kind))
	b = appendLP(b, []byte(cmd.Actor))
	b = appendLP(b, []byte(ts))
	b = appendLP(b, cmd.Payload)
	if res.Accepted {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = appendLP(b, []byte(res.Code))
	return b
}

// LeafHash is the RFC 6962 leaf hash of LeafInput(seq, cmd, res).
func LeafHash(seq uint64, cmd models.Command, res models.Result) []byte {
	return hashLeaf(LeafInput(seq, cmd, res))
}

func hashLeaf(input []byte) []byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(input)
	return h.Sum(nil)
}

func appendLP(b, x []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
	return append(b, x...)
}

// FormatTime is the one text form of a record time used in leaves and in
// the ledger table: RFC 3339 with nanoseconds, in UTC.
func FormatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}
