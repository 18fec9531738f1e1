package server

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestGCPercentFor(t *testing.T) {
	tests := []struct {
		live, floor uint64
		want        int
	}{
		{4 << 20, 64 << 20, 1500}, // goal 4 MiB * 16 = 64 MiB
		{8 << 20, 64 << 20, 700},
		{32 << 20, 64 << 20, 100}, // twice the live heap reaches the floor
		{500 << 20, 64 << 20, 100},
		{0, 64 << 20, 1 << 20},
		{1, 1 << 40, 1 << 20}, // capped
		{10 << 20, 0, 100},
	}
	for _, tc := range tests {
		if got := gcPercentFor(tc.live, tc.floor); got != tc.want {
			t.Errorf("gcPercentFor(%d, %d) = %d, want %d", tc.live, tc.floor, got, tc.want)
		}
	}
}

// gcPercent reads GOGC's current value.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestTuneGC(t *testing.T) {
	t.Setenv("GOGC", "100") // restored after the test
	os.Unsetenv("GOGC")
	defer debug.SetGCPercent(100)

	tuner := startGCTuner(1 << 40) // a floor far above this test's heap
	defer tuner.stop()
	if p := gcPercent(); p <= 100 {
		t.Fatalf("GOGC = %d under a 1 TiB floor, want more than 100", p)
	}
	// The tuner follows every cycle.
	deadline := time.Now().Add(10 * time.Second)
	for tuner.cycles.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d adjustments after 10 s of collections", tuner.cycles.Load())
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	tuner.stop()
	if p := gcPercent(); p != 100 {
		t.Fatalf("GOGC = %d after stop, want 100", p)
	}
	// Stopped, it changes nothing any more.
	debug.SetGCPercent(250)
	runtime.GC()
	runtime.GC()
	if p := gcPercent(); p != 250 {
		t.Fatalf("GOGC = %d after a stopped tuner's cycles, want 250", p)
	}
}

func TestTuneGCLeavesOperatorsGOGC(t *testing.T) {
	t.Setenv("GOGC", "300")
	old := debug.SetGCPercent(300)
	defer debug.SetGCPercent(old)
	stop := TuneGC(1 << 40)
	defer stop()
	runtime.GC()
	if p := gcPercent(); p != 300 {
		t.Fatalf("GOGC = %d, want the operator's 300", p)
	}
}
