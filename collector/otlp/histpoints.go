package otlp

import (
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// histPoints collects the data points of one histogram metric exported the
// way the RTT histogram is (RTT, IPDV, loss runs): per target or summed per
// group, exponential and/or classic as the group's mode says.
type histPoints struct {
	scale   int32 // of the exponential buckets (the snapshot's native schema)
	exp     []metricdata.ExponentialHistogramDataPoint[float64]
	classic []metricdata.HistogramDataPoint[float64]
	groups  map[string]*groupAgg
	order   []string
}

// add adds t's histogram h, exported as rx says.
func (hp *histPoints) add(t *probe.TargetSnapshot, set attribute.Set, h *probe.Histogram, rx probe.RTTExport, start, now time.Time) {
	if rx.Group {
		if hp.groups == nil {
			hp.groups = make(map[string]*groupAgg)
		}
		g := hp.groups[t.Spec.Group]
		if g == nil {
			kvs := make([]attribute.KeyValue, 0, 1+len(t.Spec.Labels))
			kvs = append(kvs, AttrGroup.String(t.Spec.Group))
			for _, l := range t.Spec.Labels {
				kvs = append(kvs, attribute.String(l.Name, l.Value))
			}
			g = &groupAgg{set: attribute.NewSet(kvs...), rx: rx}
			hp.groups[t.Spec.Group] = g
			hp.order = append(hp.order, t.Spec.Group)
		}
		g.add(h)
		return
	}
	if !rx.Native { // classic only; both exports the native buckets
		bounds, cum := h.ClassicBuckets()
		hp.classic = append(hp.classic, classicPoint(set, start, now, h.Count, h.Sum, cum, bounds))
		return
	}
	hp.exp = append(hp.exp, expPoint(set, start, now, hp.scale, h.Count, h.Sum, h.ZeroCount, h.Offset, h.Buckets))
}

// metrics appends the metric name (one per kind of data point) to ms.
func (hp *histPoints) metrics(ms []metricdata.Metrics, name, unit, desc string, start, now time.Time) []metricdata.Metrics {
	for _, k := range hp.order {
		g := hp.groups[k]
		if !g.rx.Native {
			hp.classic = append(hp.classic, classicPoint(g.set, start, now, g.count, g.sum, g.classic, g.bounds))
			continue
		}
		hp.exp = append(hp.exp, expPoint(g.set, start, now, hp.scale, g.count, g.sum, g.zero, g.offset, g.buckets))
	}
	if len(hp.exp) > 0 {
		ms = append(ms, metricdata.Metrics{Name: name, Unit: unit, Description: desc,
			Data: metricdata.ExponentialHistogram[float64]{DataPoints: hp.exp, Temporality: metricdata.CumulativeTemporality}})
	}
	if len(hp.classic) > 0 {
		ms = append(ms, metricdata.Metrics{Name: name, Unit: unit, Description: desc + " (classic buckets)",
			Data: metricdata.Histogram[float64]{DataPoints: hp.classic, Temporality: metricdata.CumulativeTemporality}})
	}
	return ms
}
