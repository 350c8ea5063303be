package probe_test

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/probe/probetest"
)

// TestDeferredHistograms checks a snapshot with deferred histograms: it
// holds none, and ReadHistograms returns for every target and kind what a
// full snapshot of the same (stopped) engine holds — also for targets a
// reload removed after the snapshot was taken — and so does ReadHistograms
// on the full snapshot.
func TestDeferredHistograms(t *testing.T) {
	modes := []string{probe.HistogramNative, probe.HistogramBoth, probe.HistogramClassic, probe.HistogramNone}
	var spec probe.Spec
	for i := range 600 {
		a := netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)})
		h := probe.HistogramSpec{Mode: modes[i%len(modes)]}
		if h.NeedsClassic() {
			h.Buckets = probe.DefaultClassicBuckets
		}
		spec.Targets = append(spec.Targets, probe.TargetSpec{Group: "g", Name: a.String(), Addr: a,
			Interval: 20 * time.Millisecond, Timeout: 100 * time.Millisecond, PayloadSize: probe.MinPayload,
			DownAfter: 3, UpAfter: 1, OutageHistory: 2, Histogram: h})
	}
	// Every third target loses every fourth probe (loss runs), RTTs vary
	// (IPDV).
	network := &probetest.Network{Respond: func(dst netip.Addr, sent time.Time) (time.Duration, bool) {
		b := dst.As4()
		n := sent.UnixNano() / int64(20*time.Millisecond)
		if b[3]%3 == 0 && n%4 == 0 {
			return 0, false
		}
		return time.Duration(1+n%5) * time.Millisecond, true
	}}
	e, err := probe.New(spec, probe.Options{Datapath: network})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	deadline := time.Now().Add(60 * time.Second)
	for full := e.Snapshot(nil); ; full = e.Snapshot(full) {
		done := true
		for i := range full.Targets {
			if full.Targets[i].Replies < 10 {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("targets not answered 10 times within 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	def := new(probe.Snapshot)
	def.DeferHistograms()
	def = e.Snapshot(def)
	// A reload that removes half of the targets: the deferred snapshot
	// still reads theirs.
	next := probe.Spec{Targets: spec.Targets[:300]}
	if err := e.Apply(next); err != nil {
		t.Fatal(err)
	}
	e.Close() // the state stops changing
	full := e.Snapshot(nil)
	if len(def.Targets) != 600 || len(full.Targets) != 300 {
		t.Fatalf("%d deferred and %d full targets, want 600 and 300", len(def.Targets), len(full.Targets))
	}
	idx := make([]int, len(def.Targets))
	for i := range idx {
		idx[i] = i
		if ts := &def.Targets[i]; ts.RTT != nil || ts.IPDV != nil || ts.LossRuns != nil {
			t.Fatalf("target %d of the deferred snapshot holds histograms", i)
		}
	}
	got := make([]probe.Histogram, len(idx))
	fromFull := make([]probe.Histogram, 300)
	var runs, ipdv, classic uint64
	for _, k := range []probe.HistKind{probe.HistRTT, probe.HistIPDV, probe.HistLossRuns} {
		def.ReadHistograms(k, idx, got)
		full.ReadHistograms(k, idx[:300], fromFull)
		for i := range 300 {
			want := full.Targets[i].Hist(k)
			if !reflect.DeepEqual(norm(&got[i]), norm(want)) || !reflect.DeepEqual(norm(&fromFull[i]), norm(want)) {
				t.Fatalf("target %d kind %d: deferred %+v, from the full snapshot %+v, want %+v", i, k, got[i], fromFull[i], *want)
			}
			switch {
			case k == probe.HistRTT && got[i].Count != full.Targets[i].Replies && spec.Targets[i].Histogram.Mode != probe.HistogramNone:
				t.Fatalf("target %d: RTT count %d, want its %d replies", i, got[i].Count, full.Targets[i].Replies)
			case k == probe.HistLossRuns:
				runs += got[i].Count
			case k == probe.HistIPDV:
				ipdv += got[i].Count
			case k == probe.HistRTT:
				classic += uint64(len(got[i].Classic))
			}
		}
		for i := 300; i < 600; i++ { // removed by the reload: read as they were
			if k == probe.HistRTT && spec.Targets[i].Histogram.Mode != probe.HistogramNone && got[i].Count < 10 {
				t.Fatalf("removed target %d: RTT count %d, want at least 10", i, got[i].Count)
			}
		}
	}
	def.ReleaseEngine() // reads what it holds now: nothing
	def.ReadHistograms(probe.HistRTT, idx[:1], got[:1])
	if got[0].Count != 0 || len(got[0].Buckets) != 0 {
		t.Fatalf("after ReleaseEngine: RTT histogram %+v, want empty", got[0])
	}
	if runs == 0 || ipdv == 0 || classic == 0 {
		t.Fatalf("loss runs %d, IPDV samples %d, classic buckets %d: the test needs all three", runs, ipdv, classic)
	}
}

// norm makes empty and nil slices compare equal.
func norm(h *probe.Histogram) probe.Histogram {
	c := *h
	if len(c.Buckets) == 0 {
		c.Buckets = nil
	}
	if len(c.Classic) == 0 {
		c.Classic = nil
	}
	if len(c.Bounds) == 0 {
		c.Bounds = nil
	}
	return c
}
