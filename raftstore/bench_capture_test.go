package raftstore

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkFSMApplyCapture1000 is one node's FSM applying capture_events
// commands of 1,000 commissioning events each, one command per log entry:
// the per-event apply cost behind BenchmarkClusterCapture1000, without Raft
// or the other two nodes. b.N counts events.
func BenchmarkFSMApplyCapture1000(b *testing.B) {
	benchFSMCapture1000(b, mustBenchLedger(b, false))
}

// BenchmarkFSMApplyCapture1000InMemory is BenchmarkFSMApplyCapture1000 with
// the database in memory: what the rules and SQLite's own work cost when
// writing pages costs nothing. Three nodes each pay at least this per
// event, whatever the disk, which bounds the cluster's batch throughput.
func BenchmarkFSMApplyCapture1000InMemory(b *testing.B) {
	benchFSMCapture1000(b, mustBenchLedger(b, true))
}

func benchFSMCapture1000(b *testing.B, l *ledger) {
	apply := fsmApplier(b, l, func() time.Time { return time.Unix(1700000000, 0).UTC() })
	capture := captureMaker(b, apply)
	const batch = 1000
	var cpu time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		b.StopTimer()
		cmd := capture(benchCommandID("capture", done), done, min(done+batch, b.N))
		b.StartTimer()
		cpu0 := processCPU()
		apply(cmd)
		cpu += processCPU() - cpu0
	}
	reportEventRate(b, b.Elapsed(), cpu)
}

// mustBenchLedger opens a ledger for one node's FSM benchmarks, closed
// when b ends. In memory, the database lives in SQLite's memdb VFS (shared
// by the ledger's connections, no WAL, no file writes); snapshots would
// still go to b's temporary directory.
func mustBenchLedger(b *testing.B, inMemory bool) *ledger {
	b.Helper()
	path := filepath.Join(b.TempDir(), "ledger.db")
	var l *ledger
	var err error
	if inMemory {
		name := fmt.Sprintf("/bench-%d", time.Now().UnixNano())
		db, sqlDB, openErr := openSQLiteDSN(name, "file:"+name+"?vfs=memdb&_synchronous=OFF&_busy_timeout=10000&_foreign_keys=on&_cache_size=-65536")
		if openErr != nil {
			b.Fatal(openErr)
		}
		l, err = newLedger(path, db, sqlDB, "bench", DefaultVerifyIndexPacks, 0, testLogger(b))
	} else {
		l, err = openLedger(path, "bench", DefaultVerifyIndexPacks, 0, testLogger(b))
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.close() })
	return l
}
