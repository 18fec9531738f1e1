package raftstore

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/pedigree-ledger/pedigree/models"
)

// BenchmarkRaftFloorCapture1000 runs no Pedigree code on the write path:
// three hashicorp/raft nodes on loopback TCP (the network transport the
// ledger uses, on a plain TCP stream rather than its multiplexed one),
// each with its log and stable store in raft-boltdb v2 files and the log
// cache the ledger uses, commit the very entries
// BenchmarkClusterCapture1000 commits (1,000 commissioning events each, in
// the ledger's binary entry form) from 4 concurrent clients, proposed on
// the leader itself so no forwarding is paid for. The FSM does nothing.
// So this is what replication alone costs per event, for entries of
// this size. With BenchmarkSQLiteSchemaFloorCapture1000, paid once per
// node, it says what a ledger on this stack spends at least when it
// commits as the cluster benchmark does: three nodes sharing two cores
// then commit at most 2 s / (this + 3 × schema floor) events per second.
// Not a bound for every design: larger entries and transactions cost less
// per event. b.N counts events.
func BenchmarkRaftFloorCapture1000(b *testing.B) {
	benchRaftFloor(b, 1000, 4)
}

// BenchmarkRaftFloorSingleWrites is the same floor for the entries of
// BenchmarkClusterSingleWrites: one event each, from 64 concurrent
// clients, each its own entry. With BenchmarkSQLiteSchemaFloorSingleEvents
// it says what single writes cost at least when each is its own entry
// and a node commits them 64 at a time.
func BenchmarkRaftFloorSingleWrites(b *testing.B) {
	benchRaftFloor(b, 1, 64)
}

func benchRaftFloor(b *testing.B, batch, clients int) {
	b.StopTimer()
	var entries [][]byte
	capture := captureMaker(b, func(...models.Command) {})
	for from := 0; from < b.N; from += batch {
		cmd := capture(benchCommandID("capture", from), from, min(from+batch, b.N))
		cmd.Time = time.Now()
		data, err := encodeEntry(logEntry{Op: opLedger, Cmds: []models.Command{cmd}})
		if err != nil {
			b.Fatal(err)
		}
		entries = append(entries, data)
	}
	leader := mustRaftFloorCluster(b)
	b.StartTimer()
	start, cpu := time.Now(), processCPU()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(entries); i = int(next.Add(1)) - 1 {
				if err := leader.Apply(entries[i], 0).Error(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	reportEventRate(b, time.Since(start), processCPU()-cpu)
}

// mustRaftFloorCluster starts three Raft nodes configured as Open
// configures the ledger's (BatchApplyCh, a log cache of one append batch,
// raft-boltdb files, a file snapshot store) with a no-op FSM, and returns
// the leader once all three are voters.
func mustRaftFloorCluster(b *testing.B) *raft.Raft {
	b.Helper()
	var nodes []*raft.Raft
	var servers []raft.Server
	var transports []*raft.NetworkTransport
	for i := range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		ln.Close()
		addr := ln.Addr().String()
		tr, err := raft.NewTCPTransport(addr, nil, 8, 10*time.Second, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		transports = append(transports, tr)
		servers = append(servers, raft.Server{ID: raft.ServerID(fmt.Sprint("n", i)), Address: tr.LocalAddr()})
	}
	for i, tr := range transports {
		dir := b.TempDir()
		bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, raftLogFile)})
		if err != nil {
			b.Fatal(err)
		}
		snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hclog.NewNullLogger())
		if err != nil {
			b.Fatal(err)
		}
		rc := raft.DefaultConfig()
		rc.LocalID = servers[i].ID
		rc.Logger = hclog.NewNullLogger()
		rc.BatchApplyCh = true
		rc.SnapshotThreshold = DefaultSnapshotThreshold
		rc.TrailingLogs = DefaultTrailingLogs
		logs, err := raft.NewLogCache(rc.MaxAppendEntries, bolt)
		if err != nil {
			b.Fatal(err)
		}
		if err := raft.BootstrapCluster(rc, logs, bolt, snaps, tr, raft.Configuration{Servers: servers}); err != nil {
			b.Fatal(err)
		}
		r, err := raft.NewRaft(rc, noopFSM{}, logs, bolt, snaps, tr)
		if err != nil {
			b.Fatal(err)
		}
		nodes = append(nodes, r)
		b.Cleanup(func() {
			r.Shutdown().Error()
			tr.Close()
			bolt.Close()
		})
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, r := range nodes {
			if r.State() == raft.Leader {
				return r
			}
		}
	}
	b.Fatal("no leader in 10 s")
	return nil
}

// noopFSM applies nothing: the floor measures replication alone.
type noopFSM struct{}

func (noopFSM) Apply(*raft.Log) any { return nil }

func (noopFSM) ApplyBatch(logs []*raft.Log) []any { return make([]any, len(logs)) }

func (noopFSM) Snapshot() (raft.FSMSnapshot, error) { return noopSnapshot{}, nil }

func (noopFSM) Restore(rc io.ReadCloser) error { return rc.Close() }

type noopSnapshot struct{}

func (noopSnapshot) Persist(sink raft.SnapshotSink) error { return sink.Close() }

func (noopSnapshot) Release() {}
