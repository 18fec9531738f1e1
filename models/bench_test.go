package models

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Benchmarks for the hot paths. Figures depend on the machine; run them
// briefly (-benchtime) on a shared one and say so.

// BenchmarkCapture1000 applies capture_events commands of 1,000 events,
// each commissioning one pack, as the ledger does for a busy packing line.
func BenchmarkCapture1000(b *testing.B) {
	l := newLedger(b)
	l.network()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		events := make([]Event, 1000)
		for j := range events {
			events[j] = l.commissionEv("L1", "2028-12-31", sgtinDL(gtinA, fmt.Sprintf("B%d-%d", i, j)))
		}
		cmd, err := NewCommand(fmt.Sprintf("bench-%d", i), KindCaptureEvents, glnMaker, l.now, CaptureEventsPayload{Events: events})
		if err != nil {
			b.Fatal(err)
		}
		l.seq++
		b.StartTimer()
		if res := l.applyCmd(cmd); !res.Accepted {
			b.Fatalf("rejected: %s %s", res.Code, res.Message)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkPallet10000 ships and receives a pallet of 20 cases of 500
// packs: each iteration is one shipping and one receiving command.
func BenchmarkPallet10000(b *testing.B) {
	l := newLedger(b)
	l.network()
	pallet := ssccDL(999)
	for c := 0; c < 20; c++ {
		packs := make([]string, 500)
		for j := range packs {
			packs[j] = sgtinDL(gtinA, fmt.Sprintf("P%d-%d", c, j))
		}
		l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", packs...), l.packEv(ssccDL(c+1), packs...))
	}
	cases := make([]string, 20)
	for c := range cases {
		cases[c] = ssccDL(c + 1)
	}
	l.capture(glnMaker, l.packEv(pallet, cases...))
	from, to := glnMaker, glnWholesal
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.capture(from, l.shipEv(to, pallet))
		l.capture(to, l.observeEv("receiving", pallet))
		from, to = to, from
	}
	b.StopTimer()
	var n int64
	l.db.Model(&Item{}).Where("holder = ?", from).Count(&n)
	if n != 10021 {
		b.Fatalf("%d items with %s, want 10021", n, from)
	}
}

// BenchmarkVerify verifies packs in parallel on a file database in WAL
// mode with prepared statements, as a node serves pharmacies.
func BenchmarkVerify(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.db")
	db, err := gorm.Open(sqlite.Open("file:"+path+"?_journal_mode=WAL&_busy_timeout=5000"), &gorm.Config{Logger: logger.Discard, PrepareStmt: true})
	if err != nil {
		b.Fatal(err)
	}
	sqlDB, _ := db.DB()
	b.Cleanup(func() { sqlDB.Close() })
	if err := Migrate(db); err != nil {
		b.Fatal(err)
	}
	l := &ledger{t: b, db: db, now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	l.network()
	const packs = 10000
	for c := 0; c < packs/1000; c++ {
		epcs := make([]string, 1000)
		for j := range epcs {
			epcs[j] = sgtinDL(gtinA, fmt.Sprintf("V%d", c*1000+j))
		}
		l.capture(glnMaker, l.commissionEv("L1", "2028-12-31", epcs...))
	}
	at := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	var mu sync.Mutex
	var lat []time.Duration
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		i := 0
		for pb.Next() {
			i++
			start := time.Now()
			v, err := Verify(db, VerifyRequest{Scan: scan(gtinA, fmt.Sprintf("V%d", (i*7919)%packs), "L1", "281231"), Pharmacy: glnMaker, Time: at, Signature: SignatureValid, KeyOwner: glnMaker})
			mine = append(mine, time.Since(start))
			if err != nil || v.Verdict != VerdictAuthentic {
				b.Errorf("verify: %v %v", v.Verdict, err)
				return
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}
