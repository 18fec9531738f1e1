// Package raftstore is the replicated, tamper-evident ledger of a Pedigree
// node: a hashicorp/raft node whose finite state machine applies typed
// models.Command values to a SQLite projection (via gorm) and appends every
// committed ledger entry to an RFC 6962 Merkle tree.
//
// # Layout on disk
//
// Everything a node owns lives under one data directory:
//
//	raft.db        raft-boltdb v2: the Raft log and stable store; ledger
//	               entries are in entry.go's binary form, node changes and
//	               logs written before it are JSON; the stable store also
//	               records the node's cluster id (clusterid.go)
//	snapshots/     raft file snapshots (each a SQLite file: projection + tree)
//	ledger.db      the SQLite projection, ledger entries and Merkle nodes
//	node.key       the node's Ed25519 key that signs tree heads (mode 0600)
//	.pedigree-backup-tmp-*/  a backup's copy while it is made (backup.go)
//	snapshot-*.db, restore-*.db  a snapshot's copy while it is made, and
//	               a received snapshot while it is installed (fsm_snapshot.go);
//	               Open removes those a stopped process left
//	ledger.db.restoring, ledger.db.replaying  a backup's copy, and its
//	               replay, while a restore runs (restore.go)
//	restore.pending  present while a restore runs; Open refuses the
//	               directory if a restore left it (restore.go)
//
// # Invariants
//
//   - Apply is deterministic: it reads time and ids only from the command,
//     which the node that takes the proposal (id) and the leader (time) stamp
//     before proposing. Every node applying the same log has byte-identical
//     ledger entries, leaves and roots: equal tree size means equal root.
//   - A command id is applied at most once. A repeated id returns the first
//     Result, consumes no sequence number and appends no leaf, so clients and
//     forwarding nodes retry safely across leader changes. A follower
//     stops waiting for a forwarded write or read-index request when
//     Raft's leader changes, and asks the new one, so a leader that
//     vanished without closing its connections holds no one up.
//   - A rejected command (Result.Accepted false) is still a ledger entry with
//     a leaf, but its projection changes are undone (models.Batch undoes a
//     capture applied in memory, or rolls back a savepoint), and results do
//     not depend on how Raft groups entries into batches (nor on what
//     models.Batch.Prefetch reads ahead for a batch).
//   - The entries Raft has committed and handed the FSM since its last
//     transaction are applied in one SQLite transaction (group commit,
//     fsm_group.go) that also records the last applied Raft index, so the
//     projection, the ledger and the tree never disagree, and a restarted
//     node skips the log entries its database already holds. Raft counts an
//     entry applied once it is queued; a write is acknowledged, a snapshot
//     taken and a new leader's read index given only once the ledger has
//     committed what was queued before, and a node that crashed with
//     entries queued gets them again from Raft's replay on restart.
//   - A snapshot is a point-in-time copy of the whole SQLite file (VACUUM
//     INTO), so a node restored from it has the same projection, ledger and
//     Merkle tree, and thus the same root, as the node that took it.
//   - A backup is a snapshot's copy with its own tree head, and a restore
//     (OpenRestored) starts a new cluster from it as from a snapshot taken
//     at its Raft index, so no later entry is taken for one it holds. The
//     restore keeps only the backup's entries (and the Raft indexes
//     they were applied at): it replays them through the rules into a
//     new projection, each to the result it records (restore_replay.go),
//     so no organisation, token or pack that no entry made survives. It never replaces a ledger: it refuses a directory with
//     Raft or ledger state, and Open refuses a database without Raft
//     state.
//   - A node takes part only in its own cluster: every connection carries
//     the dialler's cluster id, minted at bootstrap and at every restore,
//     and a node refuses any other (clusterid.go). A node without Raft
//     state admits only the cluster it was told to join (PrepareJoin).
//   - A leader or linearizable read on a follower waits for an index the
//     leader took after the read began. Reads waiting at once share one
//     request for it (readrounds.go), but never a request already sent.
//   - The verify index (models.VerifyIndex, Store.VerifyIndex) holds the
//     committed rows of the packs changed last: each transaction collects
//     the rows it wrote before it commits, and publishes them after, before
//     any of its writes is acknowledged; opening or restoring the database
//     reloads it. So a
//     verification answered from memory is a Local read like any other, and
//     sees every write acknowledged before it began on this node.
//
// # Network and trust
//
// Raft and the forwarding RPC (a follower handing writes, read-index
// requests, joins and removals to the leader) share the Raft port; the first
// byte of a connection picks the service, and is followed by the dialler's
// cluster id (transport.go); a forwarded write carries its
// commands in the log entry's binary form, and the leader validates their
// payloads once, when it builds the entry. Anyone who can reach that port can
// take part in the cluster, so outside a trusted network run it with mutual
// TLS (Config.TLS, built by MutualTLS): then only holders of a certificate
// signed by the cluster's CA are answered.
//
// # Membership
//
// A voter joins as a non-voter. The leader promotes it once the node
// answers it over this port (the "applied" RPC, which any node answers)
// and has applied what the leader had when it joined, so a node Raft
// cannot reach, or one still copying the ledger, never counts in a
// quorum; until then Join returns ErrNotCaughtUp. Before anything, the
// leader asks the node, which refuses it if it holds another cluster's
// state or was not told to join this one: Join then returns
// ErrClusterMismatch and changes nothing. A leader asked to
// remove itself hands leadership over first, and the next leader removes
// it.
//
// The leaf bytes of every entry are defined in leaf.go so that a regulator
// can recompute them and check inclusion and consistency proofs offline.
package raftstore
