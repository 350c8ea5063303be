package collector

import (
	"net/netip"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	dto "github.com/prometheus/client_model/go"
)

// seriesCount counts the series of families as Prometheus stores them:
// text/classic counts one series per sample line (each classic bucket, +Inf,
// _sum, _count); native counts a histogram with native fields as one series
// and ignores its classic buckets (Prometheus' default when it scrapes
// protobuf with native histograms enabled and scrape_classic_histograms is
// off).
func seriesCount(mfs []*dto.MetricFamily) (text, native int) {
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			if h == nil {
				text++
				native++
				continue
			}
			classic := len(h.GetBucket()) + 3 // buckets, +Inf, _sum, _count
			text += classic
			if h.Schema != nil {
				native++
			} else {
				native += classic
			}
		}
	}
	return text, native
}

// TestSeriesPerTarget pins the per-target series counts documented in
// docs/metrics.md ("Series per target").
func TestSeriesPerTarget(t *testing.T) {
	base := func(mode, agg string) probe.TargetSnapshot {
		ts := &probe.TargetSpec{Group: "g", Name: "192.0.2.1", Addr: netip.MustParseAddr("192.0.2.1"),
			Interval: time.Second, Timeout: time.Second, PayloadSize: probe.MinPayload, DownAfter: 1, UpAfter: 1,
			Histogram: probe.HistogramSpec{Mode: mode, Aggregation: agg}}
		t := probe.TargetSnapshot{Spec: ts, IP: ts.Addr, Up: true, StateChange: t0, Sent: 10, Replies: 10, LastTTL: 64,
			RTT: &probe.Histogram{Count: 10, Sum: 0.01, Offset: -80, Buckets: []uint64{10}}}
		if ts.Histogram.NeedsClassic() {
			t.RTT.Bounds = probe.DefaultClassicBuckets // 15 bounds
			t.RTT.Classic = make([]uint64, len(t.RTT.Bounds))
			for i := range t.RTT.Classic {
				t.RTT.Classic[i] = 10
			}
			// Laid out like the engine's: IPDV with the RTT bounds, loss runs with 10.
			t.IPDV = &probe.Histogram{Bounds: t.RTT.Bounds, Classic: make([]uint64, len(t.RTT.Bounds))}
			t.LossRuns = &probe.Histogram{Bounds: probe.LossRunBuckets, Classic: make([]uint64, len(probe.LossRunBuckets))}
		}
		return t
	}
	tests := []struct {
		name              string
		target            func() probe.TargetSnapshot
		targets           int
		wantText, wantNat int // per target, including the group series spread over targets
	}{
		// Three histograms (RTT, IPDV, loss runs) follow the mode.
		{"native", func() probe.TargetSnapshot { return base(probe.HistogramNative, "") }, 1, 22, 16},
		{"classic", func() probe.TargetSnapshot { return base(probe.HistogramClassic, "") }, 1, 13 + 18 + 18 + 13, 13 + 18 + 18 + 13},
		{"both", func() probe.TargetSnapshot { return base(probe.HistogramBoth, "") }, 1, 13 + 18 + 18 + 13, 16},
		{"none", func() probe.TargetSnapshot { return base(probe.HistogramNone, "") }, 1, 13, 13},
		// 100 targets in one group share one group histogram of each kind.
		{"group native", func() probe.TargetSnapshot { return base(probe.HistogramNative, probe.AggregateGroup) }, 100, 13*100 + 9, 13*100 + 3},
		{"group classic", func() probe.TargetSnapshot { return base(probe.HistogramClassic, probe.AggregateGroup) }, 100, 13*100 + 18 + 18 + 13, 13*100 + 18 + 18 + 13},
		{"host name adds dns errors", func() probe.TargetSnapshot {
			t := base(probe.HistogramNone, "")
			t.Spec.Host, t.Spec.Addr = "h.example.test", netip.Addr{}
			return t
		}, 1, 14, 14},
		{"each error type seen adds one", func() probe.TargetSnapshot {
			t := base(probe.HistogramNone, "")
			t.EditErrors().ByType[probe.ErrDestUnreachable], t.EditErrors().ByType[probe.ErrSend] = 1, 1
			return t
		}, 1, 15, 15},
		{"first outage adds histogram and three gauges", func() probe.TargetSnapshot {
			t := base(probe.HistogramNone, "")
			t.EditOutages().Total = 1
			t.EditOutages().Recent = []probe.Outage{{Start: t0, End: t0.Add(time.Minute), Resolution: time.Second}}
			return t
		}, 1, 13 + 15 + 3, 13 + 15 + 3},
		{"never answered: no reply_ttl", func() probe.TargetSnapshot {
			t := base(probe.HistogramNone, "")
			t.Replies, t.LastTTL = 0, -1
			return t
		}, 1, 12, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &probe.Snapshot{Time: tNow, Source: probe.Source{Name: "s"}}
			for i := range tt.targets {
				target := tt.target()
				spec := *target.Spec
				spec.Name = netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}).String()
				target.Spec = &spec
				s.Targets = append(s.Targets, target)
			}
			mfs := dropEngineFamilies(gatherProto(t, New(staticSource{s}, Options{})))
			text, native := seriesCount(mfs)
			if text != tt.wantText || native != tt.wantNat {
				t.Errorf("series text/classic %d, native %d; want %d, %d", text, native, tt.wantText, tt.wantNat)
			}
		})
	}
}
