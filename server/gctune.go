package server

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// GCHeapFloor is the heap goal below which TuneGC does not let the
// garbage collector start a cycle: 64 MiB.
//
// A serving node's live Go heap is small (a few MiB: the SQLite page cache
// is C memory), while every request allocates: a verification about 10
// KiB, in go-sqlite3, database/sql, gorm, net/http and Gin. With the
// default GOGC=100 the collector then ran every 5 MiB, twenty times a
// second at 10,000 verifications/s, and took a fifth of the process's CPU
// (closed-loop verify benchmark, same minute: 94-107 µs of CPU per
// verification with GOGC=100, 77-84 µs with TuneGC(GCHeapFloor); a cycle
// every 0.6 s instead of every 45 ms).
const GCHeapFloor = 64 << 20

// TuneGC keeps the collector's heap goal at least floor bytes: after each
// cycle it sets GOGC so that the next goal is the larger of twice the live
// heap (GOGC=100, the default) and floor. A large live heap is collected
// as before; a small one costs at most floor bytes of garbage between
// cycles instead of a cycle every few MiB. An operator's GOGC in the
// environment wins: then TuneGC does nothing. A GOMEMLIMIT still bounds
// the heap as usual (the runtime collects sooner near it). stop ends the
// tuning and restores GOGC=100.
//
// `pedigree serve` and `pedigree demo` call it at start with GCHeapFloor;
// the verify benchmarks call it so that they measure what serve runs.
func TuneGC(floor uint64) (stop func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	return startGCTuner(floor).stop
}

func startGCTuner(floor uint64) *gcTuner {
	t := &gcTuner{floor: floor}
	t.adjust()
	t.arm()
	return t
}

func (t *gcTuner) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped.CompareAndSwap(false, true) {
		debug.SetGCPercent(100)
	}
}

type gcTuner struct {
	floor uint64
	// mu orders adjust's SetGCPercent against stop's, so a finalizer
	// running while the tuner stops cannot leave its GOGC behind.
	mu      sync.Mutex
	stopped atomic.Bool
	cycles  atomic.Int64 // adjustments after a cycle, for tests
}

// gcSentinel is an object whose only job is to be finalized: finalizers
// run after the cycle that found the object unreachable, so re-arming a
// new sentinel in each finalizer runs adjust once per cycle. It is larger
// than the tiny allocator's 16 bytes, whose objects may never be
// finalized.
type gcSentinel [32]byte

func (t *gcTuner) arm() {
	runtime.SetFinalizer(new(gcSentinel), func(*gcSentinel) {
		if t.stopped.Load() {
			return
		}
		t.cycles.Add(1)
		t.adjust()
		t.arm()
	})
}

// adjust sets GOGC for the live heap the last cycle left.
func (t *gcTuner) adjust() {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped.Load() {
		debug.SetGCPercent(gcPercentFor(s[0].Value.Uint64(), t.floor))
	}
}

// gcPercentFor is the GOGC that makes the next heap goal, live*(1+GOGC/100),
// at least floor, and never below the default 100.
func gcPercentFor(live, floor uint64) int {
	const max = 1 << 20 // a floor over a near-empty heap: stay finite
	if live == 0 {
		return max
	}
	if 2*live >= floor {
		return 100
	}
	return int(min(floor*100/live-100, max))
}
