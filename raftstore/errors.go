package raftstore

import "errors"

// Sentinel errors callers branch on with errors.Is. They survive forwarding:
// a follower that forwards a write to the leader returns the same sentinel
// the leader returned.
var (
	// ErrNotLeader means the operation needs the leader and this node is not
	// it (or no leader is known yet). Propose never returns it to callers
	// unless its context ends while no leader can be reached.
	ErrNotLeader = errors.New("raftstore: not the leader")
	// ErrNoLeader means no leader was known for as long as the caller waited.
	ErrNoLeader = errors.New("raftstore: no leader")
	// ErrTimeout means the caller's deadline passed before the operation
	// finished. For a write the outcome is unknown: retry with the same
	// command id to learn it.
	ErrTimeout = errors.New("raftstore: timeout")
	// ErrClosed means the store has been closed.
	ErrClosed = errors.New("raftstore: store closed")
	// ErrInvalid means the request itself is malformed (empty batch, bad
	// proof sizes, unknown node id...).
	ErrInvalid = errors.New("raftstore: invalid request")
	// ErrNotFound means the thing asked for (ledger entry, node) is unknown.
	ErrNotFound = errors.New("raftstore: not found")
	// ErrNotCaughtUp means a node asked to join as a voter is a non-voter
	// until the leader can reach it and it has caught up; join again.
	ErrNotCaughtUp = errors.New("raftstore: node not caught up")
)
