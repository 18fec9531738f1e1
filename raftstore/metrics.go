package raftstore

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Prometheus metrics of the ledger node, registered once per process with
// the default registry (the one the HTTP layer serves at /metrics) and
// labelled by node id, so several stores in one process (tests, demos) do
// not collide.

type storeMetrics struct {
	applyBatch  *prometheus.HistogramVec
	applySize   *prometheus.HistogramVec
	entries     *prometheus.CounterVec
	proposals   *prometheus.CounterVec
	treeSize    *prometheus.GaugeVec
	applied     *prometheus.GaugeVec
	leader      *prometheus.GaugeVec
	snapRestore *prometheus.CounterVec
	indexPacks  *prometheus.GaugeVec
	readRounds  *prometheus.CounterVec
	audits      *prometheus.CounterVec
	diverged    *prometheus.GaugeVec
	refusals    *prometheus.CounterVec
}

var (
	metricsOnce sync.Once
	metrics     *storeMetrics
)

func defaultMetrics() *storeMetrics {
	metricsOnce.Do(func() {
		m := newStoreMetrics()
		prometheus.MustRegister(m.applyBatch, m.applySize, m.entries, m.proposals, m.treeSize, m.applied, m.leader, m.snapRestore, m.indexPacks, m.readRounds,
			m.audits, m.diverged, m.refusals)
		metrics = m
	})
	return metrics
}

// newStoreMetrics makes the metrics, registered nowhere: a restore's
// replay counts into a set of its own, not the node's.
func newStoreMetrics() *storeMetrics {
	m := &storeMetrics{
		applyBatch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "pedigree", Subsystem: "raftstore", Name: "apply_batch_seconds",
			Help:    "Time to apply one batch of committed Raft entries in one SQLite transaction.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"node"}),
		applySize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "pedigree", Subsystem: "raftstore", Name: "apply_batch_entries",
			Help:    "Raft entries applied in one SQLite transaction: everything queued since the last one (group commit), so it grows with the write load.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10), // 1 to 512, the most one transaction takes
		}, []string{"node"}),
		entries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "pedigree", Subsystem: "raftstore", Name: "commands_applied_total",
			Help: "Ledger commands applied, by outcome: accepted, rejected (still a leaf), duplicate (a repeat: its first result, no leaf) or id_reused (another command under a known id: refused, no leaf).",
		}, []string{"node", "outcome"}),
		proposals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "pedigree", Subsystem: "raftstore", Name: "proposals_total",
			Help: "Proposals taken by this node, by path (local on the leader, forwarded from a follower) and result.",
		}, []string{"node", "path", "result"}),
		treeSize: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "pedigree", Subsystem: "raftstore", Name: "tree_size",
			Help: "Committed Merkle tree size (ledger entries) on this node.",
		}, []string{"node"}),
		applied: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "pedigree", Subsystem: "raftstore", Name: "applied_index",
			Help: "Last Raft index applied to the projection on this node.",
		}, []string{"node"}),
		leader: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "pedigree", Subsystem: "raftstore", Name: "is_leader",
			Help: "1 while this node leads the cluster.",
		}, []string{"node"}),
		snapRestore: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "pedigree", Subsystem: "raftstore", Name: "snapshot_restores_total",
			Help: "Snapshots restored into the projection (catch-up or rebuild).",
		}, []string{"node"}),
		indexPacks: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "pedigree", Subsystem: "raftstore", Name: "verify_index_packs",
			Help: "Packs this node's verify index holds (its size, once full).",
		}, []string{"node"}),
		readRounds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "pedigree", Subsystem: "raftstore", Name: "read_index_rounds_total",
			Help: "Read-index requests a follower sent the leader, by consistency; each serves every leader or linearizable read that waited for it.",
		}, []string{"node", "consistency"}),
	}
	m.audits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "pedigree", Subsystem: "raftstore", Name: "tree_audits_total",
		Help: "This node's audits of its Merkle tree (audit.go), by outcome: same (every voter compared holds its tree), disputed (some hold another, too few to say this node is wrong), differs (a majority of the voters hold another), skipped (no voter compared in time), or inconsistent (its stored tree contradicts its stored entries).",
	}, []string{"node", "outcome"})
	m.diverged = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "pedigree", Subsystem: "raftstore", Name: "tree_diverged",
		Help: "1 once this node's audit found its ledger wrong: other than a majority of the voters' trees, or contradicting itself (see /readyz); 0 otherwise.",
	}, []string{"node"})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "pedigree", Subsystem: "raftstore", Name: "cluster_refusals_total",
		Help: "Connections to the cluster port refused because the peer is of another cluster (clusterid.go): an old member still running after a restore, say. The log names the first from each peer.",
	}, []string{"node"})
	return m
}

func resultLabel(err error) string {
	if err == nil {
		return "ok"
	}
	for _, s := range sentinelCodes {
		if errors.Is(err, s.err) {
			return s.code
		}
	}
	return "error"
}
