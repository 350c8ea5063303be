package ui

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/internal/history"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

// benchEngine is n targets in 100 groups with one hour of history in
// one-minute buckets; every 100th target is down with an ongoing outage.
func benchEngine(b *testing.B, n int) (*fakeEngine, *history.Store) {
	b.Helper()
	f := &fakeEngine{snap: probe.Snapshot{Source: probe.Source{Name: "bench"}}}
	a := netip.MustParseAddr("10.0.0.0")
	for i := 0; i < n; i++ {
		a = a.Next()
		spec := &probe.TargetSpec{Group: fmt.Sprintf("group-%02d", i%100), Name: a.String(), Addr: a,
			Interval: time.Second, Timeout: time.Second, Labels: []probe.Label{{Name: "site", Value: "dc1"}}}
		t := probe.TargetSnapshot{Spec: spec, IP: a, Up: i%100 != 0, StateChange: t0,
			RTT: &probe.Histogram{Offset: -90, Buckets: make([]uint64, 12)}}
		if !t.Up {
			t.EditOutages().Recent = []probe.Outage{{Start: t0.Add(30 * time.Minute), Ongoing: true, Resolution: time.Second}}
		}
		f.snap.Targets = append(f.snap.Targets, t)
	}
	st := history.New(history.Options{MaxTargets: -1})
	for m := 1; m <= 60; m++ {
		f.snap.Time = t0.Add(time.Duration(m) * time.Minute)
		for i := range f.snap.Targets {
			t := &f.snap.Targets[i]
			for k := 0; k < 59; k++ {
				t.RTT.Buckets[(k*7+i+m)%12]++
			}
			t.Replies += 59
			t.Lost += uint64(i % 3)
		}
		st.Record(&f.snap)
	}
	f.snap.Time = t0.Add(60*time.Minute + 20*time.Second)
	return f, st
}

// BenchmarkPages100k renders each page for 100k targets, taking a new
// snapshot and recomputing every target's summary on each request (MaxAge
// 1 ns: the worst case; by default a snapshot serves requests for 2 s).
func BenchmarkPages100k(b *testing.B) {
	f, st := benchEngine(b, 100_000)
	h := New(Options{Engine: f, History: st, MaxAge: time.Nanosecond})
	for _, page := range []string{"/ui/", "/ui/?q=group-07", "/ui/?page=500", "/ui/target?group=group-42&target=10.0.0.43", "/ui/outages"} {
		b.Run("page="+page, func(b *testing.B) {
			var size int
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, page, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d", page, rec.Code)
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/page")
		})
	}
}
