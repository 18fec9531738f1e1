package raftstore

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/raft"
)

// errNoUsableSnapshot is why a node whose database is behind its
// snapshots, none of which it can restore, does not start.
var errNoUsableSnapshot = errors.New("raftstore: no snapshot of this node can be restored")

// snapshotStore is the snapshot store Raft gets: the file store, less the
// older snapshots the log no longer continues from.
//
// Raft restores the newest snapshot on start when the database is behind
// it, and if that fails it falls back to an older one. It then reads
// every log entry after the older one, and panics if one is missing.
// Entries go missing two ways:
//   - a newer snapshot compacts the log past the older one, which
//     --trailing-logs alone does not prevent: Raft checks the threshold
//     only every few minutes, so two snapshots can lie any number of
//     entries apart;
//   - a follower installs the leader's snapshot, and the entries up to it
//     are never written: its log jumps from what it had to what follows.
//
// Hidden here, such a snapshot makes Raft's start fail with an error
// instead, and the node says why (startError). Without log entries to
// replay, an older snapshot would take the node back to a state before
// entries it has acknowledged, which Raft's safety forbids: hidden too.
type snapshotStore struct {
	raft.SnapshotStore
	logs raft.LogStore

	mu        sync.Mutex
	lastError error // the last snapshot that could not be opened, and why
}

// List is the file store's list, newest first, with every snapshot but
// the newest left out unless the log holds the entries that follow it, up
// to the newest and on.
//
// The log holds them all if it holds the entry after the older snapshot
// and the newest snapshot's own entry. Entries are written in order; a
// compaction removes a prefix, and an install leaves out the entries up
// to the snapshot it installs. The only snapshot installed after the
// older one is the newest (two are kept, so any other would have made the
// older one go), and its install leaves out its own entry.
func (s *snapshotStore) List() ([]*raft.SnapshotMeta, error) {
	list, err := s.SnapshotStore.List()
	if err != nil || len(list) < 2 {
		return list, err
	}
	holds := func(index uint64) bool {
		var entry raft.Log
		return s.logs.GetLog(index, &entry) == nil
	}
	usable := list[:1]
	if holds(list[0].Index) {
		for _, m := range list[1:] {
			if holds(m.Index + 1) {
				usable = append(usable, m)
			}
		}
	}
	return usable, nil
}

// Open opens a snapshot, and remembers why it could not.
func (s *snapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	meta, rc, err := s.SnapshotStore.Open(id)
	if err != nil {
		s.failed(fmt.Errorf("open snapshot %s: %w", id, err))
	}
	return meta, rc, err
}

// failed records why a snapshot could not be opened or restored.
func (s *snapshotStore) failed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastError = err
}

// startError explains err, Raft's refusal to start, when a snapshot
// could not be opened or restored meanwhile: with the last such failure,
// and what the operator can do.
func (s *snapshotStore) startError(err error) error {
	s.mu.Lock()
	cause := s.lastError
	s.mu.Unlock()
	if cause == nil {
		return err
	}
	return fmt.Errorf("%w: %v (last: %v); an older snapshot is usable only while the log holds "+
		"the entries after it: restore a backup, or empty the data directory and join the cluster again",
		errNoUsableSnapshot, err, cause)
}
