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
	l, err := openLedger(filepath.Join(b.TempDir(), "ledger.db"), "bench", DefaultVerifyIndexPacks, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	defer l.close()
	apply := fsmApplier(b, l, func() time.Time { return time.Unix(1700000000, 0).UTC() })
	capture := captureMaker(b, apply)
	const batch = 1000
	var cpu time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		b.StopTimer()
		cmd := capture(fmt.Sprintf("cap-%d", done), done, min(done+batch, b.N))
		b.StartTimer()
		cpu0 := processCPU()
		apply(cmd)
		cpu += processCPU() - cpu0
	}
	reportEventRate(b, b.Elapsed(), cpu)
}
