package raftstore

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metricValue reads one labelled series from the default registry. A
// histogram's value is its count, or its sum when name is the histogram's
// name with _sum, as the exposition format names that series.
func metricValue(t testing.TB, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	histogram, sum := strings.CutSuffix(name, "_sum")
	for _, f := range families {
		if f.GetName() != name && !(sum && f.GetName() == histogram) {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			switch {
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetHistogram() != nil && sum && f.GetName() == histogram:
				return m.GetHistogram().GetSampleSum(), true
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func TestMetricsFollowTheLedger(t *testing.T) {
	// A node id no other test uses, so the series hold this store's counts.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(Config{NodeID: "metrics-only", Dir: t.TempDir(), Listener: ln, Bootstrap: true, Tune: fastRaft, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitFor(t, 10*time.Second, "leadership", s.IsLeader)
	node := s.ID()
	// The registry is the process's, so a counter may carry counts from an
	// earlier run of this test (go test -count N): compare increases.
	counters := []struct {
		name   string
		labels map[string]string
	}{
		{"pedigree_raftstore_commands_applied_total", map[string]string{"node": node, "outcome": "accepted"}},
		{"pedigree_raftstore_commands_applied_total", map[string]string{"node": node, "outcome": "rejected"}},
		{"pedigree_raftstore_commands_applied_total", map[string]string{"node": node, "outcome": "duplicate"}},
		{"pedigree_raftstore_proposals_total", map[string]string{"node": node, "path": "local", "result": "ok"}},
	}
	before := make([]float64, len(counters))
	for i, c := range counters {
		before[i], _ = metricValue(t, c.name, c.labels)
	}
	applied := map[string]string{"node": node}
	entriesBefore, _ := metricValue(t, "pedigree_raftstore_apply_batch_entries_sum", applied)
	mustPropose(t, s, orgCmd(t, "m1", "m1"), orgCmd(t, "m2", "m1"), orgCmd(t, "m1", "m1"))
	// One proposal is one Raft entry, applied in some transaction.
	if entries, _ := metricValue(t, "pedigree_raftstore_apply_batch_entries_sum", applied); entries-entriesBefore < 1 {
		t.Errorf("apply_batch_entries counted %v more entries, want at least the proposal's one", entries-entriesBefore)
	}
	for i, c := range counters {
		got, ok := metricValue(t, c.name, c.labels)
		if !ok || got-before[i] != 1 {
			t.Errorf("%s%v rose by %v (found %v), want 1", c.name, c.labels, got-before[i], ok)
		}
	}
	size := float64(s.Head().Size)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"pedigree_raftstore_tree_size", map[string]string{"node": node}, size},
		{"pedigree_raftstore_is_leader", map[string]string{"node": node}, 1},
	} {
		got, ok := metricValue(t, tc.name, tc.labels)
		if !ok || got != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	if n, ok := metricValue(t, "pedigree_raftstore_apply_batch_seconds", map[string]string{"node": node}); !ok || n == 0 {
		t.Errorf("no apply batches observed (%v)", ok)
	}
}
