package history

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// benchSnapshot is n targets whose RTT histograms span 12 native buckets
// (a 2.8x spread of RTTs, like a LAN or a stable WAN path).
func benchSnapshot(n int) *probe.Snapshot {
	s := &probe.Snapshot{Time: t0}
	base := netip.MustParseAddr("10.0.0.0")
	a := base
	for i := 0; i < n; i++ {
		a = a.Next()
		spec := &probe.TargetSpec{Group: fmt.Sprintf("g%d", i%10), Name: a.String(), Addr: a}
		s.Targets = append(s.Targets, probe.TargetSnapshot{Spec: spec, Up: true,
			RTT: &probe.Histogram{Offset: -90, Buckets: make([]uint64, 12)}})
	}
	return s
}

// advance adds one minute of probes at one per second: 59 replies spread
// over the histogram and one lost probe.
func advance(s *probe.Snapshot, minute int) {
	s.Time = t0.Add(time.Duration(minute) * time.Minute)
	for i := range s.Targets {
		t := &s.Targets[i]
		for k := 0; k < 59; k++ {
			t.RTT.Buckets[(k*7+i+minute)%len(t.RTT.Buckets)]++
		}
		t.Replies += 59
		t.Lost++
		t.Sent += 60
	}
}

// BenchmarkMemory fills 3 hours of one-minute buckets for 10k and 100k
// targets and reports the heap the Store holds per target (bytes/target)
// and the time of one Record (ns/op is per Record of all targets).
func BenchmarkMemory(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) {
			snap := benchSnapshot(n)
			var perTarget float64
			b.StopTimer()
			for i := 0; i < b.N; i++ {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				st := New(Options{MaxTargets: -1})
				for m := 1; m <= 180; m++ {
					advance(snap, m)
					b.StartTimer()
					st.Record(snap)
					b.StopTimer()
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perTarget = float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
				runtime.KeepAlive(st)
			}
			b.StartTimer()
			b.ReportMetric(perTarget, "bytes/target")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*180), "ns/record")
		})
	}
}
