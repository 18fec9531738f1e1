package raftstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/pedigree-ledger/pedigree/models"
)

// The forwarding RPC lets a follower hand a write (or a read-index request,
// a join or a removal) to the leader over the Raft port. Each message is a
// JSON header and a binary body, each after its 4-byte big-endian length; a
// connection carries one request at a time and goes back to a pool after
// its answer. A forwarded write's commands travel in the body, in the log
// entry's binary form (encodeCommands): as JSON, a capture's payload of
// hundreds of kilobytes was validated and copied once more on each side,
// and the leader validates it anyway when it builds the entry.

const maxFrame = 64 << 20

// maxForwardTimeout caps how long the leader works on one forwarded request.
const maxForwardTimeout = 5 * time.Minute

type rpcOp string

const (
	rpcPropose   rpcOp = "propose"
	rpcReadIndex rpcOp = "read_index"
	rpcJoin      rpcOp = "join"
	rpcRemove    rpcOp = "remove"
	rpcAnnounce  rpcOp = "announce"
	// rpcApplied asks any node, not only the leader, for its applied index.
	rpcApplied rpcOp = "applied"
	// rpcHead asks any node for its committed tree (size and root) and the
	// applied index it holds them at (audit.go).
	rpcHead rpcOp = "head"
)

type rpcRequest struct {
	Op rpcOp `json:"op"`
	// TimeoutMS is what is left of the caller's deadline.
	TimeoutMS int64            `json:"timeout_ms"`
	Cmds      []models.Command `json:"-"` // in the body
	Verify    bool             `json:"verify,omitempty"`
	Node      *NodeInfo        `json:"node,omitempty"`
	Voter     bool             `json:"voter,omitempty"`
	ID        string           `json:"id,omitempty"`
	// Size, on rpcHead, asks for the root of the tree of that many
	// entries rather than the current one (audit.go).
	Size uint64 `json:"size,omitempty"`
}

type rpcError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type rpcResponse struct {
	Results []models.Result `json:"results,omitempty"`
	Index   uint64          `json:"index,omitempty"`
	Size    uint64          `json:"size,omitempty"`
	Root    []byte          `json:"root,omitempty"`
	// Rules is the newest rules version the answering node applies
	// (rpcApplied); absent from a binary older than rule versions, which
	// applies version 1.
	Rules int `json:"rules,omitempty"`
	// Node is the answering node's id (rpcApplied), so that a join can
	// tell whether the node at an address is the one it names; absent
	// from older binaries.
	Node string    `json:"node,omitempty"`
	Err  *rpcError `json:"err,omitempty"`
}

var sentinelCodes = []struct {
	code string
	err  error
}{
	{"not_leader", ErrNotLeader},
	{"no_leader", ErrNoLeader},
	{"timeout", ErrTimeout},
	{"closed", ErrClosed},
	{"invalid", ErrInvalid},
	{"not_found", ErrNotFound},
	{"not_caught_up", ErrNotCaughtUp},
	{"rules_unsupported", ErrRulesUnsupported},
	{"cluster_mismatch", ErrClusterMismatch},
	{"diverged", ErrDiverged},
}

func toRPCError(err error) *rpcError {
	if err == nil {
		return nil
	}
	for _, s := range sentinelCodes {
		if errors.Is(err, s.err) {
			return &rpcError{Code: s.code, Message: err.Error()}
		}
	}
	return &rpcError{Code: "internal", Message: err.Error()}
}

// remoteError is an error the leader returned; it unwraps to the sentinel
// its code names so errors.Is works across nodes.
type remoteError struct {
	code, msg string
	sentinel  error
}

func (e *remoteError) Error() string { return "leader: " + e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

func fromRPCError(e *rpcError) error {
	if e == nil {
		return nil
	}
	for _, s := range sentinelCodes {
		if s.code == e.Code {
			return &remoteError{code: e.Code, msg: e.Message, sentinel: s.err}
		}
	}
	return &remoteError{code: e.Code, msg: e.Message}
}

// errForward marks a failure to reach the node a request was sent to,
// mostly the leader (network, closed connection): the caller may retry,
// since commands are idempotent by id.
var errForward = errors.New("cluster rpc failed")

// writeFrame writes header as JSON, then body.
func writeFrame(w io.Writer, header any, body []byte) error {
	b, err := json.Marshal(header)
	if err != nil {
		return err
	}
	if len(b) > maxFrame || len(body) > maxFrame {
		return fmt.Errorf("frame of %d+%d bytes is too large", len(b), len(body))
	}
	var n [4]byte
	for _, part := range [][]byte{b, body} {
		binary.BigEndian.PutUint32(n[:], uint32(len(part)))
		if _, err := w.Write(n[:]); err != nil {
			return err
		}
		if _, err := w.Write(part); err != nil {
			return err
		}
	}
	return nil
}

// readFrame reads a frame's JSON header into header and returns its body.
func readFrame(r io.Reader, header any) (body []byte, err error) {
	return readFrameOf(r, header, maxFrame)
}

// readFrameOf is readFrame with a header of at most headerLimit bytes.
func readFrameOf(r io.Reader, header any, headerLimit uint32) (body []byte, err error) {
	b, err := readPart(r, headerLimit)
	if err != nil {
		return nil, err
	}
	if body, err = readPart(r, maxFrame); err != nil {
		return nil, err
	}
	return body, json.Unmarshal(b, header)
}

// maxRequestHeader bounds a request's JSON header: its few fields, never
// its commands (those go in the body). An answer's header holds the
// results, and comes from the leader this node called.
const maxRequestHeader = 1 << 20

// readPart reads one length-prefixed part of at most limit bytes. The
// buffer grows as the bytes arrive, so a peer that announces a large part
// and sends little holds no more memory than it sent.
func readPart(r io.Reader, limit uint32) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > limit {
		return nil, fmt.Errorf("frame part of %d bytes is too large (limit %d)", size, limit)
	}
	var b bytes.Buffer
	b.Grow(int(min(size, 64<<10)))
	if _, err := io.CopyN(&b, r, int64(size)); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b.Bytes(), nil
}

// writeRequest sends req, its commands in the frame's body.
func writeRequest(w io.Writer, req rpcRequest) error {
	var body []byte
	if len(req.Cmds) > 0 {
		var err error
		if body, err = encodeCommands(req.Cmds, false); err != nil {
			return err
		}
	}
	return writeFrame(w, req, body)
}

// readRequest reads a request and the commands in its body.
func readRequest(r io.Reader) (rpcRequest, error) {
	var req rpcRequest
	body, err := readFrameOf(r, &req, maxRequestHeader)
	if err != nil || len(body) == 0 {
		return req, err
	}
	e, err := decodeEntryOf(body, maxBatch)
	if err != nil {
		return req, err
	}
	if e.Op != opLedger {
		return req, fmt.Errorf("request body holds a %q entry, not commands", e.Op)
	}
	req.Cmds = e.Cmds
	return req, nil
}

// forwarder is the client side: a small pool of RPC connections per peer.
type forwarder struct {
	m *mux

	mu     sync.Mutex
	idle   map[string][]*rpcConn
	closed bool
}

type rpcConn struct {
	net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

const maxIdlePerPeer = 32

func newForwarder(m *mux) *forwarder {
	return &forwarder{m: m, idle: map[string][]*rpcConn{}}
}

// get returns an idle connection to addr (reused true) or, with fresh or
// none idle, a new one, made within ctx.
func (f *forwarder) get(ctx context.Context, addr string, timeout time.Duration, fresh bool) (c *rpcConn, reused bool, err error) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, false, ErrClosed
	}
	if cs := f.idle[addr]; len(cs) > 0 && !fresh {
		c := cs[len(cs)-1]
		f.idle[addr] = cs[:len(cs)-1]
		f.mu.Unlock()
		return c, true, nil
	}
	f.mu.Unlock()
	nc, err := f.m.dialServiceContext(ctx, addr, muxRPC, timeout)
	if err != nil {
		return nil, false, err
	}
	return &rpcConn{Conn: nc, r: bufio.NewReader(nc), w: bufio.NewWriter(nc)}, false, nil
}

// dropIdle closes every idle connection to addr: one of them failed, and
// the others, made to the same process, likely died with it (the peer
// restarted).
func (f *forwarder) dropIdle(addr string) {
	f.mu.Lock()
	cs := f.idle[addr]
	delete(f.idle, addr)
	f.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
}

func (f *forwarder) put(addr string, c *rpcConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || len(f.idle[addr]) >= maxIdlePerPeer {
		c.Close()
		return
	}
	f.idle[addr] = append(f.idle[addr], c)
}

// call sends one request to addr and waits for its answer within ctx. An
// idle connection that fails (the peer restarted since it was made) costs
// no retry round: the pool for addr is emptied and the request sent again
// at once on a new connection. Everything sent this way may be sent twice
// (writes are idempotent by command id, the rest are questions or settle
// as Remove's do).
func (f *forwarder) call(ctx context.Context, addr string, req rpcRequest) (rpcResponse, error) {
	resp, reused, err := f.callOnce(ctx, addr, req, false)
	if err != nil && reused && errors.Is(err, errForward) && ctx.Err() == nil {
		f.dropIdle(addr)
		resp, _, err = f.callOnce(ctx, addr, req, true)
	}
	return resp, err
}

func (f *forwarder) callOnce(ctx context.Context, addr string, req rpcRequest, fresh bool) (rpcResponse, bool, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	left := time.Until(deadline)
	if left <= 0 {
		return rpcResponse{}, false, fmt.Errorf("%w: deadline passed before forwarding", ErrTimeout)
	}
	req.TimeoutMS = left.Milliseconds()
	c, reused, err := f.get(ctx, addr, min(left, 5*time.Second), fresh)
	if err != nil {
		if errors.Is(err, ErrClosed) {
			return rpcResponse{}, false, err
		}
		// %w twice: a cluster's refusal (ErrClusterMismatch) says more
		// than "unreachable", and the join checks for it.
		return rpcResponse{}, false, fmt.Errorf("%w: dial %s: %w", errForward, addr, err)
	}
	// Give the leader a moment past the caller's deadline to answer with its
	// own timeout error rather than cutting the connection.
	_ = c.SetDeadline(deadline.Add(500 * time.Millisecond))
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	err = writeRequest(c.w, req)
	if err == nil {
		err = c.w.Flush()
	}
	var resp rpcResponse
	if err == nil {
		_, err = readFrame(c.r, &resp)
	}
	if err != nil {
		c.Close()
		if ctx.Err() != nil {
			return rpcResponse{}, reused, fmt.Errorf("%w: forwarding to %s: %v", ErrTimeout, addr, ctx.Err())
		}
		return rpcResponse{}, reused, fmt.Errorf("%w: %s: %v", errForward, addr, err)
	}
	if !stop() {
		c.Close() // the AfterFunc fired: the deadline on the conn is spoiled
	} else {
		_ = c.SetDeadline(time.Time{})
		f.put(addr, c)
	}
	return resp, reused, fromRPCError(resp.Err)
}

func (f *forwarder) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for _, cs := range f.idle {
		for _, c := range cs {
			c.Close()
		}
	}
	f.idle = nil
}

// rpcIdleTimeout is how long a forwarding connection may wait for its next
// request, all of it: a peer that stops mid-request, or opens connections
// it never uses, holds them no longer. A peer's pooled connections that
// outlive it are dialled again on first use (forwarder.call). A variable
// for tests; a Store reads it once, when it opens.
var rpcIdleTimeout = 5 * time.Minute

// serveRPC answers forwarded requests on one connection until it closes.
func (s *Store) serveRPC(c net.Conn) {
	defer c.Close()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	for {
		_ = c.SetReadDeadline(time.Now().Add(s.rpcIdle))
		req, err := readRequest(r)
		if err != nil {
			return
		}
		_ = c.SetReadDeadline(time.Time{})
		// The leader works to the caller's deadline, as a local Propose
		// would; ProposeTimeout only fills in when the caller set none.
		timeout := time.Duration(req.TimeoutMS) * time.Millisecond
		if timeout <= 0 {
			timeout = s.cfg.ProposeTimeout
		}
		timeout = min(timeout, maxForwardTimeout)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		resp := s.handleRPC(ctx, req)
		cancel()
		if err := writeFrame(w, resp, nil); err != nil {
			return
		}
		if err := w.Flush(); err != nil {
			return
		}
	}
}

// handleRPC runs a forwarded request on this node, which must be the leader
// (but for rpcApplied, which the leader asks of a joining node, and
// rpcHead, which every node asks of the others): requests
// are forwarded once, never chained, so a stale leader answers not_leader
// and the follower retries with the leader it learns next.
func (s *Store) handleRPC(ctx context.Context, req rpcRequest) rpcResponse {
	var resp rpcResponse
	var err error
	switch req.Op {
	case rpcPropose:
		resp.Results, err = s.proposeLocal(ctx, req.Cmds)
	case rpcReadIndex:
		resp.Index, err = s.leaderReadIndex(ctx, req.Verify)
	case rpcJoin:
		if req.Node == nil {
			err = fmt.Errorf("%w: join without a node", ErrInvalid)
		} else {
			err = s.joinLocal(ctx, *req.Node, req.Voter)
		}
	case rpcRemove:
		err = s.removeLocal(ctx, req.ID)
	case rpcApplied:
		_, _, resp.Index = s.ledger.committed()
		resp.Rules = s.rulesSupported()
		resp.Node = s.cfg.NodeID
	case rpcHead:
		// Any node answers, for the others' audits, but one that found
		// its own ledger wrong is no witness.
		if d := s.diverged.Load(); d != nil {
			err = d
		} else if s.testAnswerHeadAsLeaderOnly.Load() && !s.IsLeader() {
			err = ErrNotLeader // as binaries before every node answered
		} else {
			resp.Size, resp.Root, resp.Index = s.ledger.committed()
			// A tree of fewer entries is a prefix of this one, the same
			// whenever it is read.
			if req.Size != 0 && req.Size < resp.Size {
				if root, rerr := s.rootAt(req.Size); rerr == nil {
					resp.Size, resp.Root = req.Size, root
				}
			}
		}
	case rpcAnnounce:
		if req.Node == nil {
			err = fmt.Errorf("%w: announce without a node", ErrInvalid)
		} else {
			err = s.announceLocal(ctx, *req.Node)
		}
	default:
		err = fmt.Errorf("%w: unknown rpc %q", ErrInvalid, req.Op)
	}
	resp.Err = toRPCError(err)
	return resp
}
