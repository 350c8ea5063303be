package collector

import (
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// fakeSource serves a fixed snapshot, copying it into dst like the engine
// does (reusing dst's buffers), and counts calls.
type fakeSource struct {
	mu    sync.Mutex
	snap  *probe.Snapshot
	info  probe.DatapathInfo
	calls int
}

func (f *fakeSource) Snapshot(dst *probe.Snapshot) *probe.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if dst == nil {
		dst = &probe.Snapshot{}
	}
	dst.Time, dst.Source, dst.Engine = f.snap.Time, f.snap.Source, f.snap.Engine
	dst.Vantage = append(dst.Vantage[:0], f.snap.Vantage...)
	if cap(dst.Targets) < len(f.snap.Targets) {
		dst.Targets = make([]probe.TargetSnapshot, len(f.snap.Targets))
	}
	dst.Targets = dst.Targets[:len(f.snap.Targets)]
	for i := range f.snap.Targets {
		src, d := &f.snap.Targets[i], &dst.Targets[i]
		*d = *src
		d.RTT, d.IPDV, d.LossRuns = src.RTT.Clone(), src.IPDV.Clone(), src.LossRuns.Clone()
		d.Outs = src.Outs.Clone()
		if src.Errs != nil {
			e := *src.Errs
			d.Errs = &e
		}
	}
	return dst
}

func (f *fakeSource) Info() probe.DatapathInfo { return f.info }

// set replaces the snapshot served.
func (f *fakeSource) set(s *probe.Snapshot) {
	f.mu.Lock()
	f.snap = s
	f.mu.Unlock()
}

var (
	t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// The fixture's scrape time: 10 minutes after t0.
	tNow = t0.Add(10 * time.Minute)
)

func spec(group, name string, addr string, mode, agg string, labels ...probe.Label) *probe.TargetSpec {
	s := &probe.TargetSpec{
		Group: group, Name: name, Interval: time.Second, Timeout: time.Second,
		PayloadSize: probe.MinPayload, DownAfter: 3, UpAfter: 1, OutageHistory: 10,
		Labels:    labels,
		Histogram: probe.HistogramSpec{Mode: mode, Aggregation: agg},
	}
	if a, err := netip.ParseAddr(addr); err == nil {
		s.Addr = a
	} else {
		s.Host = addr
	}
	if s.Histogram.NeedsClassic() {
		s.Histogram.Buckets = []float64{0.001, 0.005, 0.025}
	}
	return s
}

func lbl(kv ...string) []probe.Label {
	var out []probe.Label
	for i := 0; i < len(kv); i += 2 {
		out = append(out, probe.Label{Name: kv[i], Value: kv[i+1]})
	}
	slices.SortFunc(out, func(a, b probe.Label) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// fixtureSnapshot covers every case of the golden exposition: up and down
// targets, host names resolved and not, each histogram mode, group
// aggregation, outages ongoing and completed, errors by type, engine info.
func fixtureSnapshot() *probe.Snapshot {
	// core: two targets, native histograms, user label site.
	up := probe.TargetSnapshot{
		Spec: spec("core", "10.0.0.1", "10.0.0.1", "", "", lbl("site", "fra")...),
		IP:   netip.MustParseAddr("10.0.0.1"), Up: true, StateChange: t0, Created: t0,
		Sent: 100, Replies: 97, Lost: 1, Late: 1, Duplicates: 1, Skipped: 2,
		LastTTL: 64, LastRTT: 2 * time.Millisecond,
		// Native buckets -79:3 -78:1 -75:2 -71:5 and one zero observation.
		RTT: &probe.Histogram{Count: 12, Sum: 0.05, ZeroCount: 1, Offset: -80,
			Buckets: []uint64{0, 3, 1, 0, 0, 2, 0, 0, 0, 5, 0}},
		// Loss runs of 1, 1 and 2 probes; IPDV 0 (twice) and 0.1 ms (schema
		// 1 bucket -26: (2^-13.5, 2^-13]).
		LossRuns: &probe.Histogram{Count: 3, Sum: 4, Offset: 0, Buckets: []uint64{2, 0, 0, 0, 0, 0, 0, 0, 1}},
		IPDV:     &probe.Histogram{Count: 3, Sum: 0.0001, ZeroCount: 2, Offset: -26, Buckets: []uint64{1}},
		Jitter:   0.0004, Reordered: 2,
	}
	up.EditErrors().ByType[probe.ErrDestUnreachable] = 2
	down := probe.TargetSnapshot{
		Spec: spec("core", "10.0.0.2", "10.0.0.2", "native", "target", lbl("site", "fra")...),
		IP:   netip.MustParseAddr("10.0.0.2"), Up: false, StateChange: t0.Add(5 * time.Minute),
		Sent: 100, Replies: 40, Lost: 60, LastTTL: 63,
		RTT: &probe.Histogram{Count: 40, Sum: 0.4, Offset: -53, Buckets: []uint64{40}},
		Outs: &probe.OutageRecord{Total: 1, Recent: []probe.Outage{{Start: t0.Add(4*time.Minute + 57*time.Second), Ongoing: true,
			Resolution: time.Second, ProbesLost: 60}}},
	}
	down.EditErrors().ByType[probe.ErrTimeExceeded] = 1
	down.EditErrors().ByType[probe.ErrSend] = 3
	// Path snapshots and MTU: down past the second hop of a 4-hop baseline.
	down.Spec.Path = probe.PathSpec{Enabled: true, MaxHops: 30, MTU: probe.MTUSpec{Enabled: true, Max: 1500, Interval: time.Minute}}
	down.Path = &probe.PathSummary{Enabled: true, HopCount: 4, Changes: 1, Snapshots: 2, HasDownHop: true,
		DownHop: netip.MustParseAddr("10.0.1.2"), DownHopTTL: 2, MTU: probe.MTUInfo{MTU: 1400, Changes: 1}}
	// dns: a host name that never resolved (classic), one that did (both),
	// with two completed outages.
	unresolved := probe.TargetSnapshot{
		Spec: spec("dns", "nowhere.example.test", "nowhere.example.test", "classic", ""),
		Up:   false, StateChange: t0, Errs: &probe.ErrorCounts{DNS: 5}, LastTTL: -1,
		RTT: &probe.Histogram{Classic: []uint64{0, 0, 0}, Bounds: []float64{0.001, 0.005, 0.025}},
	}
	resolved := probe.TargetSnapshot{
		Spec: spec("dns", "www.example.test", "www.example.test", "both", ""),
		IP:   netip.MustParseAddr("2001:db8::5"), Up: true, StateChange: t0.Add(8 * time.Minute),
		Created: t0.Add(90*time.Second + 500*time.Millisecond), // added by a reload
		Sent:    50, Replies: 45, Lost: 5, Errs: &probe.ErrorCounts{DNS: 1}, LastTTL: 57,
		RTT: &probe.Histogram{Count: 45, Sum: 0.18, Offset: -64, Buckets: []uint64{10, 30, 0, 5},
			Classic: []uint64{0, 40, 45}, Bounds: []float64{0.001, 0.005, 0.025}},
		// One run of 3 lost probes.
		LossRuns: &probe.Histogram{Count: 1, Sum: 3, Offset: 13, Buckets: []uint64{1},
			Classic: []uint64{0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, Bounds: probe.LossRunBuckets},
		IPDV: &probe.Histogram{Count: 44, Sum: 0.044, Offset: -19, Buckets: []uint64{44},
			Classic: []uint64{44, 44, 44}, Bounds: []float64{0.001, 0.005, 0.025}},
		Jitter: 0.001, Reordered: 1,
		Outs: &probe.OutageRecord{Total: 2, DurationSum: 123, Recent: []probe.Outage{
			{Start: t0.Add(time.Minute), End: t0.Add(time.Minute + 3*time.Second), Resolution: time.Second, ProbesLost: 3},
			{Start: t0.Add(6 * time.Minute), End: t0.Add(8 * time.Minute), Resolution: time.Second, ProbesLost: 120},
		}},
	}
	// Cumulative over bounds 0.1 0.5 1 5 10 30 60 300 900 ...: 3 s and 120 s.
	for i, b := range probe.OutageBuckets {
		if b >= 3 {
			resolved.EditOutages().Durations[i]++
		}
		if b >= 120 {
			resolved.EditOutages().Durations[i]++
		}
	}
	// edge: a /31 expanded into two targets, native, aggregated per group.
	edgeLabels := lbl("tier", "edge", "region", "eu")
	edge0 := probe.TargetSnapshot{
		Spec: spec("edge", "10.1.0.0", "10.1.0.0", "native", "group", edgeLabels...),
		IP:   netip.MustParseAddr("10.1.0.0"), Up: true, StateChange: t0, Sent: 10, Replies: 10, LastTTL: 64,
		RTT: &probe.Histogram{Count: 10, Sum: 0.01, Offset: -80, Buckets: []uint64{4, 6}},
	}
	edge1 := probe.TargetSnapshot{
		Spec: spec("edge", "10.1.0.1", "10.1.0.1", "native", "group", edgeLabels...),
		IP:   netip.MustParseAddr("10.1.0.1"), Up: true, StateChange: t0, Sent: 10, Replies: 9, Lost: 1, LastTTL: 64,
		RTT: &probe.Histogram{Count: 9, Sum: 0.02, Offset: -82, Buckets: []uint64{1, 0, 3, 5}},
	}
	// lan: classic buckets aggregated per group.
	lan0 := probe.TargetSnapshot{
		Spec: spec("lan", "192.0.2.1", "192.0.2.1", "classic", "group"),
		IP:   netip.MustParseAddr("192.0.2.1"), Up: true, StateChange: t0, Sent: 5, Replies: 5, LastTTL: 255,
		RTT:      &probe.Histogram{Count: 5, Sum: 0.004, Classic: []uint64{4, 5, 5}, Bounds: []float64{0.001, 0.005, 0.025}},
		LossRuns: &probe.Histogram{Classic: make([]uint64, len(probe.LossRunBuckets)), Bounds: probe.LossRunBuckets},
		IPDV:     &probe.Histogram{Count: 4, Sum: 0.003, Classic: []uint64{3, 4, 4}, Bounds: []float64{0.001, 0.005, 0.025}},
	}
	lan1 := probe.TargetSnapshot{
		Spec: spec("lan", "192.0.2.2", "192.0.2.2", "classic", "group"),
		IP:   netip.MustParseAddr("192.0.2.2"), Up: true, StateChange: t0, Sent: 5, Replies: 4, Lost: 1, LastTTL: 255,
		RTT:      &probe.Histogram{Count: 4, Sum: 0.05, Classic: []uint64{0, 1, 3}, Bounds: []float64{0.001, 0.005, 0.025}},
		LossRuns: &probe.Histogram{Count: 1, Sum: 1, Classic: []uint64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, Bounds: probe.LossRunBuckets},
		IPDV:     &probe.Histogram{Count: 3, Sum: 0.04, Classic: []uint64{0, 1, 2}, Bounds: []float64{0.001, 0.005, 0.025}},
		Jitter:   0.01,
	}
	// quiet: no RTT histogram.
	quiet := probe.TargetSnapshot{
		Spec: spec("quiet", "198.51.100.7", "198.51.100.7", "none", ""),
		IP:   netip.MustParseAddr("198.51.100.7"), Up: true, StateChange: t0, Sent: 7, Replies: 7, LastTTL: 60,
		RTT: &probe.Histogram{Count: 7, Sum: 0.007, Offset: -80, Buckets: []uint64{7}},
	}
	return &probe.Snapshot{
		Time:   tNow,
		Source: probe.Source{Name: "fra1", HasLocation: true, Latitude: 50.1109, Longitude: 8.6821},
		Engine: probe.EngineStats{
			Datapath: "icmp", TimestampSource: probe.TimestampKernelRX,
			PacketsSent: 307, PacketsReceived: 260, Foreign: 4, Invalid: 1, SendErrors: 3, KernelDrops: 2, RingFreezes: 5,
			Skipped: 2, ScheduleLag: time.Millisecond, MaxScheduleLag: 1500 * time.Microsecond,
			RepliesByTimestamp: [probe.NumTimestampSources]uint64{0, 200, 17},
			Targets:            9, StartTime: t0,
			Path: probe.PathStats{ProbesSent: 12, Snapshots: 2, Queued: 1, Active: 1},
		},
		Targets: []probe.TargetSnapshot{up, down, unresolved, resolved, edge0, edge1, lan0, lan1, quiet},
	}
}

func newFixture() *fakeSource {
	return &fakeSource{snap: fixtureSnapshot(), info: probe.DatapathInfo{
		Name: "icmp", Mode: "raw", TimestampSource: probe.TimestampKernelRX}}
}
