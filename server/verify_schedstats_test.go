package server

import (
	"math"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Where a verification's tail latency goes when the CPU is not saturated
// is waiting, not work: a runnable goroutine waiting for one of the two
// Ps (the Go scheduler), or a thread of this process waiting for a core
// while other processes (or this one's other threads) run (the kernel).
// schedSnapshot records both before a run so the benchmarks can report
// them for it:
//
//   - the runtime's /sched/latencies:seconds histogram, the time
//     goroutines spent runnable before running (the runtime samples one
//     scheduling in eight), from which the run's quantiles are reported
//     (sched-p99-µs);
//   - the kernel's run delay of every thread of the process
//     (/proc/self/task/*/schedstat, second field: nanoseconds spent
//     runnable on a run queue), reported per verification
//     (os-wait-µs/op). It is zero on an idle machine with no more
//     runnable threads than cores;
//   - the machine's busy CPU time (/proc/stat) less this process's, per
//     verification (others-cpu-µs/op): what other processes (another
//     engineer's benchmark) and the kernel's work not charged to this
//     process took from the two cores meanwhile.

// schedSnapshot is the scheduler statistics at one moment.
type schedSnapshot struct {
	lat      *metrics.Float64Histogram
	runDelay time.Duration // summed over the process's threads; -1 if unknown
	busy     time.Duration // the machine's busy CPU time; -1 if unknown
	own      time.Duration // this process's CPU time
}

const schedLatencies = "/sched/latencies:seconds"

// takeSchedSnapshot reads the statistics now.
func takeSchedSnapshot() schedSnapshot {
	s := []metrics.Sample{{Name: schedLatencies}}
	metrics.Read(s)
	var h *metrics.Float64Histogram
	if s[0].Value.Kind() == metrics.KindFloat64Histogram {
		h = s[0].Value.Float64Histogram()
	}
	return schedSnapshot{lat: h, runDelay: threadsRunDelay(), busy: machineBusy(), own: processCPU()}
}

// machineBusy is the CPU time all cores spent on anything but idle and
// I/O wait since boot, from /proc/stat's "cpu" line (in USER_HZ ticks,
// 100 a second on Linux), or -1 without it.
func machineBusy() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return -1
	}
	var ticks int64
	for i, v := range f[1:9] { // user nice system idle iowait irq softirq steal
		if i == 3 || i == 4 {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return -1
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// threadsRunDelay sums the kernel's run delay over the process's threads;
// threads that ended meanwhile are not counted (the runtime keeps its
// threads, so over a benchmark run none do). It returns -1 without
// schedstats (not Linux, or a kernel without them).
func threadsRunDelay() time.Duration {
	paths, err := filepath.Glob("/proc/self/task/*/schedstat")
	if err != nil || len(paths) == 0 {
		return -1
	}
	var sum int64
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended between Glob and ReadFile
		}
		f := strings.Fields(string(data))
		if len(f) < 2 {
			return -1
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return -1
		}
		sum += n
	}
	return time.Duration(sum)
}

// schedDelta is what happened between two snapshots.
type schedDelta struct {
	counts   []uint64  // goroutine scheduling latencies, per bucket
	buckets  []float64 // bucket boundaries in seconds (len(counts)+1)
	runDelay time.Duration
	others   time.Duration // busy CPU time not this process's; -1 if unknown
}

// since returns the statistics of the interval from s to now.
func (s schedSnapshot) since() schedDelta {
	now := takeSchedSnapshot()
	d := schedDelta{runDelay: -1, others: -1}
	if s.runDelay >= 0 && now.runDelay >= 0 {
		d.runDelay = now.runDelay - s.runDelay
	}
	if s.busy >= 0 && now.busy >= 0 {
		d.others = max(0, (now.busy-s.busy)-(now.own-s.own))
	}
	if s.lat != nil && now.lat != nil && len(s.lat.Counts) == len(now.lat.Counts) {
		d.buckets = now.lat.Buckets
		d.counts = make([]uint64, len(now.lat.Counts))
		for i := range d.counts {
			d.counts[i] = now.lat.Counts[i] - s.lat.Counts[i]
		}
	}
	return d
}

// quantile is the upper bound of the bucket holding the q-quantile of
// the goroutine scheduling latencies (the histogram's buckets are a few
// percent wide), or -1 without data.
func (d schedDelta) quantile(q float64) time.Duration {
	var total uint64
	for _, c := range d.counts {
		total += c
	}
	if total == 0 {
		return -1
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range d.counts {
		seen += c
		if seen >= rank {
			hi := d.buckets[i+1]
			if math.IsInf(hi, 1) {
				hi = d.buckets[i]
			}
			return time.Duration(math.Round(hi * float64(time.Second)))
		}
	}
	return -1
}

// report adds the interval's scheduler figures to a benchmark of n
// operations.
func (d schedDelta) report(b *testing.B, n int) {
	us := func(t time.Duration) float64 { return float64(t.Nanoseconds()) / 1000 }
	if p := d.quantile(0.99); p >= 0 {
		b.ReportMetric(us(p), "sched-p99-µs")
		b.ReportMetric(us(d.quantile(0.999)), "sched-p99.9-µs")
	}
	if d.runDelay >= 0 && n > 0 {
		b.ReportMetric(us(d.runDelay)/float64(n), "os-wait-µs/op")
	}
	if d.others >= 0 && n > 0 {
		b.ReportMetric(us(d.others)/float64(n), "others-cpu-µs/op")
	}
}

func TestSchedDeltaQuantile(t *testing.T) {
	d := schedDelta{
		buckets: []float64{0, 1e-6, 1e-5, 1e-4, math.Inf(1)},
		counts:  []uint64{90, 9, 0, 1},
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.5, time.Microsecond},
		{0.9, time.Microsecond},
		{0.95, 10 * time.Microsecond},
		{0.99, 10 * time.Microsecond},
		{0.995, 100 * time.Microsecond}, // the open last bucket: its lower bound
		{1, 100 * time.Microsecond},
	}
	for _, tc := range tests {
		if got := d.quantile(tc.q); got != tc.want {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := (schedDelta{}).quantile(0.99); got != -1 {
		t.Errorf("empty histogram: quantile %v, want -1", got)
	}
}

func TestSchedSnapshotCountsThisProcess(t *testing.T) {
	s := takeSchedSnapshot()
	if s.lat == nil {
		t.Fatalf("runtime/metrics has no %s", schedLatencies)
	}
	// The runtime records one scheduling in eight (gTrackingPeriod), so
	// 1,000 new goroutines leave about 125 samples.
	done := make(chan struct{})
	for range 1000 {
		go func() { done <- struct{}{} }()
	}
	for range 1000 {
		<-done
	}
	d := s.since()
	var n uint64
	for _, c := range d.counts {
		n += c
	}
	if n < 50 {
		t.Fatalf("%d scheduling latencies recorded for 1,000 new goroutines", n)
	}
	if d.runDelay < 0 && threadsRunDelay() >= 0 {
		t.Fatal("run delay lost between snapshots")
	}
}
