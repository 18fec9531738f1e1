package raftstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
	"github.com/pedigree-ledger/pedigree/models"
)

// Throughput of the whole write path through a 3-node loopback cluster:
// proposal (forwarded by followers), Raft replication with fsynced
// raft-boltdb logs on every node, and the FSM applying models rules and
// Merkle leaves on every node. All three nodes share the machine's cores,
// so these figures are a floor for a real cluster. Run with e.g.
//
//	go test -run '^$' -bench 'Fsync|Cluster|FSM|Floor|Follower' -benchtime 10000x ./raftstore/
//
// (b.N counts events; with 10000x each cluster benchmark takes seconds.)

// BenchmarkClusterSingleWrites: 64 clients, each committing one EPCIS event
// per proposal (a capture_events command of one commissioning event),
// spread over the three nodes. b.N counts events.
func BenchmarkClusterSingleWrites(b *testing.B) {
	benchSingleWrites(b, 64)
}

// BenchmarkClusterSingleWrites256 is BenchmarkClusterSingleWrites with 256
// clients: a busier network of pharmacies, where each node's apply queue
// fills and its transactions grow (group commit, fsm_group.go).
func BenchmarkClusterSingleWrites256(b *testing.B) {
	benchSingleWrites(b, 256)
}

func benchSingleWrites(b *testing.B, clients int) {
	stores := mustBenchCluster(b)
	b.StopTimer()
	capture := mustCaptureSetup(b, stores[0])
	proposals := make([][]models.Command, b.N)
	for i := range proposals {
		proposals[i] = []models.Command{capture(benchCommandID("capture", i), i, i+1)}
	}
	b.StartTimer()
	start, cpu := time.Now(), processCPU()
	proposeConcurrently(b, stores, proposals, clients)
	b.StopTimer()
	reportEventRate(b, time.Since(start), processCPU()-cpu)
}

// BenchmarkClusterBatches1000 proposes 1,000 separate ledger commands
// (register_organisation, each its own entry and leaf) per proposal.
func BenchmarkClusterBatches1000(b *testing.B) {
	stores := mustBenchCluster(b)
	const batch = 1000
	const clients = 4
	batches := (b.N + batch - 1) / batch
	all := make([][]models.Command, batches)
	for i := range all {
		for j := 0; j < batch && i*batch+j < b.N; j++ {
			k := i*batch + j
			all[i] = append(all[i], orgCmd(b, benchCommandID("org", k), fmt.Sprintf("b%d", k)))
		}
	}
	b.ResetTimer()
	start, cpu := time.Now(), processCPU()
	proposeConcurrently(b, stores, all, clients)
	b.StopTimer()
	reportEventRate(b, time.Since(start), processCPU()-cpu)
}

// BenchmarkFsync measures the disk the cluster writes to: one 4 KiB write
// and fsync per operation, the cost raft-boltdb pays per log append.
func BenchmarkFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := f.WriteAt(buf, int64(i%256)*4096); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "fsyncs/s")
}

// reportEventRate reports events/s over elapsed and the process CPU time
// (user and system, all goroutines and cgo threads) per event: on a shared
// machine the CPU figure moves much less than the rate, so compare changes
// by it.
func reportEventRate(b *testing.B, elapsed, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
}

// processCPU is the CPU time this process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mustBenchCluster(b *testing.B) []*Store {
	b.Helper()
	b.StopTimer()
	c := mustCluster(b, 3, nil)
	mustLeader(b, c.nodes)
	b.StartTimer()
	return []*Store{c.nodes[0].s, c.nodes[1].s, c.nodes[2].s}
}

// BenchmarkFSMApply measures one node's FSM alone: decoding a 1,000-command
// log entry, the models rules, savepoints, ledger rows and Merkle nodes, in
// one transaction per entry. Three of these run per committed event in a
// 3-node cluster.
func BenchmarkFSMApply(b *testing.B) {
	benchFSM(b, func(j int) models.Command { return orgCmd(b, benchCommandID("org", j), fmt.Sprintf("f%d", j)) })
}

// BenchmarkFSMApplyLedgerOnly is BenchmarkFSMApply with commands the rules
// reject at once (an unknown kind): what raftstore itself costs per entry
// (decode, savepoint and rollback, ledger row, leaf, Merkle nodes).
func BenchmarkFSMApplyLedgerOnly(b *testing.B) {
	benchFSM(b, func(j int) models.Command {
		return models.Command{ID: benchCommandID("unknown", j), Kind: "bench_unknown_kind", Payload: []byte(`{"n":1}`)}
	})
}

func benchFSM(b *testing.B, mk func(int) models.Command) {
	l, err := openLedger(filepath.Join(b.TempDir(), "ledger.db"), "bench", DefaultVerifyIndexPacks, 0, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	defer l.close()
	const batch = 1000
	var index uint64
	var cpu time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		b.StopTimer()
		var cmds []models.Command
		for j := done; j < done+batch && j < b.N; j++ {
			c := mk(j)
			c.Time = time.Unix(1700000000, 0).UTC()
			cmds = append(cmds, c)
		}
		data, err := encodeEntry(logEntry{Op: opLedger, Cmds: cmds})
		if err != nil {
			b.Fatal(err)
		}
		index++
		b.StartTimer()
		cpu0 := processCPU()
		resp := l.applyBatch([]*raft.Log{{Index: index, Type: raft.LogCommand, Data: data}})
		cpu += processCPU() - cpu0
		if _, ok := resp[0].([]models.Result); !ok {
			b.Fatalf("apply: %v", resp[0])
		}
	}
	reportEventRate(b, b.Elapsed(), cpu)
}

// BenchmarkClusterCapture1000 commits capture_events commands of 1,000
// EPCIS commissioning events each (one pack per event) through the 3-node
// cluster, from 4 concurrent clients spread over the nodes: the batch path
// a packing line uses. b.N counts events.
func BenchmarkClusterCapture1000(b *testing.B) {
	stores := mustBenchCluster(b)
	b.StopTimer()
	capture := mustCaptureSetup(b, stores[0])
	const batch = 1000
	batches := (b.N + batch - 1) / batch
	proposals := make([][]models.Command, batches)
	for i := range proposals {
		proposals[i] = []models.Command{capture(benchCommandID("capture", i*batch), i*batch, min((i+1)*batch, b.N))}
	}
	b.StartTimer()
	start, cpu := time.Now(), processCPU()
	proposeConcurrently(b, stores, proposals, 4)
	b.StopTimer()
	reportEventRate(b, time.Since(start), processCPU()-cpu)
}

// mustCaptureSetup registers a manufacturer and its product through s and
// returns a maker of capture_events commands that commission packs
// [from, to), one event per pack.
func mustCaptureSetup(b *testing.B, s *Store) func(id string, from, to int) models.Command {
	return captureMaker(b, func(cmds ...models.Command) {
		for _, c := range cmds {
			if res := mustPropose(b, s, c); !res[0].Accepted {
				b.Fatalf("%s rejected: %s", c.Kind, res[0].Message)
			}
		}
	})
}

// captureMaker commits the manufacturer and product with commit and returns
// the maker of commissioning captures. The ledger first adopts this
// binary's rules, as a new one does (pedigree serve --bootstrap), so the
// figures are those of the rules a new ledger runs.
func captureMaker(b testing.TB, commit func(...models.Command)) func(id string, from, to int) models.Command {
	net, err := demo.New(1, 40, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	m, gtin := net.Manufacturer, net.Products[0].GTIN
	adopt, _ := models.NewCommand("setup-rules", models.KindAdoptRules, "", time.Time{}, models.AdoptRulesPayload{Version: models.RulesVersion})
	reg, _ := models.NewCommand("setup-org", models.KindRegisterOrganisation, "", time.Time{},
		models.RegisterOrganisationPayload{ID: m.GLN, Name: m.Name, Role: m.Role, Prefixes: m.Prefixes})
	prod, _ := models.NewCommand("setup-product", models.KindRegisterProduct, m.GLN, time.Time{}, net.Products[0])
	commit(adopt)
	commit(reg)
	commit(prod)
	at := time.Now().Add(-time.Hour)
	expiry := at.AddDate(2, 0, 0).Format("2006-01-02")
	return func(id string, from, to int) models.Command {
		events := make([]demo.Event, 0, to-from)
		for j := from; j < to; j++ {
			events = append(events, demo.Commission(at, m.GLN, []string{demo.PackEPC(gtin, randomisedSerial(j))}, "L1", expiry))
		}
		payload, err := json.Marshal(map[string]any{"events": events})
		if err != nil {
			b.Fatal(err)
		}
		return models.Command{ID: id, Kind: models.KindCaptureEvents, Actor: m.GLN, Payload: payload}
	}
}

// randomisedSerial is the j-th pack's serial: 16 hexadecimal digits that
// look random, as the serials on real packs must be (EU FMD: guessing one
// succeeds less than once in 10,000). Sequential serials would flatter
// the ledger: they land on neighbouring pages of the items and event-EPC
// indexes, while real ones each land on a different page. The same j
// gives the same serial, so runs stay comparable.
func randomisedSerial(j int) string {
	sum := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(j)))
	return strings.ToUpper(hex.EncodeToString(sum[:8]))
}

// benchCommandID is the id of the n-th benchmark command of a kind: 32
// hexadecimal digits after the kind, random as the ids the server derives
// for captures are (server.captureID hashes the events' ids), and as
// clients' Idempotency-Keys (UUIDs, mostly) are. Numbered ids would share
// pages of the command-id index and flatter the ledger, as sequential
// serials would. The same kind and n give the same id.
func benchCommandID(kind string, n int) string {
	sum := sha256.Sum256(binary.BigEndian.AppendUint64([]byte(kind), uint64(n)))
	return kind + "-" + hex.EncodeToString(sum[:16])
}

// BenchmarkFSMApplySingleEvents is one node's FSM applying capture_events
// commands of one event each, 64 log entries per batch as the 64-client
// cluster benchmark delivers them: the per-command cost of the capture rule
// plus raftstore's, without Raft or the other two nodes.
func BenchmarkFSMApplySingleEvents(b *testing.B) {
	benchFSMSingleEvents(b, mustBenchLedger(b, false))
}

// BenchmarkFSMApplySingleEventsInMemory is BenchmarkFSMApplySingleEvents
// with the database in memory (see BenchmarkFSMApplyCapture1000InMemory).
func BenchmarkFSMApplySingleEventsInMemory(b *testing.B) {
	benchFSMSingleEvents(b, mustBenchLedger(b, true))
}

func benchFSMSingleEvents(b *testing.B, l *ledger) {
	apply := fsmApplier(b, l, func() time.Time { return time.Now().UTC() })
	capture := captureMaker(b, apply)
	var cpu time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += 64 {
		b.StopTimer()
		var cmds []models.Command
		for j := done; j < done+64 && j < b.N; j++ {
			cmds = append(cmds, capture(benchCommandID("capture", j), j, j+1))
		}
		b.StartTimer()
		cpu0 := processCPU()
		apply(cmds...)
		cpu += processCPU() - cpu0
	}
	reportEventRate(b, b.Elapsed(), cpu)
}

// proposeConcurrently commits the proposals (each one Propose of its
// commands) through the cluster from clients goroutines spread over the
// nodes, failing the benchmark on an error or a rejected command.
func proposeConcurrently(b *testing.B, stores []*Store, proposals [][]models.Command, clients int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(proposals)) {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				res, err := stores[i%int64(len(stores))].Propose(ctx, proposals[i]...)
				cancel()
				if err != nil {
					b.Error(err)
					return
				}
				for _, r := range res {
					if !r.Accepted {
						b.Errorf("command rejected: %s %s", r.Code, r.Message)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// fsmApplier returns a function that applies commands to one node's FSM
// as consecutive Raft log entries of one batch, each command its own
// entry stamped with at(), failing the benchmark on a rejection.
func fsmApplier(b testing.TB, l *ledger, at func() time.Time) func(...models.Command) {
	var index uint64
	return func(cmds ...models.Command) {
		logs := make([]*raft.Log, 0, len(cmds))
		for _, c := range cmds {
			c.Time = at()
			data, err := encodeEntry(logEntry{Op: opLedger, Cmds: []models.Command{c}})
			if err != nil {
				b.Fatal(err)
			}
			index++
			logs = append(logs, &raft.Log{Index: index, Type: raft.LogCommand, Data: data})
		}
		for i, r := range l.applyBatch(logs) {
			if res, ok := r.([]models.Result); !ok || !res[0].Accepted {
				b.Fatalf("entry %d: %+v", i, r)
			}
		}
	}
}

// BenchmarkFollowerLinearizableReads: 64 clients reading at linearizable
// consistency on one follower of an idle 3-node cluster, each read waiting
// for the leader's read index. The follower's reads share read-index
// rounds (readrounds.go); the figure to watch is rounds/read beside
// reads/s. b.N counts reads.
func BenchmarkFollowerLinearizableReads(b *testing.B) {
	stores := mustBenchCluster(b)
	b.StopTimer()
	var follower *Store
	for _, s := range stores {
		if !s.IsLeader() {
			follower = s
			break
		}
	}
	labels := map[string]string{"node": follower.ID(), "consistency": string(Linearizable)}
	rounds := func() float64 { v, _ := metricValue(b, "pedigree_raftstore_read_index_rounds_total", labels); return v }
	roundsBefore := rounds()
	const clients = 64
	var next atomic.Int64
	var wg sync.WaitGroup
	b.StartTimer()
	start, cpu := time.Now(), processCPU()
	for range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if _, err := follower.Read(context.Background(), Linearizable); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	elapsed, used := time.Since(start), processCPU()-cpu
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "reads/s")
	b.ReportMetric(float64(used.Microseconds())/float64(b.N), "cpu-µs/read")
	b.ReportMetric((rounds()-roundsBefore)/float64(b.N), "rounds/read")
}
