package otlp

import (
	"net/netip"
	"testing"

	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// TestPathMetrics: a target with path snapshots and MTU searches, down
// past its second hop, gets the path metrics with the /metrics names after
// Prometheus' translation; targets without paths get none, and a snapshot
// without any has no path metrics at all.
func TestPathMetrics(t *testing.T) {
	if ms := produce(t, newFakeSource(3)); len(ms["icmp.engine.path.snapshots"]) != 0 || len(ms["icmp.path.changes"]) != 0 {
		t.Fatal("path metrics without targets that take paths")
	}
	f := newFakeSource(3)
	tg := &f.snap.Targets[1]
	spec := *tg.Spec
	spec.Path = probe.PathSpec{Enabled: true, MaxHops: 30, MTU: probe.MTUSpec{Enabled: true, Max: 1500, Interval: 60e9}}
	tg.Spec = &spec
	tg.Path = &probe.PathSummary{Enabled: true, HopCount: 4, Changes: 1, HasDownHop: true, DownHop: netip.MustParseAddr("10.251.1.2"),
		DownHopTTL: 2, MTU: probe.MTUInfo{MTU: 1400, Changes: 1}}
	f.snap.Engine.Path = probe.PathStats{ProbesSent: 12, Snapshots: 3, Queued: 1}
	ms := produce(t, f)
	want := map[string]struct {
		prom  string
		value int64
	}{
		"icmp.path.hops":                     {"icmp_path_hops", 4},
		"icmp.path.changes":                  {"icmp_path_changes_total", 1},
		"icmp.path.last_hop.info":            {"icmp_path_last_hop_info", 1},
		"icmp.path.mtu":                      {"icmp_path_mtu_bytes", 1400},
		"icmp.path.mtu.changes":              {"icmp_path_mtu_changes_total", 1},
		"icmp.engine.path.probes.sent":       {"icmp_engine_path_probes_sent_total", 12},
		"icmp.engine.path.snapshots":         {"icmp_engine_path_snapshots_total", 3},
		"icmp.engine.path.snapshots.pending": {"icmp_engine_path_snapshots_pending", 1},
	}
	namer := otlptranslator.NewMetricNamer("", otlptranslator.UnderscoreEscapingWithSuffixes)
	for name, w := range want {
		list := ms[name]
		if len(list) != 1 {
			t.Errorf("%s: %d metrics", name, len(list))
			continue
		}
		m := list[0]
		var pts []metricdata.DataPoint[int64]
		var typ otlptranslator.MetricType = otlptranslator.MetricTypeGauge
		switch d := m.Data.(type) {
		case metricdata.Gauge[int64]:
			pts = d.DataPoints
		case metricdata.Sum[int64]:
			pts, typ = d.DataPoints, otlptranslator.MetricTypeMonotonicCounter
		}
		if len(pts) != 1 || pts[0].Value != w.value {
			t.Errorf("%s: points %+v, want one of %d", name, pts, w.value)
		}
		if got, _ := namer.Build(otlptranslator.Metric{Name: m.Name, Unit: m.Unit, Type: typ}); got != w.prom {
			t.Errorf("%s becomes %q in Prometheus, want %q", name, got, w.prom)
		}
		if name == "icmp.path.last_hop.info" {
			set := pts[0].Attributes
			if h, _ := set.Value(AttrPathHop); h.AsString() != "10.251.1.2" {
				t.Errorf("hop %q", h.AsString())
			}
			if h, _ := set.Value(AttrPathHopTTL); h.AsString() != "2" {
				t.Errorf("hop_ttl %q", h.AsString())
			}
		}
	}
}
