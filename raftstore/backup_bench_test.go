package raftstore

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/models"
)

// BenchmarkBackupRestore times, for a ledger of b.N commissioned packs
// (captures of 1,000 events, so b.N/1000 ledger entries), each step of a
// backup and a restore once: the backup (copy and write to a file), its
// check (VerifyBackup, as `pedigree backup` runs it), the restore into a
// new node until it leads, and a second node joining it until it has
// caught up and votes. Run it at a ledger's size, as with the other
// ledger benchmarks:
//
//	go test -run '^$' -bench BackupRestore -benchtime 100000x ./raftstore/
//
// ns/op is meaningless here; the seconds of each step are the metrics.
func BenchmarkBackupRestore(b *testing.B) { benchBackupRestore(b, 1000) }

// BenchmarkBackupRestoreSingleEvents is BenchmarkBackupRestore for a
// ledger of b.N captures of one event each: as many ledger entries, each
// of which the check hashes into the tree.
func BenchmarkBackupRestoreSingleEvents(b *testing.B) { benchBackupRestore(b, 1) }

func benchBackupRestore(b *testing.B, perCapture int) {
	b.StopTimer()
	c := mustCluster(b, 1, nil)
	s := c.nodes[0].s
	capture := mustCaptureSetup(b, s)
	const batch = 1000 // events per proposal
	for i := 0; i < b.N; i += batch {
		var cmds []models.Command
		for j := i; j < min(i+batch, b.N); j += perCapture {
			cmds = append(cmds, capture(benchCommandID("capture", j), j, min(j+perCapture, b.N)))
		}
		mustPropose(b, s, cmds...)
	}

	start := time.Now()
	bk, err := s.Backup(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(b.TempDir(), "backup.db")
	mustWriteBackup(b, bk, file)
	backup := time.Since(start)

	start = time.Now()
	info, err := VerifyBackup(file)
	if err != nil {
		b.Fatal(err)
	}
	check := time.Since(start)

	start = time.Now()
	rc := &testCluster{t: b}
	r0 := mustRestoredNode(b, rc, "r0", file, info)
	defer func() {
		for _, tn := range rc.nodes {
			tn.s.Close()
		}
	}()
	mustLeader(b, rc.nodes)
	restore := time.Since(start)

	start = time.Now()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	tn := &testNode{id: "r1", dir: filepath.Join(b.TempDir(), "r1"), addr: ln.Addr().String(), net: newFaultNet()}
	rc.nodes = append(rc.nodes, tn)
	rc.start(tn, ln, false)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := r0.s.Join(ctx, tn.s.Info(), true)
		cancel()
		if err == nil {
			break
		}
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("join: %v", err)
		}
	}
	join := time.Since(start)

	st, err := os.Stat(file)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.Size())/(1<<20), "MiB")
	b.ReportMetric(backup.Seconds(), "backup-s")
	b.ReportMetric(check.Seconds(), "check-s")
	b.ReportMetric(restore.Seconds(), "restore-s")
	b.ReportMetric(join.Seconds(), "join-s")
}
