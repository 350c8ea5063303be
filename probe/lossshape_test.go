package probe

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"
	"unsafe"
)

// shapeSim runs one target probed every 100 ms on the virtual clock; rtt
// gives the delay of the reply to probe k (k-th send, from 0) or false to
// drop it.
func shapeSim(t *testing.T, timeout time.Duration, mode string, until time.Duration, rtt func(k int) (time.Duration, bool)) (*sim, *TargetSnapshot) {
	t.Helper()
	const iv = 100 * time.Millisecond
	ts := simTarget("192.0.2.1", iv, timeout)
	ts.Histogram.Mode = mode
	s := newSim(t, Spec{Targets: []TargetSpec{ts}})
	s.respond = func(_ netip.Addr, sent int64) (time.Duration, bool) {
		return rtt(int((sent + int64(iv)/2) / int64(iv)))
	}
	s.run(until)
	snap := &TargetSnapshot{}
	s.target("192.0.2.1").copyTo(snap, s.c.epoch, true)
	return s, snap
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// With a timeout of 3.5 intervals a loss is known after the replies to the
// next three probes: runs must still be cut in send order, also runs
// longer than the in-flight window.
func TestLossRunsInSendOrder(t *testing.T) {
	lost := map[int]bool{3: true, 4: true, 5: true, 8: true, 12: true, 13: true}
	for k := 20; k < 50; k++ {
		lost[k] = true
	}
	_, snap := shapeSim(t, 350*time.Millisecond, HistogramBoth, 6050*time.Millisecond, func(k int) (time.Duration, bool) {
		return time.Millisecond, !lost[k]
	})
	if snap.Sent != 61 || snap.Lost != 36 || snap.Replies != 25 {
		t.Fatalf("sent %d lost %d replies %d, want 61, 36, 25", snap.Sent, snap.Lost, snap.Replies)
	}
	// Runs 3, 1, 2, 30.
	r := snap.LossRuns
	if r.Count != 4 || r.Sum != 36 {
		t.Errorf("loss runs: count %d sum %v, want 4 and 36", r.Count, r.Sum)
	}
	bounds, cum := r.ClassicBuckets()
	if !slices.Equal(bounds, LossRunBuckets) || !slices.Equal(cum, []uint64{1, 2, 3, 3, 3, 3, 3, 4, 4, 4}) {
		t.Errorf("loss run buckets %v %v, want cumulative 1 2 3 3 3 3 3 4 4 4", bounds, cum)
	}
	// Native: lengths 1, 2, 3 and 30 each in their own bucket.
	if r.ZeroCount != 0 || nativeTotal(r.Buckets) != 4 || nativeCount(r, 1) != 1 || nativeCount(r, 2) != 1 || nativeCount(r, 3) != 1 || nativeCount(r, 30) != 1 {
		t.Errorf("native loss run buckets: offset %d %v", r.Offset, r.Buckets)
	}
	// Equal RTTs: every IPDV is 0. Pairs of consecutive probes both
	// answered: (0,1) (1,2) (6,7) (9,10) (10,11) (14..19) (50..60).
	if snap.IPDV.Count != 20 || snap.IPDV.ZeroCount != 20 || snap.IPDV.Sum != 0 {
		t.Errorf("IPDV count %d zero %d sum %v, want 20, 20, 0", snap.IPDV.Count, snap.IPDV.ZeroCount, snap.IPDV.Sum)
	}
	if snap.Jitter != 0 || snap.Reordered != 0 {
		t.Errorf("jitter %v reordered %d, want 0", snap.Jitter, snap.Reordered)
	}
}

func nativeTotal(b []uint64) (n uint64) {
	for _, c := range b {
		n += c
	}
	return n
}

// nativeCount is the count of the native bucket holding v (schema
// NativeSchema-shift).
func nativeCount(h *Histogram, v float64, shift ...uint) uint64 {
	idx := nativeIndex(v)
	for _, s := range shift {
		idx = int(math.Ceil(float64(idx) / float64(int(1)<<s)))
	}
	i := idx - int(h.Offset)
	if i < 0 || i >= len(h.Buckets) {
		return 0
	}
	return h.Buckets[i]
}

// Known RTTs with two reorderings: probe 4 answered after probe 5, probe 9
// after probes 10 and 11.
func TestIPDVJitterReordering(t *testing.T) {
	ms := []time.Duration{10, 12, 9, 9, 150, 10, 10, 10, 10, 300, 10, 10, 10}
	_, snap := shapeSim(t, 500*time.Millisecond, HistogramBoth, 1250*time.Millisecond, func(k int) (time.Duration, bool) {
		return ms[k] * time.Millisecond, true
	})
	if snap.Sent != 13 || snap.Replies != 13 {
		t.Fatalf("sent %d replies %d, want 13", snap.Sent, snap.Replies)
	}
	if snap.Reordered != 2 {
		t.Errorf("reordered %d, want 2 (probes 4 and 9)", snap.Reordered)
	}
	// IPDV of (0,1) +2 ms, (1,2) -3 ms, (2,3) 0, (4,5) -140 ms (known when 4
	// arrives after 5), (5,6) (6,7) (7,8) (10,11) (11,12) 0. (3,4), (8,9)
	// and (9,10) have no sample: their later reply is not the newest.
	h := snap.IPDV
	if h.Count != 9 || h.ZeroCount != 6 || !near(h.Sum, 0.145) {
		t.Errorf("IPDV count %d zero %d sum %v, want 9, 6, 0.145", h.Count, h.ZeroCount, h.Sum)
	}
	// Schema 1, bucket i is (2^((i-1)/2), 2^(i/2)]: 2 ms in bucket -17
	// (2^-9, 2^-8.5], 3 ms in -16 (2^-8.5, 2^-8], 140 ms in -5 (2^-3, 2^-2.5].
	if sh := uint(NativeSchema - IPDVSchema); nativeCount(h, 0.002, sh) != 1 || nativeCount(h, 0.003, sh) != 1 ||
		nativeCount(h, 0.140, sh) != 1 || nativeTotal(h.Buckets) != 3 || h.Offset != -17 {
		t.Errorf("IPDV native buckets: offset %d %v", h.Offset, h.Buckets)
	}
	_, cum := h.ClassicBuckets() // DefaultClassicBuckets
	want := []uint64{6, 6, 6, 6, 7, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9}
	if !slices.Equal(cum, want) {
		t.Errorf("IPDV classic %v, want %v", cum, want)
	}
	// RFC 3550 jitter over the RTTs in arrival order.
	arrival := []float64{10, 12, 9, 9, 10, 150, 10, 10, 10, 10, 10, 300, 10}
	j := 0.0
	for i := 1; i < len(arrival); i++ {
		j += (math.Abs(arrival[i]-arrival[i-1])/1e3 - j) / 16
	}
	if !near(snap.Jitter, j) {
		t.Errorf("jitter %v, want %v", snap.Jitter, j)
	}
	if snap.LossRuns.Count != 0 {
		t.Errorf("loss runs %d without loss", snap.LossRuns.Count)
	}
}

// Mode none keeps jitter and reordering but never allocates the
// histograms; an error ends a loss run like a reply.
func TestLossShapeModeNoneAndErrors(t *testing.T) {
	s, snap := shapeSim(t, 50*time.Millisecond, HistogramNone, 1050*time.Millisecond, func(k int) (time.Duration, bool) {
		return time.Duration(1+k%2) * time.Millisecond, k != 4
	})
	if s.target("192.0.2.1").shape.h != nil || snap.LossRuns.Count != 0 || snap.IPDV.Count != 0 {
		t.Errorf("mode none: histograms allocated or filled: %+v %+v", snap.LossRuns, snap.IPDV)
	}
	if snap.Jitter <= 0 || snap.Jitter >= 0.001 || snap.Reordered != 0 {
		t.Errorf("jitter %v reordered %d, want 0 < jitter < 1ms, 0", snap.Jitter, snap.Reordered)
	}

	// Native mode: probes 2 and 3 lost, probe 4 ends in a send error, 5 lost,
	// 6 answered: runs 2 and 1.
	ts := simTarget("192.0.2.2", 100*time.Millisecond, 50*time.Millisecond)
	s = newSim(t, Spec{Targets: []TargetSpec{ts}})
	s.respond = func(_ netip.Addr, sent int64) (time.Duration, bool) {
		k := (sent + int64(50*time.Millisecond)) / int64(100*time.Millisecond)
		return time.Millisecond, k != 2 && k != 3 && k != 4 && k != 5
	}
	tg := s.target("192.0.2.2")
	s.run(450 * time.Millisecond)
	// Fail probe 4 (sent at 400.1 ms) as a send error would.
	if i := slices.IndexFunc(tg.window, func(sl slot) bool { return sl.state == slotOut }); i >= 0 {
		s.c.fail(tg, &tg.window[i], s.now, slotError)
	} else {
		t.Fatal("probe 4 not in flight")
	}
	s.run(750 * time.Millisecond)
	snap = &TargetSnapshot{}
	tg.copyTo(snap, s.c.epoch, true)
	if snap.LossRuns.Count != 2 || snap.LossRuns.Sum != 3 || len(snap.LossRuns.Classic) != 0 {
		t.Errorf("loss runs count %d sum %v classic %v, want 2, 3, none", snap.LossRuns.Count, snap.LossRuns.Sum, snap.LossRuns.Classic)
	}
}

// A reload that changes the histogram mode lays the histograms out again:
// classic counts restart, native ones stay.
func TestLossShapeReloadMode(t *testing.T) {
	ts := simTarget("192.0.2.3", 100*time.Millisecond, 50*time.Millisecond)
	ts.Histogram.Mode = HistogramNative
	s := newSim(t, Spec{Targets: []TargetSpec{ts}})
	s.respond = func(_ netip.Addr, sent int64) (time.Duration, bool) {
		return time.Millisecond, (sent+int64(50*time.Millisecond))/int64(100*time.Millisecond) != 2
	}
	s.run(550 * time.Millisecond)
	ts2 := ts
	ts2.Histogram.Mode = HistogramBoth
	s.c.apply(&Spec{Targets: []TargetSpec{ts2}}, s.now)
	snap := &TargetSnapshot{}
	s.target("192.0.2.3").copyTo(snap, s.c.epoch, true)
	if _, cum := snap.LossRuns.ClassicBuckets(); snap.LossRuns.Count != 1 || len(cum) != len(LossRunBuckets) || cum[0] != 0 {
		t.Errorf("right after the reload: count %d classic %v, want 1 and empty classic buckets", snap.LossRuns.Count, cum)
	}
	s.respond = func(_ netip.Addr, sent int64) (time.Duration, bool) {
		return time.Millisecond, (sent+int64(50*time.Millisecond))/int64(100*time.Millisecond) != 7
	}
	s.run(1050 * time.Millisecond)
	s.target("192.0.2.3").copyTo(snap, s.c.epoch, true)
	_, cum := snap.LossRuns.ClassicBuckets()
	if snap.LossRuns.Count != 2 || len(cum) != len(LossRunBuckets) || cum[0] != 1 {
		t.Errorf("after reload: count %d classic %v, want 2 and 1 run in le=1 since the reload", snap.LossRuns.Count, cum)
	}
}

// BenchmarkLossShapeBytes reports the memory the loss shape adds per
// target: the inline state, and the histograms with the native buckets they
// grew to after 100 probes of 2000 targets with RTTs spread uniformly over
// 1 to 3 ms (|IPDV| from 0 to 2 ms) and 1 % random loss (or none), in the
// given mode.
func BenchmarkLossShapeBytes(b *testing.B) {
	for _, tc := range []struct {
		mode string
		loss uint64 // one probe in loss is lost; 0: none
	}{{HistogramNative, 100}, {HistogramNative, 0}, {HistogramBoth, 100}, {HistogramNone, 100}} {
		mode := tc.mode
		loss := "none"
		if tc.loss > 0 {
			loss = fmt.Sprintf("1in%d", tc.loss)
		}
		b.Run(fmt.Sprintf("mode=%s/loss=%s", mode, loss), func(b *testing.B) {
			for range b.N {
				const n = 2000
				spec := Spec{}
				for i := range n {
					ts := simTarget(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}).String(), 100*time.Millisecond, 50*time.Millisecond)
					ts.Histogram.Mode = mode
					spec.Targets = append(spec.Targets, ts)
				}
				s := newSim(b, spec)
				rng := uint64(1)
				s.respond = func(netip.Addr, int64) (time.Duration, bool) {
					rng = rng*6364136223846793005 + 1442695040888963407
					return time.Millisecond + time.Duration(rng>>33%uint64(2*time.Millisecond)), tc.loss == 0 || rng>>20%tc.loss != 0
				}
				s.run(10 * time.Second)
				var heap float64
				for _, t := range s.c.targets {
					if h := t.shape.h; h != nil {
						heap += float64(unsafe.Sizeof(*h)) + histHeap(&h.ipdv)
						if r := h.runs; r != nil {
							heap += float64(unsafe.Sizeof(*r)) + histHeap(r)
						}
					}
				}
				b.ReportMetric(float64(unsafe.Sizeof(shapeState{})), "inline-B/target")
				b.ReportMetric(heap/n, "heap-B/target")
			}
		})
	}
}

// histHeap is the heap h's buckets take besides h itself.
func histHeap(h *hist) float64 {
	n := float64(8 * cap(h.buckets))
	if h.cl != nil {
		n += float64(unsafe.Sizeof(*h.cl) + 8*uintptr(cap(h.cl.counts)))
	}
	return n
}
