package server

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkVerifyHTTP is the load generator for verification: concurrent
// clients POST raw scanner text (text/plain, "]d2" + GS-separated signed
// codes) to /api/v1/verify on a real one-node ledger over loopback TCP,
// and the benchmark reports throughput and p50/p99 latency. The goal is
// 10,000 verifications/s with p99 under 5 ms on the 2-core machine.
//
//	go test -run XXX -bench VerifyHTTP -benchtime 20000x ./server
//
// The clients cycle through a few thousand packs, so after the first pass
// every signature check is answered by the signature cache, as re-scans of
// the same packs are in the field.
func BenchmarkVerifyHTTP(b *testing.B) { benchVerifyHTTP(b, false) }

// BenchmarkVerifyHTTPUncached is BenchmarkVerifyHTTP with the signature
// cache off: every verification checks its Ed25519 signature, as the first
// scan of each pack does.
func BenchmarkVerifyHTTPUncached(b *testing.B) { benchVerifyHTTP(b, true) }

func benchVerifyHTTP(b *testing.B, uncached bool) {
	// One token drives all the load, so its rate limit is lifted.
	n := mustAPINode(b, func(a *LifecycleAPI) {
		a.SetRateLimit(0, 0)
		if uncached {
			a.verify.sigs = nil
		}
	})
	net, s := mustSeed(b, n, 400)
	token := s.Tokens[net.Regulator.GLN]
	var scans [][]byte
	for _, cs := range net.Cases[1 : len(net.Cases)/2] { // lot A, at the wholesaler, active
		for _, i := range cs.Packs {
			scans = append(scans, []byte(net.Packs[i].Scan))
		}
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	url := n.srv.URL + "/api/v1/verify"
	const clients = 32
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	var failed atomic.Int64
	b.ResetTimer()
	cpu0 := processCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				req, _ := http.NewRequest("POST", url, bytes.NewReader(scans[int(i)%len(scans)]))
				req.Header.Set("Content-Type", "text/plain")
				req.Header.Set("Authorization", "Bearer "+token)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				lat[w] = append(lat[w], time.Since(t0))
				if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"verdict":"authentic"`)) {
					failed.Add(1)
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d verifications failed or were not authentic", f, b.N)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "verifies/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	// CPU time of the whole process (server and load generator) per
	// verification: on a shared machine this, not the wall clock, says
	// what two idle cores could do (2 s of CPU per second).
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
}

// processCPU is the user plus system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
