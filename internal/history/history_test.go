package history

import (
	"context"
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

func TestEncodeCount(t *testing.T) {
	prev := uint64(0)
	for v := uint64(0); v < 600000; v += 1 + v/100 {
		got := decodeCount(encodeCount(v))
		if v < 32 && got != v {
			t.Fatalf("count %d decodes as %d, want exact", v, got)
		}
		if v <= 507904 && math.Abs(float64(got)-float64(v)) > float64(v)/32 {
			t.Fatalf("count %d decodes as %d: more than 1/32 off", v, got)
		}
		if got < prev {
			t.Fatalf("count %d decodes as %d, below the previous %d: not monotonic", v, got, prev)
		}
		prev = got
	}
	if got := decodeCount(encodeCount(1 << 40)); got != 31<<14 {
		t.Fatalf("huge count decodes as %d, want the saturated %d", got, 31<<14)
	}
}

func TestEncodeLoss(t *testing.T) {
	for n := uint64(1); n <= lossSteps; n++ {
		for f := uint64(0); f <= n; f++ {
			c := encodeLoss(f, n)
			if got := decodeFailed(c, n); got != f {
				t.Fatalf("%d of %d failed: code %d decodes as %d", f, n, c, got)
			}
			if f > 0 && c == 0 || f < n && c == lossSteps {
				t.Fatalf("%d of %d failed: code %d hides loss or success", f, n, c)
			}
		}
	}
	if c := encodeLoss(1, 100000); c != 1 {
		t.Fatalf("1 of 100000 failed: code %d, want 1 (visible)", c)
	}
}

func TestHistogramQuantile(t *testing.T) {
	h := probe.Histogram{Offset: -80, Buckets: []uint64{10, 0, 80, 10}} // 2^-10 s and up
	for _, tc := range []struct {
		q    float64
		want int // native index
	}{{0.05, -80}, {0.1, -80}, {0.11, -78}, {0.5, -78}, {0.9, -78}, {0.91, -77}, {1, -77}} {
		want := math.Exp2((float64(tc.want) - 0.5) / 8)
		if got := HistogramQuantile(&h, tc.q); got != want {
			t.Errorf("q=%v: got %g, want %g (index %d)", tc.q, got, want, tc.want)
		}
	}
	if got := HistogramQuantile(&probe.Histogram{}, 0.5); got != 0 {
		t.Errorf("empty histogram: got %g, want 0", got)
	}
}

// fake is a target whose counters a test advances.
type fake struct {
	spec *probe.TargetSpec
	snap probe.TargetSnapshot
}

func newFake(group, name string) *fake {
	s := &probe.TargetSpec{Group: group, Name: name, Addr: netip.MustParseAddr(name)}
	return &fake{spec: s, snap: probe.TargetSnapshot{Spec: s, Up: true}}
}

// probe records replies with RTTs at native index idx and lost probes.
func (f *fake) probe(replies map[int]uint64, lost uint64) {
	if f.snap.RTT == nil {
		f.snap.RTT = new(probe.Histogram)
	}
	h := f.snap.RTT
	for idx, n := range replies {
		if len(h.Buckets) == 0 {
			h.Offset = int32(idx)
		}
		for idx < int(h.Offset) {
			h.Buckets = append([]uint64{0}, h.Buckets...)
			h.Offset--
		}
		for idx >= int(h.Offset)+len(h.Buckets) {
			h.Buckets = append(h.Buckets, 0)
		}
		h.Buckets[idx-int(h.Offset)] += n
		h.Count += n
		f.snap.Replies += n
		f.snap.Sent += n
	}
	f.snap.Lost += lost
	f.snap.Sent += lost
}

func snapshot(at time.Time, fs ...*fake) *probe.Snapshot {
	s := &probe.Snapshot{Time: at}
	for _, f := range fs {
		s.Targets = append(s.Targets, f.snap)
		s.Targets[len(s.Targets)-1].RTT = f.snap.RTT.Clone()
	}
	return s
}

func mid(idx int) float64 { return math.Exp2((float64(idx) - 0.5) / 8) }

var t0 = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

func TestRecordPoints(t *testing.T) {
	st := New(Options{Bucket: time.Minute, Retention: map[string]time.Duration{"short": 3 * time.Minute}})
	a, b := newFake("g", "192.0.2.1"), newFake("short", "192.0.2.2")
	// Minute 0: a answers 9 at index -60 and 1 at -50, loses 2; b answers 5 at -40.
	a.probe(map[int]uint64{-60: 9, -50: 1}, 2)
	b.probe(map[int]uint64{-40: 5}, 0)
	st.Record(snapshot(t0.Add(time.Minute+200*time.Millisecond), a, b))
	// Minute 1: a loses everything (60); b answers 1.
	a.probe(nil, 60)
	b.probe(map[int]uint64{-41: 1}, 0)
	st.Record(snapshot(t0.Add(2*time.Minute-100*time.Millisecond), a, b)) // a little early: still minute 1
	// Minute 2 missed (no record). Minute 3: a answers 20 at -62, 20 at -61, 20 at -59.
	a.probe(map[int]uint64{-62: 20, -61: 20, -59: 20}, 0)
	st.Record(snapshot(t0.Add(4*time.Minute), a, b))
	// Running minute 4: a answers 3 at -60.
	a.probe(map[int]uint64{-60: 3}, 0)
	now := snapshot(t0.Add(4*time.Minute+30*time.Second), a, b)

	got := st.Points(now, 0, time.Time{}, nil)
	want := []Point{
		{Start: t0, Probes: 12, Failed: 2, RTT: [3]float64{mid(-60), mid(-60), mid(-60)}},
		{Start: t0.Add(time.Minute), Probes: 60, Failed: 60},
		{Start: t0.Add(2 * time.Minute)},
		{Start: t0.Add(3 * time.Minute), Probes: 60, RTT: [3]float64{mid(-62), mid(-61), mid(-59)}},
		{Start: t0.Add(4 * time.Minute), Probes: 3, RTT: [3]float64{mid(-60), mid(-60), mid(-60)}, Partial: true},
	}
	comparePoints(t, "a", got, want)

	// b keeps 3 minutes: minutes 1..3, then the running one.
	got = st.Points(now, 1, time.Time{}, nil)
	want = []Point{
		{Start: t0.Add(time.Minute), Probes: 1, RTT: [3]float64{mid(-41), mid(-41), mid(-41)}},
		{Start: t0.Add(2 * time.Minute)},
		{Start: t0.Add(3 * time.Minute)},
		{Start: t0.Add(4 * time.Minute), Partial: true},
	}
	comparePoints(t, "b", got, want)

	// A snapshot taken before the last record has no running bucket.
	stale := snapshot(t0.Add(4*time.Minute-time.Second), a, b)
	if got := st.Points(stale, 0, time.Time{}, nil); len(got) != 4 || got[3].Partial {
		t.Fatalf("snapshot older than the last record: got %+v, want the 4 recorded buckets only", got)
	}

	// since cuts older buckets.
	got = st.Points(now, 0, t0.Add(150*time.Second), nil)
	if len(got) != 2 || !got[0].Start.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("since 2m30s: got %d points starting %v, want 2 from minute 3", len(got), got)
	}

	sums := st.Summaries(now, time.Hour, nil)
	wantA := Summary{OK: true,
		Now:    Agg{Probes: 60, P50: mid(-61), P90: mid(-59)},
		Window: Agg{Probes: 132, Failed: 62, P50: mid(-61), P90: mid(-59)}, // complete buckets only
	}
	if sums[0] != wantA {
		t.Errorf("summary a:\n got %+v\nwant %+v", sums[0], wantA)
	}
}

func comparePoints(t *testing.T, name string, got, want []Point) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d points, want %d:\n got %+v\nwant %+v", name, len(got), len(want), got, want)
	}
	for i := range got {
		if !got[i].Start.Equal(want[i].Start) {
			t.Errorf("%s[%d]: start %v, want %v", name, i, got[i].Start, want[i].Start)
		}
		got[i].Start = want[i].Start
		if got[i] != want[i] {
			t.Errorf("%s[%d]:\n got %+v\nwant %+v", name, i, got[i], want[i])
		}
	}
}

func TestReloadKeepsHistory(t *testing.T) {
	st := New(Options{Bucket: time.Minute})
	a, b := newFake("g", "192.0.2.1"), newFake("g", "192.0.2.2")
	a.probe(map[int]uint64{-60: 10}, 0)
	b.probe(map[int]uint64{-60: 10}, 0)
	st.Record(snapshot(t0.Add(time.Minute), a, b))

	// Reload: b goes, c comes, a keeps its key with a new spec pointer
	// (as config builds a new Spec) and moves to index 1.
	a2 := *a.spec
	a.spec, a.snap.Spec = &a2, &a2
	c := newFake("g", "192.0.2.3")
	c.probe(map[int]uint64{-50: 4}, 0)
	a.probe(map[int]uint64{-60: 5}, 1)
	st.Record(snapshot(t0.Add(2*time.Minute), c, a))

	now := snapshot(t0.Add(2*time.Minute+time.Second), c, a)
	pa := st.Points(now, 1, time.Time{}, nil)
	if len(pa) != 3 || pa[0].Probes != 10 || pa[1].Probes != 6 || pa[1].Failed != 1 {
		t.Fatalf("a after reload: got %+v, want minute 0 with 10 probes, minute 1 with 6 (1 failed), running", pa)
	}
	pc := st.Points(now, 0, time.Time{}, nil)
	if len(pc) != 2 || !pc[0].Start.Equal(t0.Add(time.Minute)) || pc[0].Probes != 4 {
		t.Fatalf("c after reload: got %+v, want minute 1 with 4 probes, running", pc)
	}

	// A shorter retention keeps the newest bucket.
	st.SetRetention(map[string]time.Duration{"g": time.Minute})
	pa = st.Points(now, 1, time.Time{}, nil)
	if len(pa) != 2 || pa[0].Probes != 6 {
		t.Fatalf("a after retention 1m: got %+v, want minute 1 with 6 probes, running", pa)
	}
	// Retention 0: no history.
	st.SetRetention(map[string]time.Duration{"g": 0})
	if pa = st.Points(now, 1, time.Time{}, nil); len(pa) != 0 {
		t.Fatalf("a after retention 0: got %+v, want nothing", pa)
	}
}

func TestMaxTargets(t *testing.T) {
	st := New(Options{MaxTargets: 1})
	a, b := newFake("g", "192.0.2.1"), newFake("g", "192.0.2.2")
	st.Record(snapshot(t0.Add(time.Minute), a, b))
	if st.Enabled() {
		t.Fatal("2 targets with MaxTargets 1: history on, want off")
	}
	if p := st.Points(snapshot(t0.Add(time.Minute), a, b), 0, time.Time{}, nil); len(p) != 0 {
		t.Fatalf("history off: got points %+v", p)
	}
	a.probe(map[int]uint64{-60: 100}, 0)
	st.Record(snapshot(t0.Add(2*time.Minute), a))
	if !st.Enabled() {
		t.Fatal("1 target with MaxTargets 1: history off, want on")
	}
	// On again: the counters gathered while off are the base, not a bucket.
	a.probe(map[int]uint64{-60: 7}, 0)
	st.Record(snapshot(t0.Add(3*time.Minute), a))
	p := st.Points(snapshot(t0.Add(3*time.Minute), a), 0, time.Time{}, nil)
	if len(p) != 2 || p[0].Probes != 7 || !p[0].Start.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("history on again: got %+v, want minute 2 with 7 probes, then the running one", p)
	}
}

// clockEngine is a target that answers one probe per call, stamped now.
type clockEngine struct {
	mu sync.Mutex
	f  *fake
}

func (c *clockEngine) Snapshot(dst *probe.Snapshot) *probe.Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.f.probe(map[int]uint64{-60: 1}, 0)
	return snapshot(time.Now(), c.f)
}

func TestRun(t *testing.T) {
	st := New(Options{Bucket: 20 * time.Millisecond})
	eng := &clockEngine{f: newFake("g", "192.0.2.1")}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { st.Run(ctx, eng); close(done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		now := eng.Snapshot(nil)
		var recorded int
		for _, p := range st.Points(now, 0, time.Time{}, nil) {
			if !p.Partial && p.Probes > 0 {
				recorded++
			}
		}
		if recorded >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run recorded %d buckets with probes in 30s, want 3", recorded)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
}

// countingEngine counts its snapshots and tells its target count.
type countingEngine struct {
	clockEngine
	n         atomic.Int32 // NumTargets
	snapshots atomic.Int32
}

func (c *countingEngine) NumTargets() int { return int(c.n.Load()) }

func (c *countingEngine) Snapshot(dst *probe.Snapshot) *probe.Snapshot {
	c.snapshots.Add(1)
	return c.clockEngine.Snapshot(dst)
}

// TestRunTakesNoSnapshotWhileOff checks that Run does not copy the engine
// while it probes more targets than the history keeps (at a million targets
// a snapshot is most of a gigabyte), and that it turns the history on again
// when the count falls.
func TestRunTakesNoSnapshotWhileOff(t *testing.T) {
	st := New(Options{Bucket: 20 * time.Millisecond, MaxTargets: 1})
	eng := &countingEngine{clockEngine: clockEngine{f: newFake("g", "192.0.2.1")}}
	eng.n.Store(2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { st.Run(ctx, eng); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("not within 30s: %s", what)
			}
		}
	}
	waitFor("history off", func() bool { return !st.Enabled() })
	time.Sleep(200 * time.Millisecond) // about 10 buckets
	if n := eng.snapshots.Load(); n != 0 {
		t.Fatalf("%d snapshots taken while the engine had more targets than the history keeps, want 0", n)
	}
	eng.n.Store(1)
	waitFor("history on again after the count fell", func() bool { return st.Enabled() && eng.snapshots.Load() > 0 })
}
