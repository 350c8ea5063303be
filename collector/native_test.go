package collector

import (
	"slices"
	"strings"
	"testing"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// findHist gathers c and returns the icmp_rtt_seconds series whose labels
// include all of want (name=value).
func findHist(t *testing.T, c prometheus.Collector, want ...string) *dto.Histogram {
	t.Helper()
	for _, mf := range gatherProto(t, c) {
		if mf.GetName() != "icmp_rtt_seconds" {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, w := range want {
				name, value, _ := strings.Cut(w, "=")
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == name && lp.GetValue() == value {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			return m.GetHistogram()
		}
	}
	t.Fatalf("no icmp_rtt_seconds series with labels %v", want)
	return nil
}

func spansOf(h *dto.Histogram) []span {
	var out []span
	for _, s := range h.GetPositiveSpan() {
		out = append(out, span{s.GetOffset(), s.GetLength()})
	}
	return out
}

func TestNativeHistogramDTO(t *testing.T) {
	tests := []struct {
		name       string
		labels     []string
		count      uint64
		sum        float64
		zero       uint64
		spans      []span
		deltas     []int64
		classic    []float64 // upper bounds
		classicCum []uint64
	}{
		{
			// Buckets -79:3 -78:1 -75:2 -71:5. The gap -77,-76 (two empty
			// buckets) stays inside the span as zero deltas; the gap of three
			// (-74..-72) starts a new span with offset 3.
			name:   "native with zero bucket and gaps",
			labels: []string{"target=10.0.0.1"},
			count:  12, sum: 0.05, zero: 1,
			spans:  []span{{-79, 5}, {3, 1}},
			deltas: []int64{3, -2, -1, 0, 2, 3},
		},
		{
			name:   "native single bucket",
			labels: []string{"target=10.0.0.2"},
			count:  40, sum: 0.4,
			spans:  []span{{-53, 1}},
			deltas: []int64{40},
		},
		{
			// -64:10 -63:30 -61:5 plus classic buckets in the same series.
			name:   "both",
			labels: []string{"target=www.example.test"},
			count:  45, sum: 0.18,
			spans:      []span{{-64, 4}},
			deltas:     []int64{10, 20, -30, 5},
			classic:    []float64{0.001, 0.005, 0.025},
			classicCum: []uint64{0, 40, 45},
		},
		{
			// edge0 -80:4 -79:6; edge1 -82:1 -80:3 -79:5 -> -82:1 -81:0 -80:7 -79:11.
			name:   "group aggregation of native",
			labels: []string{"group=edge", "tier=edge", "region=eu"},
			count:  19, sum: 0.03,
			spans:  []span{{-82, 4}},
			deltas: []int64{1, -1, 7, 4},
		},
	}
	src := newFixture()
	c := New(src, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := findHist(t, c, tt.labels...)
			if h.GetSchema() != probe.NativeSchema {
				t.Errorf("schema %d, want %d", h.GetSchema(), probe.NativeSchema)
			}
			if h.GetZeroThreshold() != probe.NativeZeroThreshold {
				t.Errorf("zero threshold %g, want %g", h.GetZeroThreshold(), probe.NativeZeroThreshold)
			}
			if h.GetZeroCount() != tt.zero {
				t.Errorf("zero count %d, want %d", h.GetZeroCount(), tt.zero)
			}
			if h.GetSampleCount() != tt.count || h.GetSampleSum() != tt.sum {
				t.Errorf("count/sum %d/%g, want %d/%g", h.GetSampleCount(), h.GetSampleSum(), tt.count, tt.sum)
			}
			if got := spansOf(h); !slices.Equal(got, tt.spans) {
				t.Errorf("spans %v, want %v", got, tt.spans)
			}
			if got := h.GetPositiveDelta(); !slices.Equal(got, tt.deltas) {
				t.Errorf("deltas %v, want %v", got, tt.deltas)
			}
			if len(h.GetNegativeSpan()) != 0 || len(h.GetNegativeDelta()) != 0 {
				t.Errorf("negative buckets present")
			}
			var bounds []float64
			var cum []uint64
			for _, b := range h.GetBucket() {
				bounds = append(bounds, b.GetUpperBound())
				cum = append(cum, b.GetCumulativeCount())
			}
			if !slices.Equal(bounds, tt.classic) || !slices.Equal(cum, tt.classicCum) {
				t.Errorf("classic buckets %v %v, want %v %v", bounds, cum, tt.classic, tt.classicCum)
			}
			// Decoding the deltas must give back counts that add up.
			var total, cur int64
			for _, d := range h.GetPositiveDelta() {
				cur += d
				if cur < 0 {
					t.Fatalf("negative bucket count after deltas %v", h.GetPositiveDelta())
				}
				total += cur
			}
			if uint64(total)+h.GetZeroCount() != h.GetSampleCount() {
				t.Errorf("buckets+zero = %d, count %d", uint64(total)+h.GetZeroCount(), h.GetSampleCount())
			}
		})
	}
}

func TestClassicOnlyHasNoNativeFields(t *testing.T) {
	src := newFixture()
	h := findHist(t, New(src, Options{}), "group=lan")
	if h.Schema != nil || h.ZeroThreshold != nil || len(h.GetPositiveSpan()) != 0 {
		t.Errorf("classic-only histogram carries native fields: %v", h)
	}
	if len(h.GetBucket()) != 3 {
		t.Errorf("%d classic buckets, want 3", len(h.GetBucket()))
	}
}

func TestNativeEmptyHistogram(t *testing.T) {
	src := newFixture()
	s := fixtureSnapshot()
	s.Targets[0].RTT = &probe.Histogram{}
	src.set(s)
	h := findHist(t, New(src, Options{}), "target=10.0.0.1")
	// The positive zero threshold marks it as native without any span.
	if h.GetSchema() != probe.NativeSchema || h.GetZeroThreshold() <= 0 || len(h.GetPositiveSpan()) != 0 || h.GetSampleCount() != 0 {
		t.Errorf("empty native histogram: %v", h)
	}
}
