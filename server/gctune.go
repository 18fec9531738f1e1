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

// runtimeHeapMinimum is the Go runtime's smallest heap goal at GOGC=100
// (defaultHeapMinimum in runtime/mgcpacer.go, 4 MiB since Go 1.5). The
// runtime scales it by GOGC/100 and never sets a goal below it, so a GOGC
// of g makes every goal at least 4 MiB*g/100, whatever the live heap.
const runtimeHeapMinimum = 4 << 20

// gcPercentFor is the GOGC that brings the next heap goal, live*(1+GOGC/100),
// up to floor; it is never below the default 100, and at most floor*100/4 MiB
// (1,600 for a 64 MiB floor), which makes the runtime's scaled minimum
// goal exactly floor: a larger GOGC would raise that minimum, and with it
// every goal, above floor. That matters most when live is 0, as it is
// before the first cycle: the goal is then the minimum alone. (Capping
// only at 1<<20, as this did at first, set a first goal of 40 GiB: the
// node never collected, and 720,000 captured events took 6.3-10.3 GiB on
// each of three nodes until the machine ran out of memory.)
func gcPercentFor(live, floor uint64) int {
	most := int(min(float64(floor)*100/runtimeHeapMinimum, 1<<20))
	if most <= 100 {
		return 100
	}
	if live == 0 {
		return most
	}
	if 2*live >= floor {
		return 100
	}
	return min(int(floor*100/live-100), most)
}
