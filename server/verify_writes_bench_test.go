package server

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
	"github.com/pedigree-ledger/pedigree/models"
)

var verifyWrites = flag.Int("verify.writes", 1000, "packs per second BenchmarkVerifyHTTPOpenLoopUnderWrites commissions while it verifies")

// BenchmarkVerifyHTTPOpenLoopUnderWrites is BenchmarkVerifyHTTPOpenLoopUncached
// while the manufacturer commissions -verify.writes packs per second on the
// same node, ten captures a second: SQLite commits and the verify index
// takes each batch's rows under the verifications, as on a node that
// serves pharmacies and the supply chain at once. It reports the write
// rate achieved beside the verification figures.
func BenchmarkVerifyHTTPOpenLoopUnderWrites(b *testing.B) {
	if *verifyWrites <= 0 {
		b.Fatal("-verify.writes must be positive")
	}
	benchVerifyOpenLoop(b, verifyMode{uncached: true, writes: &writeLoad{perSecond: *verifyWrites}})
}

// writeLoad commissions packs at a steady rate until the benchmark ends.
type writeLoad struct {
	perSecond int
	events    atomic.Int64
	started   time.Time
}

// start commissions perSecond packs a second, in ten captures a second,
// as net's manufacturer on n, until b's cleanup; a rejected or failed
// capture fails b.
func (w *writeLoad) start(b *testing.B, n *apiNode, net *demo.Network) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	m, p := net.Manufacturer.GLN, net.Packs[0]
	perCapture := max(1, w.perSecond/10)
	w.started = time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			epcs := make([]string, perCapture)
			for j := range epcs {
				epcs[j] = demo.PackEPC(p.GTIN, fmt.Sprintf("W%d-%d", i, j))
			}
			payload, err := json.Marshal(map[string]any{"events": []demo.Event{demo.Commission(time.Now(), m, epcs, p.Lot, p.Expiry)}})
			if err != nil {
				b.Error(err)
				return
			}
			cmd := models.Command{ID: fmt.Sprintf("writes-%d", i), Kind: models.KindCaptureEvents, Actor: m, Payload: payload}
			res, err := n.store.Propose(ctx, cmd)
			if ctx.Err() != nil {
				return
			}
			if err != nil || !res[0].Accepted {
				b.Errorf("commission during the benchmark: %+v, %v", res, err)
				return
			}
			w.events.Add(int64(perCapture))
		}
	}()
}

// rate is the packs commissioned per second since start.
func (w *writeLoad) rate() float64 {
	return float64(w.events.Load()) / time.Since(w.started).Seconds()
}
