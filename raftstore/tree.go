package raftstore

import (
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
)

// Head is this node's signed tree head. Every node that has applied the same
// entries has the same Size and Root; the signature is the node's own.
type Head struct {
	Size uint64 `json:"size"`
	Root []byte `json:"root"`
	// Checkpoint is the signed note (C2SP tlog-checkpoint) over Size and Root.
	Checkpoint string `json:"checkpoint"`
	// Signature is the Ed25519 signature over the checkpoint body.
	Signature []byte `json:"signature"`
	// Key is the verifier key that checks Checkpoint.
	Key string `json:"key"`
}

// Head returns the committed tree head, signed.
func (s *Store) Head() Head {
	size, root, _ := s.ledger.committed()
	note, sig := s.signer.sign(size, root)
	return Head{Size: size, Root: root, Checkpoint: note, Signature: sig, Key: s.signer.verifierKey}
}

// InclusionProof proves that the entry at seq is a leaf of the tree of the
// given size (RFC 6962 audit path, leaf index seq-1).
type InclusionProof struct {
	Seq      uint64   `json:"seq"`
	Size     uint64   `json:"size"`
	LeafHash []byte   `json:"leaf_hash"`
	Hashes   [][]byte `json:"hashes"`
	Root     []byte   `json:"root"`
}

// ConsistencyProof proves that the tree of size First is a prefix of the
// tree of size Second.
type ConsistencyProof struct {
	First      uint64   `json:"first"`
	Second     uint64   `json:"second"`
	FirstRoot  []byte   `json:"first_root"`
	SecondRoot []byte   `json:"second_root"`
	Hashes     [][]byte `json:"hashes"`
}

// InclusionProof returns the proof for seq in the tree of size size (0
// means the current size). It reads O(log size) stored nodes.
func (s *Store) InclusionProof(seq, size uint64) (InclusionProof, error) {
	cur, _, _ := s.ledger.committed()
	if size == 0 {
		size = cur
	}
	if seq == 0 || seq > size || size > cur {
		return InclusionProof{}, fmt.Errorf("%w: need 1 <= seq (%d) <= size (%d) <= tree size (%d)", ErrInvalid, seq, size, cur)
	}
	nodes, err := proof.Inclusion(seq-1, size)
	if err != nil {
		return InclusionProof{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	hashes, err := s.proofHashes(nodes)
	if err != nil {
		return InclusionProof{}, err
	}
	leaf, err := nodeHash(s.ledger.sqlDB, compact.NewNodeID(0, seq-1))
	if err != nil {
		return InclusionProof{}, err
	}
	root, err := s.rootAt(size)
	if err != nil {
		return InclusionProof{}, err
	}
	return InclusionProof{Seq: seq, Size: size, LeafHash: leaf, Hashes: hashes, Root: root}, nil
}

// ConsistencyProof returns the proof between two sizes (second 0 means the
// current size).
func (s *Store) ConsistencyProof(first, second uint64) (ConsistencyProof, error) {
	cur, _, _ := s.ledger.committed()
	if second == 0 {
		second = cur
	}
	if first > second || second > cur {
		return ConsistencyProof{}, fmt.Errorf("%w: need first (%d) <= second (%d) <= tree size (%d)", ErrInvalid, first, second, cur)
	}
	nodes, err := proof.Consistency(first, second)
	if err != nil {
		return ConsistencyProof{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	hashes, err := s.proofHashes(nodes)
	if err != nil {
		return ConsistencyProof{}, err
	}
	r1, err := s.rootAt(first)
	if err != nil {
		return ConsistencyProof{}, err
	}
	r2, err := s.rootAt(second)
	if err != nil {
		return ConsistencyProof{}, err
	}
	return ConsistencyProof{First: first, Second: second, FirstRoot: r1, SecondRoot: r2, Hashes: hashes}, nil
}

// proofHashes fetches the stored perfect-subtree hashes a proof names and
// folds the ephemeral node, if any.
func (s *Store) proofHashes(nodes proof.Nodes) ([][]byte, error) {
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		h, err := nodeHash(s.ledger.sqlDB, id)
		if err != nil {
			return nil, err
		}
		hashes[i] = h
	}
	out, err := nodes.Rehash(hashes, hasher.HashChildren)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = [][]byte{}
	}
	return out, nil
}

// rootAt is the root of the tree of an earlier (or the current) size.
func (s *Store) rootAt(size uint64) ([]byte, error) {
	rng, err := s.ledger.rangeAt(s.ledger.sqlDB, size)
	if err != nil {
		return nil, err
	}
	return rootOf(rng)
}

// Entry returns the committed ledger entry at seq.
func (s *Store) Entry(seq uint64) (Entry, error) {
	return s.ledger.entryBySeq(seq)
}

// EntryByID returns the committed ledger entry of a command id.
func (s *Store) EntryByID(id string) (Entry, error) {
	return s.ledger.entryByID(id)
}
