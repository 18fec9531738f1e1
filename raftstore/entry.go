package raftstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/pedigree-ledger/pedigree/models"
)

// op names what a Raft log entry carries. Ledger entries go through the
// models rules; the node ops are raftstore's own bookkeeping for the cluster
// listing and are not ledger entries (no seq, no leaf).
type op string

const (
	opLedger     op = "ledger"
	opNodePut    op = "node_put"
	opNodeDelete op = "node_delete"
)

// logEntry is the data of one Raft log entry. Everything in it was decided
// before proposing (ids, record times), so applying it is deterministic.
type logEntry struct {
	Op   op               `json:"op"`
	Cmds []models.Command `json:"cmds,omitempty"`
	Node *NodeInfo        `json:"node,omitempty"`
}

func encodeEntry(e logEntry) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode log entry: %w", err)
	}
	return b, nil
}

func decodeEntry(b []byte) (logEntry, error) {
	var e logEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return logEntry{}, fmt.Errorf("decode log entry: %w", err)
	}
	return e, nil
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad record time %q: %w", s, err)
	}
	return t.UTC(), nil
}
