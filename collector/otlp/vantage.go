package otlp

import (
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// vantageMetrics are the gap counters (always) and, with vantage health on,
// the state and outage count of every vantage scope (docs/vantage.md):
// icmp.group is empty for the exporter as a whole.
func vantageMetrics(s *probe.Snapshot, start, now time.Time,
	sum, igauge func(string, string, string, ipoints) metricdata.Metrics,
) []metricdata.Metrics {
	e := &s.Engine
	ms := []metricdata.Metrics{
		sum("icmp.engine.gaps", "{gap}", "Stalls of the prober (process stopped or starved, host suspended): gaps, not outages.",
			ipoints{{StartTime: start, Time: now, Value: int64(e.Gaps)}}),
	}
	gapSecs := metricdata.Metrics{Name: "icmp.engine.gap", Unit: "s", Description: "Total duration of the prober's stalls.",
		Data: metricdata.Sum[float64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true,
			DataPoints: fpoints{{StartTime: start, Time: now, Value: e.GapSeconds}}}}
	ms = append(ms, gapSecs)
	if len(s.Vantage) == 0 {
		return ms
	}
	up, outages := make(ipoints, 0, len(s.Vantage)), make(ipoints, 0, len(s.Vantage))
	for i := range s.Vantage {
		v := &s.Vantage[i]
		set := attribute.NewSet(AttrGroup.String(v.Group))
		var u int64
		if v.Up {
			u = 1
		}
		up = append(up, metricdata.DataPoint[int64]{Attributes: set, Time: now, Value: u})
		outages = append(outages, metricdata.DataPoint[int64]{Attributes: set, StartTime: start, Time: now, Value: int64(v.OutagesTotal)})
	}
	return append(ms,
		igauge("icmp.vantage.up", "", "Whether the vantage works (1) or is down (0); icmp.group is empty for the exporter as a whole.", up),
		sum("icmp.vantage.outages", "{outage}", "Vantage outages that started.", outages))
}
