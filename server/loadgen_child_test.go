package server

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The open-loop generator can also run in a process of its own, as wrk2
// does, on the same machine (-verify.child). In the node's process its
// pacing timers share the node's two Ps: when both are busy with handlers
// (or held through SQLite's cgo calls), a worker wakes late for its
// scheduled send, and since latency is timed from the schedule, that
// lateness counts against the node (at 10,000/s, more than half of the
// requests over 4 ms had been sent over half their latency late). In a
// child process the pacing has its own runtime, but a second Go runtime
// waking for every request costs CPU: about 155 µs per verification in
// all against 110 in-process (the node's own share is about 110 either
// way), and on two cores that CPU is taken from the node:
// in the same minutes the child's p99 ranged from 3.6 to 22 ms, the
// in-process one from 6 to 7.5 ms. In-process is the default; the
// child's CPU over the run is added to the node's, whose own share is
// reported too.

// loadgenJobEnv names the job file of a generator child process.
const loadgenJobEnv = "PEDIGREE_LOADGEN_JOB"

// TestMain runs the generator instead of the tests when started as a
// generator child (runOpenLoopChild), and the collector's check when
// started as gcTuneChild (TestTuneGCBoundsTheHeapOfAFreshProcess).
func TestMain(m *testing.M) {
	if job := os.Getenv(loadgenJobEnv); job != "" {
		os.Exit(loadgenChild(job))
	}
	if os.Getenv(gcTuneChildEnv) != "" {
		os.Exit(gcTuneChild())
	}
	os.Exit(m.Run())
}

// loadJob is the work of a generator child.
type loadJob struct {
	Addr  string
	Reqs  [][]byte
	N     int     // requests of the measured run
	Rate  float64 // offered per second
	Conns int
	Warm  int    // requests of the closed-loop warm-up
	Want  string // a 200 answer's body must contain it
}

// loadReport is a child's result.
type loadReport struct {
	ByIndex  []time.Duration
	Failed   int
	FirstErr string
	Elapsed  time.Duration
	CPU      time.Duration // the child's CPU over the measured run
}

func (j loadJob) check(status int, body []byte) error { return checkAnswer(status, body, j.Want) }

// loadgenChild runs the job in path: it warms its connections, says
// "ready", waits for a line on stdin, runs the open loop and writes the
// report as JSON on stdout. It returns the exit code.
func loadgenChild(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		return 2
	}
	var job loadJob
	if err := json.Unmarshal(data, &job); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		return 2
	}
	conns := loadConns(job.Addr, job.Conns)
	defer closeConns(conns)
	if res := runClosedLoop(conns, job.Reqs, job.Warm, job.check); res.failed > 0 {
		fmt.Fprintf(os.Stderr, "loadgen: warm-up: %d of %d failed: %v\n", res.failed, res.sent, res.firstErr)
		return 1
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return 2
	}
	cpu0 := processCPU()
	res := runOpenLoop(conns, job.Reqs, job.N, job.Rate, job.check)
	rep := loadReport{ByIndex: res.byIndex, Failed: res.failed, Elapsed: res.elapsed, CPU: processCPU() - cpu0}
	if res.firstErr != nil {
		rep.FirstErr = res.firstErr.Error()
	}
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		return 2
	}
	return 0
}

// runOpenLoopChild runs job in a child process (this test binary) and
// returns its result and the CPU the child spent on the measured run; mark
// is called just before the run starts and just after it ends, so the
// caller can measure its own CPU over the same span.
func runOpenLoopChild(t testing.TB, job loadJob, mark func()) (loadResult, time.Duration, error) {
	path := filepath.Join(t.TempDir(), "loadjob.json")
	data, err := json.Marshal(job)
	if err != nil {
		return loadResult{}, 0, err
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return loadResult{}, 0, err
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), loadgenJobEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return loadResult{}, 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return loadResult{}, 0, err
	}
	if err := cmd.Start(); err != nil {
		return loadResult{}, 0, err
	}
	defer cmd.Wait()
	defer stdin.Close()
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); err != nil || line != "ready\n" {
		return loadResult{}, 0, fmt.Errorf("generator child did not get ready: %q %v", line, err)
	}
	mark()
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		return loadResult{}, 0, err
	}
	var rep loadReport
	err = json.NewDecoder(out).Decode(&rep)
	mark()
	if err != nil {
		return loadResult{}, 0, fmt.Errorf("generator child's report: %w", err)
	}
	if len(rep.ByIndex) != job.N {
		return loadResult{}, 0, fmt.Errorf("generator child reported %d of %d requests", len(rep.ByIndex), job.N)
	}
	res := loadResult{sent: job.N, failed: rep.Failed, elapsed: rep.Elapsed, byIndex: rep.ByIndex, lat: slices.Clone(rep.ByIndex)}
	slices.Sort(res.lat)
	if rep.FirstErr != "" {
		res.firstErr = errors.New(rep.FirstErr)
	}
	return res, rep.CPU, nil
}

// TestOpenLoopChild runs a small open loop in a generator child against a
// server that answers "ok" except to one request, and checks the report
// comes back whole.
func TestOpenLoopChild(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if n.Add(1) == 30 {
			http.Error(w, "no", http.StatusTeapot)
			return
		}
		w.Write([]byte("fine, ok"))
	}))
	defer srv.Close()
	job := loadJob{Addr: srv.Listener.Addr().String(), Reqs: [][]byte{rawRequest("/", "text/plain", "tok", []byte("x"))},
		N: 200, Rate: 2000, Conns: 2, Warm: 10, Want: "ok"}
	marks := 0
	res, cpu, err := runOpenLoopChild(t, job, func() { marks++ })
	if err != nil {
		t.Fatal(err)
	}
	if marks != 2 {
		t.Errorf("mark called %d times, want 2 (start and end)", marks)
	}
	if res.sent != 200 || len(res.lat) != 200 || res.failed != 1 || res.firstErr == nil || !strings.Contains(res.firstErr.Error(), "HTTP 418") {
		t.Fatalf("sent %d, %d latencies, %d failed (%v); want 200, 200, 1 (HTTP 418)", res.sent, len(res.lat), res.failed, res.firstErr)
	}
	if res.elapsed < 99*time.Millisecond || res.lat[0] <= 0 || cpu <= 0 {
		t.Fatalf("elapsed %v (200 at 2,000/s take 100 ms), fastest %v, child CPU %v", res.elapsed, res.lat[0], cpu)
	}
}
