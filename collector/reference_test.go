package collector

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// referenceCollector is the straightforward implementation of the same
// metrics with client_golang's constructors (MustNewConstMetric,
// MustNewConstHistogram, MustNewConstNativeHistogram) and maps. It is the
// oracle for the allocation-optimised Collector and the baseline of the
// benchmarks. Engine-level metrics are shared code, so it only does targets.
type referenceCollector struct {
	src  SnapshotSource
	snap *probe.Snapshot
}

func (r *referenceCollector) Describe(chan<- *prometheus.Desc) {}

func (r *referenceCollector) Collect(ch chan<- prometheus.Metric) {
	r.snap = r.src.Snapshot(r.snap)
	s := r.snap
	type group struct {
		f       *family
		ds      *descSet
		values  []string
		rx      probe.RTTExport
		count   uint64
		sum     float64
		zero    uint64
		native  map[int]int64
		bounds  []float64
		classic map[float64]uint64
	}
	groups := map[groupKey]*group{}
	var order []groupKey
	for i := range s.Targets {
		t := &s.Targets[i]
		ds := newDescSet(t.Spec.Labels)
		ip := ""
		if t.IP.IsValid() {
			ip = t.IP.Unmap().String()
		}
		lv := []string{s.Source.Name, t.Spec.Group, t.Spec.Name, ip}
		for _, l := range t.Spec.Labels {
			lv = append(lv, l.Value)
		}
		counter := func(d *prometheus.Desc, v uint64, extra ...string) {
			if t.Created.IsZero() {
				ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append(lv, extra...)...)
				return
			}
			ch <- prometheus.MustNewConstMetricWithCreatedTimestamp(d, prometheus.CounterValue, float64(v), t.Created, append(lv, extra...)...)
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
		}
		gauge(ds.desc[idUp], boolFloat(t.Up))
		counter(ds.desc[idSent], t.Sent)
		counter(ds.desc[idReplies], t.Replies)
		counter(ds.desc[idLost], t.Lost)
		counter(ds.desc[idLate], t.Late)
		counter(ds.desc[idDup], t.Duplicates)
		counter(ds.desc[idSkipped], t.Skipped)
		for et := range probe.NumErrorTypes {
			if t.HasError(et) {
				counter(ds.desc[idErrors], t.ErrorCounts().ByType[et], probe.ErrorTypeNames[et])
			}
		}
		if t.HasDNSErrors() {
			counter(ds.desc[idDNS], t.ErrorCounts().DNS)
		}
		if t.HasTTL() {
			gauge(ds.desc[idTTL], float64(t.LastTTL))
		}
		counter(ds.desc[idOutages], t.OutageRecord().Total)
		gauge(ds.desc[idResolution], t.OutageResolution().Seconds())
		gauge(ds.desc[idStateChange], unixSeconds(t.StateChange))
		gauge(ds.desc[idJitter], t.Jitter)
		counter(ds.desc[idReordered], t.Reordered)
		rx, hasRTT := t.RTTExport()
		for _, f := range histFamilies {
			h := t.Hist(histKind(f))
			if hasRTT && rx.Group {
				k := groupKey{f.id, t.Spec.Group}
				g := groups[k]
				if g == nil {
					g = &group{f: f, ds: ds, values: []string{s.Source.Name, t.Spec.Group}, rx: rx,
						native: map[int]int64{}, classic: map[float64]uint64{}, bounds: h.Bounds}
					for _, l := range t.Spec.Labels {
						g.values = append(g.values, l.Value)
					}
					groups[k] = g
					order = append(order, k)
				}
				g.count += h.Count
				g.sum += h.Sum
				g.zero += h.ZeroCount
				for i, c := range h.Buckets {
					if c > 0 {
						g.native[int(h.Offset)+i] += int64(c)
					}
				}
				for i, c := range h.Classic {
					g.classic[h.Bounds[i]] += c
				}
			} else if hasRTT {
				ch <- referenceHist(ds.desc[f.id], rx, refSchema(f.name), h.Count, h.Sum, h.ZeroCount, nativeMap(h.Offset, h.Buckets), classicMap(h.Bounds, h.Classic), t.Created, lv)
			}
		}
		if t.HasOutageDurations() {
			ch <- referenceHist(ds.desc[idOutageDur], probe.RTTExport{Classic: true}, 3, t.CompletedOutages(), t.OutageRecord().DurationSum,
				0, nil, classicMap(probe.OutageBuckets[:], t.OutageRecord().Durations[:]), t.Created, lv)
		}
		if o, ok := t.LastOutage(); ok {
			gauge(ds.desc[idLastStart], unixSeconds(o.Start))
			end := 0.0
			if !o.Ongoing {
				end = unixSeconds(o.End)
			}
			gauge(ds.desc[idLastEnd], end)
			gauge(ds.desc[idLastDur], o.Duration(s.Time).Seconds())
		}
		if p := t.Path; p != nil {
			if p.HopCount > 0 {
				gauge(ds.desc[idPathHops], float64(p.HopCount))
			}
			if p.Enabled {
				counter(ds.desc[idPathChanges], p.Changes)
			}
			if p.HasDownHop {
				hop := ""
				if p.DownHop.IsValid() {
					hop = p.DownHop.String()
				}
				ch <- prometheus.MustNewConstMetric(ds.desc[idPathLastHop], prometheus.GaugeValue, 1, append(lv, hop, fmt.Sprint(p.DownHopTTL))...)
			}
			if p.MTU.MTU > 0 {
				gauge(ds.desc[idPathMTU], float64(p.MTU.MTU))
			}
			if t.Spec.Path.MTU.Enabled {
				counter(ds.desc[idPathMTUChanges], p.MTU.Changes)
			}
		}
	}
	for _, k := range order {
		g := groups[k]
		ch <- referenceHist(g.ds.group[g.f.id], g.rx, refSchema(g.f.name), g.count, g.sum, g.zero, g.native, g.classic, time.Time{}, g.values)
	}
}

// refSchema is the native schema of the histogram family name, written out
// apart from the collector's own choice.
func refSchema(name string) int32 {
	if name == "icmp_ipdv_seconds" {
		return 1
	}
	return 3
}

func nativeMap(offset int32, buckets []uint64) map[int]int64 {
	m := map[int]int64{}
	for i, c := range buckets {
		if c > 0 {
			m[int(offset)+i] = int64(c)
		}
	}
	return m
}

func classicMap(bounds []float64, cum []uint64) map[float64]uint64 {
	m := map[float64]uint64{}
	for i, c := range cum {
		m[bounds[i]] = c
	}
	return m
}

// referenceHist builds a histogram with client_golang's constructors; for
// "both" it merges the classic buckets into the native histogram. created
// is its created timestamp, none when zero.
func referenceHist(d *prometheus.Desc, rx probe.RTTExport, schema int32, count uint64, sum float64, zero uint64, native map[int]int64, classic map[float64]uint64, created time.Time, lv []string) prometheus.Metric {
	var classicM, nativeM prometheus.Metric
	if rx.Classic {
		if created.IsZero() {
			classicM = prometheus.MustNewConstHistogram(d, count, sum, classic, lv...)
		} else {
			classicM = prometheus.MustNewConstHistogramWithCreatedTimestamp(d, count, sum, classic, created, lv...)
		}
	}
	if rx.Native {
		nativeM = prometheus.MustNewConstNativeHistogram(d, count, sum, native, nil, zero,
			schema, probe.NativeZeroThreshold, created, lv...)
		if created.IsZero() {
			nativeM = stripCreated{nativeM}
		}
	}
	switch {
	case nativeM == nil:
		return classicM
	case classicM == nil:
		return nativeM
	}
	return mergedHist{nativeM, classicM}
}

// stripCreated drops the created timestamp that NewConstNativeHistogram
// always sets (from the zero time when there is none).
type stripCreated struct{ prometheus.Metric }

func (s stripCreated) Write(out *dto.Metric) error {
	if err := s.Metric.Write(out); err != nil {
		return err
	}
	h := proto.Clone(out.Histogram).(*dto.Histogram)
	h.CreatedTimestamp = nil
	out.Histogram = h
	return nil
}

type mergedHist struct{ native, classic prometheus.Metric }

func (m mergedHist) Desc() *prometheus.Desc { return m.native.Desc() }

func (m mergedHist) Write(out *dto.Metric) error {
	var c dto.Metric
	if err := m.classic.Write(&c); err != nil {
		return err
	}
	if err := m.native.Write(out); err != nil {
		return err
	}
	out.Histogram.Bucket = c.Histogram.Bucket
	return nil
}

// syntheticSnapshot makes n targets in groups of 100 with randomised but
// deterministic state: every histogram mode, some aggregated per group,
// host names, errors and outages.
func syntheticSnapshot(n int, mode, agg string, seed uint64) *probe.Snapshot {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := &probe.Snapshot{Time: tNow, Source: probe.Source{Name: "bench"}}
	s.Engine.Targets = n
	bounds := probe.DefaultClassicBuckets
	var specs []probe.TargetSpec
	for i := range n {
		m := mode
		if m == "" {
			m = []string{probe.HistogramNative, probe.HistogramClassic, probe.HistogramBoth, probe.HistogramNone}[i/100%4]
		}
		a := agg
		if a == "" && i/400%2 == 1 {
			a = probe.AggregateGroup
		}
		addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		ts := probe.TargetSpec{
			Group: fmt.Sprintf("g%d", i/100), Name: addr.String(), Addr: addr,
			Interval: time.Second, Timeout: time.Second, PayloadSize: probe.MinPayload,
			DownAfter: 3, UpAfter: 1,
			Labels:    []probe.Label{{Name: "region", Value: fmt.Sprintf("r%d", i/1000)}, {Name: "site", Value: fmt.Sprintf("s%d", i/100)}},
			Histogram: probe.HistogramSpec{Mode: m, Aggregation: a},
		}
		if ts.Histogram.NeedsClassic() {
			ts.Histogram.Buckets = bounds
		}
		if i%50 == 7 {
			ts.Addr, ts.Host, ts.Name = netip.Addr{}, fmt.Sprintf("h%d.example.test", i), fmt.Sprintf("h%d.example.test", i)
		}
		specs = append(specs, ts)
	}
	for i := range specs {
		ts := &specs[i]
		t := probe.TargetSnapshot{Spec: ts, IP: ts.Addr, Up: rng.IntN(20) != 0, StateChange: t0, LastTTL: 64, RTT: new(probe.Histogram)}
		if i%3 != 0 { // added by reloads at different times; a third without created timestamps
			t.Created = t0.Add(time.Duration(i)*time.Second + 250*time.Millisecond)
		}
		t.Sent = 1000 + uint64(rng.IntN(100))
		t.Lost = uint64(rng.IntN(5))
		t.Replies = t.Sent - t.Lost
		t.Late = uint64(rng.IntN(2))
		// A typical RTT spread: 20 adjacent native buckets around 1 ms.
		off := int32(-85 + rng.IntN(10))
		var classic [32]uint64
		for range 200 {
			b := int(rng.NormFloat64()*3) + 10
			b = min(max(b, 0), 19)
			for len(t.RTT.Buckets) <= b {
				t.RTT.Buckets = append(t.RTT.Buckets, 0)
			}
			t.RTT.Buckets[b]++
			t.RTT.Count++
			v := math.Exp2(float64(int(off)+b) / 8)
			t.RTT.Sum += v
			for k, ub := range bounds {
				if v <= ub {
					classic[k]++
					break
				}
			}
		}
		t.RTT.Offset = off
		if ts.Histogram.NeedsClassic() {
			var cum uint64
			for k := range bounds {
				cum += classic[k]
				t.RTT.Classic = append(t.RTT.Classic, cum)
			}
			t.RTT.Bounds = bounds
		}
		syntheticShape(&t, rng, bounds)
		if rng.IntN(10) == 0 {
			t.EditErrors().ByType[rng.IntN(int(probe.NumErrorTypes))] = uint64(1 + rng.IntN(3))
		}
		if ts.Host != "" {
			t.EditErrors().DNS = uint64(rng.IntN(3))
			if rng.IntN(2) == 0 {
				t.IP = netip.Addr{}
			} else {
				t.IP = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)})
			}
		}
		if !t.Up || rng.IntN(10) == 0 {
			t.EditOutages().Total = 1
			start := t0.Add(time.Duration(rng.IntN(300)) * time.Second)
			o := probe.Outage{Start: start, Ongoing: !t.Up, Resolution: time.Second}
			if t.Up {
				o.End = start.Add(30 * time.Second)
				t.EditOutages().DurationSum = 30
				for k, b := range probe.OutageBuckets {
					if b >= 30 {
						t.EditOutages().Durations[k] = 1
					}
				}
			}
			t.EditOutages().Recent = []probe.Outage{o}
		}
		s.Targets = append(s.Targets, t)
	}
	return s
}

// syntheticShape gives t loss shape data laid out as the engine does for
// its mode: |IPDV| over 6 schema-1 buckets around 0.1 ms (classic with the
// RTT bounds), loss runs of 1 to 3 probes (classic with LossRunBuckets).
func syntheticShape(t *probe.TargetSnapshot, rng *rand.Rand, bounds []float64) {
	classic := t.Spec.Histogram.NeedsClassic()
	t.Jitter, t.Reordered = rng.Float64()/1e3, uint64(rng.IntN(3))
	t.IPDV = &probe.Histogram{Offset: int32(-29 + rng.IntN(4)), ZeroCount: uint64(rng.IntN(5))}
	t.IPDV.Count = t.IPDV.ZeroCount
	var cls [32]uint64
	cls[0] = t.IPDV.ZeroCount
	for i := range 6 {
		c := uint64(rng.IntN(20))
		t.IPDV.Buckets = append(t.IPDV.Buckets, c)
		v := math.Exp2(float64(int(t.IPDV.Offset)+i) / 2)
		t.IPDV.Count += c
		t.IPDV.Sum += float64(c) * v
		for k, ub := range bounds {
			if v <= ub {
				cls[k] += c
				break
			}
		}
	}
	runs := []uint64{uint64(rng.IntN(4)), uint64(rng.IntN(3)), uint64(rng.IntN(2))} // lengths 1, 2, 3
	t.LossRuns = &probe.Histogram{Offset: 0, Buckets: make([]uint64, 14)}
	t.LossRuns.Buckets[0], t.LossRuns.Buckets[8], t.LossRuns.Buckets[13] = runs[0], runs[1], runs[2]
	t.LossRuns.Count = runs[0] + runs[1] + runs[2]
	t.LossRuns.Sum = float64(runs[0] + 2*runs[1] + 3*runs[2])
	if !classic {
		return
	}
	var cum uint64
	for k := range bounds {
		cum += cls[k]
		t.IPDV.Classic = append(t.IPDV.Classic, cum)
	}
	t.IPDV.Bounds = bounds
	t.LossRuns.Bounds = probe.LossRunBuckets
	for _, b := range probe.LossRunBuckets {
		n := runs[0]
		if b >= 2 {
			n += runs[1]
		}
		if b >= 3 {
			n += runs[2]
		}
		t.LossRuns.Classic = append(t.LossRuns.Classic, n)
	}
}

// gatherProto gathers a pedantic registry holding c.
func gatherProto(t testing.TB, c prometheus.Collector) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	return mfs
}

// TestMatchesReference compares the Collector with the reference
// implementation on the fixture and on synthetic snapshots in every mode.
func TestMatchesReference(t *testing.T) {
	tests := []struct {
		name string
		snap *probe.Snapshot
	}{
		{"fixture", fixtureSnapshot()},
		{"mixed modes", syntheticSnapshot(800, "", "", 1)}, // every mode, per target and per group
		{"native", syntheticSnapshot(300, probe.HistogramNative, probe.AggregateTarget, 2)},
		{"classic", syntheticSnapshot(300, probe.HistogramClassic, probe.AggregateTarget, 3)},
		{"both", syntheticSnapshot(300, probe.HistogramBoth, probe.AggregateTarget, 4)},
		{"none", syntheticSnapshot(300, probe.HistogramNone, probe.AggregateTarget, 5)},
		{"group native", syntheticSnapshot(300, probe.HistogramNative, probe.AggregateGroup, 6)},
		{"group classic", syntheticSnapshot(300, probe.HistogramClassic, probe.AggregateGroup, 7)},
		{"group both", syntheticSnapshot(300, probe.HistogramBoth, probe.AggregateGroup, 8)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &fakeSource{snap: tt.snap}
			c := New(src, Options{})
			ref := &referenceCollector{src: src}
			want := gatherProto(t, ref)
			// Scrape twice: the second runs from the caches.
			for i := range 2 {
				got := gatherProto(t, c)
				got = dropEngineFamilies(got)
				if len(got) != len(want) {
					t.Fatalf("scrape %d: %d families, want %d", i+1, len(got), len(want))
				}
				for k := range got {
					if !proto.Equal(got[k], want[k]) {
						t.Fatalf("scrape %d: family %s differs:\ngot  %v\nwant %v", i+1, got[k].GetName(), got[k], want[k])
					}
				}
			}
		})
	}
}

// dropEngineFamilies removes the families that are not per target or group.
func dropEngineFamilies(mfs []*dto.MetricFamily) []*dto.MetricFamily {
	out := mfs[:0]
	for _, mf := range mfs {
		n := mf.GetName()
		if len(n) > 11 && n[:11] == "icmp_engine" || n == "icmp_source_info" {
			continue
		}
		out = append(out, mf)
	}
	return out
}
