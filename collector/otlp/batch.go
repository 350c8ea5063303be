package otlp

import (
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// DefaultMaxBatchPoints is the largest number of data points sent in one
// export request. A target has about 15 data points; 10k targets make
// 150k points and a 20-30 MB request, beyond the 4 MiB a gRPC server
// (the collector's OTLP receiver among them) accepts by default. 2000
// points make requests of a few hundred KiB.
const DefaultMaxBatchPoints = 2000

// splitBatches splits rm into requests of at most maxPoints data points, in
// order, splitting a metric's data points across requests where needed. The
// batches share data point slices with rm (read-only).
func splitBatches(rm *metricdata.ResourceMetrics, maxPoints int) []*metricdata.ResourceMetrics {
	if maxPoints <= 0 {
		return []*metricdata.ResourceMetrics{rm}
	}
	var (
		out  []*metricdata.ResourceMetrics
		cur  *metricdata.ResourceMetrics
		room int
	)
	next := func() {
		cur = &metricdata.ResourceMetrics{Resource: rm.Resource}
		out = append(out, cur)
		room = maxPoints
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			rest := m
			for {
				if cur == nil || room == 0 {
					next()
				}
				head, tail, n := cutPoints(rest, room)
				if n > 0 || tail == nil {
					scope := lastScope(cur, sm)
					scope.Metrics = append(scope.Metrics, head)
					room -= n
				}
				if tail == nil {
					break
				}
				rest = *tail
			}
		}
	}
	if len(out) == 0 {
		out = append(out, &metricdata.ResourceMetrics{Resource: rm.Resource})
	}
	return out
}

// lastScope returns the ScopeMetrics of cur for sm's scope, appending one
// if cur's last scope differs.
func lastScope(cur *metricdata.ResourceMetrics, sm metricdata.ScopeMetrics) *metricdata.ScopeMetrics {
	if k := len(cur.ScopeMetrics); k > 0 && cur.ScopeMetrics[k-1].Scope == sm.Scope {
		return &cur.ScopeMetrics[k-1]
	}
	cur.ScopeMetrics = append(cur.ScopeMetrics, metricdata.ScopeMetrics{Scope: sm.Scope})
	return &cur.ScopeMetrics[len(cur.ScopeMetrics)-1]
}

// cutPoints returns the first up to limit data points of m as head, the rest
// as tail (nil when nothing is left), and the number of points in head.
func cutPoints(m metricdata.Metrics, limit int) (metricdata.Metrics, *metricdata.Metrics, int) {
	switch d := m.Data.(type) {
	case metricdata.Gauge[int64]:
		return cutGeneric(m, d.DataPoints, limit, func(p []metricdata.DataPoint[int64]) metricdata.Aggregation {
			return metricdata.Gauge[int64]{DataPoints: p}
		})
	case metricdata.Gauge[float64]:
		return cutGeneric(m, d.DataPoints, limit, func(p []metricdata.DataPoint[float64]) metricdata.Aggregation {
			return metricdata.Gauge[float64]{DataPoints: p}
		})
	case metricdata.Sum[int64]:
		return cutGeneric(m, d.DataPoints, limit, func(p []metricdata.DataPoint[int64]) metricdata.Aggregation {
			return metricdata.Sum[int64]{DataPoints: p, Temporality: d.Temporality, IsMonotonic: d.IsMonotonic}
		})
	case metricdata.Sum[float64]:
		return cutGeneric(m, d.DataPoints, limit, func(p []metricdata.DataPoint[float64]) metricdata.Aggregation {
			return metricdata.Sum[float64]{DataPoints: p, Temporality: d.Temporality, IsMonotonic: d.IsMonotonic}
		})
	case metricdata.Histogram[float64]:
		return cutGeneric(m, d.DataPoints, limit, func(p []metricdata.HistogramDataPoint[float64]) metricdata.Aggregation {
			return metricdata.Histogram[float64]{DataPoints: p, Temporality: d.Temporality}
		})
	case metricdata.ExponentialHistogram[float64]:
		return cutGeneric(m, d.DataPoints, limit, func(p []metricdata.ExponentialHistogramDataPoint[float64]) metricdata.Aggregation {
			return metricdata.ExponentialHistogram[float64]{DataPoints: p, Temporality: d.Temporality}
		})
	}
	// Unknown aggregation (not produced here): send it whole.
	return m, nil, 1
}

func cutGeneric[P any](m metricdata.Metrics, pts []P, limit int, wrap func([]P) metricdata.Aggregation) (metricdata.Metrics, *metricdata.Metrics, int) {
	if len(pts) <= limit {
		return m, nil, len(pts)
	}
	head, tail := m, m
	head.Data = wrap(pts[:limit:limit])
	tail.Data = wrap(pts[limit:])
	return head, &tail, limit
}
