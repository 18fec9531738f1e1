package raftstore

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/pedigree-ledger/pedigree/models"
)

// BenchmarkFSMApplyCapture1000 is one node's FSM applying capture_events
// commands of 1,000 commissioning events each, one command per log entry:
// the per-event apply cost behind BenchmarkClusterCapture1000, without Raft
// or the other two nodes. b.N counts events.
func BenchmarkFSMApplyCapture1000(b *testing.B) {
	l, err := openLedger(filepath.Join(b.TempDir(), "ledger.db"), "bench", testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	defer l.close()
	var index uint64
	apply := func(cmds ...models.Command) {
		var logs []*raft.Log
		for _, c := range cmds {
			c.Time = time.Unix(1700000000, 0).UTC()
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
	capture := captureMaker(b, func(cmds ...models.Command) { apply(cmds...) })
	const batch = 1000
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		b.StopTimer()
		cmd := capture(fmt.Sprintf("cap-%d", done), done, min(done+batch, b.N))
		b.StartTimer()
		apply(cmd)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
