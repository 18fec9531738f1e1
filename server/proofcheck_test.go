package server

import (
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/pedigree-ledger/pedigree/raftstore"
)

// proofHolds checks an inclusion proof offline, as a regulator would.
func proofHolds(p *raftstore.InclusionProof, root []byte) bool {
	return proof.VerifyInclusion(rfc6962.DefaultHasher, p.Seq-1, p.Size, p.LeafHash, p.Hashes, root) == nil
}
