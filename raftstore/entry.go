package raftstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
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

// Ledger entries are written in a small binary form; node ops, which are
// rare, stay JSON. The binary form exists because every node decodes every
// entry: JSON would validate and copy each command's payload (a capture of
// 1,000 events is hundreds of kilobytes) once more per node, on the path
// that bounds the cluster's write rate. Decoding reads both forms, so logs
// written before it still replay.
//
//	entry   = 0x00 "PLE" 0x01 uvarint(n) command{n}
//	command = lp(id) lp(kind) lp(actor) varint(unix seconds) uvarint(nanoseconds) lp(payload)
//	lp(x)   = uvarint(len(x)) x
//
// A JSON entry starts with '{', so the leading zero byte tells them apart.
const binaryEntryMagic = "\x00PLE\x01"

func encodeEntry(e logEntry) ([]byte, error) {
	if e.Op != opLedger {
		b, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("encode log entry: %w", err)
		}
		return b, nil
	}
	return encodeCommands(e.Cmds, true)
}

// encodeCommands writes cmds in the binary entry form. With compact,
// each payload is compacted, as the log commits it (the Merkle leaf covers
// these exact bytes; unlike the JSON form, '<', '>' and '&' stay as sent
// rather than become \u003c and so on), which also rejects a payload that
// is not JSON. Without it the payloads are copied as they are: a follower
// forwarding commands leaves that work to the leader, which does it once.
func encodeCommands(cmds []models.Command, compact bool) ([]byte, error) {
	n := len(binaryEntryMagic) + binary.MaxVarintLen64
	for _, c := range cmds {
		n += len(c.ID) + len(c.Kind) + len(c.Actor) + len(c.Payload) + 6*binary.MaxVarintLen64
	}
	b := make([]byte, 0, n)
	b = append(b, binaryEntryMagic...)
	b = binary.AppendUvarint(b, uint64(len(cmds)))
	var payload bytes.Buffer
	for _, c := range cmds {
		b = appendUvarintLP(b, []byte(c.ID))
		b = appendUvarintLP(b, []byte(c.Kind))
		b = appendUvarintLP(b, []byte(c.Actor))
		b = binary.AppendVarint(b, c.Time.Unix())
		b = binary.AppendUvarint(b, uint64(c.Time.Nanosecond()))
		p := []byte(c.Payload)
		if compact && len(p) > 0 {
			payload.Reset()
			if err := json.Compact(&payload, p); err != nil {
				return nil, fmt.Errorf("encode log entry: command %q: payload: %w", c.ID, err)
			}
			if !bytes.Equal(payload.Bytes(), p) {
				p = payload.Bytes()
			}
		}
		b = appendUvarintLP(b, p)
	}
	return b, nil
}

func decodeEntry(b []byte) (logEntry, error) {
	return decodeEntryOf(b, math.MaxInt)
}

// decodeEntryOf is decodeEntry of an entry of at most maxCmds commands; a
// forwarded request's body is held to maxBatch before anything is built.
func decodeEntryOf(b []byte, maxCmds int) (logEntry, error) {
	if bytes.HasPrefix(b, []byte(binaryEntryMagic)) {
		return decodeBinaryEntry(b[len(binaryEntryMagic):], maxCmds)
	}
	var e logEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return logEntry{}, fmt.Errorf("decode log entry: %w", err)
	}
	return e, nil
}

// minCommandBytes is the least a command takes in the binary form: a byte
// for each of its six fields (id, kind, actor, seconds, nanoseconds and
// payload, all empty or zero).
const minCommandBytes = 6

func decodeBinaryEntry(b []byte, maxCmds int) (logEntry, error) {
	r := entryReader{b: b}
	n := r.uvarint()
	switch {
	case r.err != nil:
	case n > uint64(len(b))/minCommandBytes:
		r.err = errors.New("command count exceeds the entry")
	case n > uint64(maxCmds):
		r.err = fmt.Errorf("%d commands, more than %d", n, maxCmds)
	}
	e := logEntry{Op: opLedger}
	if r.err == nil {
		// The count is what the sender claims: the slice grows with the
		// commands actually read, so a frame of garbage that claims
		// millions of them costs no more than its own size.
		e.Cmds = make([]models.Command, 0, min(n, 1024))
	}
	for i := uint64(0); r.err == nil && i < n; i++ {
		var c models.Command
		c.ID = string(r.lp())
		c.Kind = models.CommandKind(r.lp())
		c.Actor = string(r.lp())
		sec := r.varint()
		nsec := r.uvarint()
		if r.err == nil && nsec >= 1e9 {
			r.err = errors.New("nanoseconds out of range")
		}
		c.Time = time.Unix(sec, int64(nsec)).UTC()
		if p := r.lp(); len(p) > 0 {
			c.Payload = json.RawMessage(p)
		}
		e.Cmds = append(e.Cmds, c)
	}
	if r.err == nil && len(r.b) > 0 {
		r.err = errors.New("trailing bytes")
	}
	if r.err != nil {
		return logEntry{}, fmt.Errorf("decode log entry: %w", r.err)
	}
	return e, nil
}

func appendUvarintLP(b, x []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(x))), x...)
}

// entryReader reads the binary entry form; the first error sticks.
type entryReader struct {
	b   []byte
	err error
}

func (r *entryReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// varint reads a signed varint: a uvarint, zig-zag decoded as
// binary.Varint does.
func (r *entryReader) varint() int64 {
	u := r.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

// lp returns the next length-prefixed field, aliasing the entry's bytes
// (raft hands the FSM a log it no longer changes).
func (r *entryReader) lp() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errors.New("field runs past the entry")
		return nil
	}
	x := r.b[:n:n]
	r.b = r.b[n:]
	return x
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad record time %q: %w", s, err)
	}
	return t.UTC(), nil
}
