package otlp

import (
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// Attribute keys of icmp.path.last_hop.info.
const (
	AttrPathHop    = attribute.Key("icmp.path.hop")
	AttrPathHopTTL = attribute.Key("icmp.path.hop_ttl")
)

// pathMetrics are the path snapshot and path MTU metrics (docs/path.md),
// the same series as /metrics: per target only for targets that take path
// snapshots or MTU searches, engine-wide only when any target does.
func (p *producer) pathMetrics(s *probe.Snapshot, start, now time.Time,
	sum, igauge func(string, string, string, ipoints) metricdata.Metrics,
) []metricdata.Metrics {
	var hops, changes, lastHop, mtu, mtuChanges ipoints
	some := false
	for i := range s.Targets {
		t := &s.Targets[i]
		if t.Spec == nil || !t.Spec.Path.Enabled && !t.Spec.Path.MTU.Enabled {
			continue
		}
		ps := t.Path
		if ps == nil {
			continue
		}
		some = true
		a := p.targetSet(t)
		if ps.HopCount > 0 {
			hops = append(hops, metricdata.DataPoint[int64]{Attributes: a.set, Time: now, Value: int64(ps.HopCount)})
		}
		if ps.Enabled {
			changes = append(changes, metricdata.DataPoint[int64]{Attributes: a.set, StartTime: start, Time: now, Value: int64(ps.Changes)})
		}
		if ps.HasDownHop {
			hop := ""
			if ps.DownHop.IsValid() {
				hop = ps.DownHop.String()
			}
			kvs := append(append(make([]attribute.KeyValue, 0, len(a.kvs)+2), a.kvs...),
				AttrPathHop.String(hop), AttrPathHopTTL.String(strconv.Itoa(ps.DownHopTTL)))
			lastHop = append(lastHop, metricdata.DataPoint[int64]{Attributes: attribute.NewSet(kvs...), Time: now, Value: 1})
		}
		if ps.MTU.MTU > 0 {
			mtu = append(mtu, metricdata.DataPoint[int64]{Attributes: a.set, Time: now, Value: int64(ps.MTU.MTU)})
		}
		if t.Spec.Path.MTU.Enabled {
			mtuChanges = append(mtuChanges, metricdata.DataPoint[int64]{Attributes: a.set, StartTime: start, Time: now, Value: int64(ps.MTU.Changes)})
		}
	}
	if !some {
		return nil
	}
	var ms []metricdata.Metrics
	if len(hops) > 0 {
		ms = append(ms, igauge("icmp.path.hops", "{hop}", "Hop count to the target in its baseline path snapshot.", hops))
	}
	if len(changes) > 0 {
		ms = append(ms, sum("icmp.path.changes", "{change}", "Path snapshots whose path differed from the one before.", changes))
	}
	if len(lastHop) > 0 {
		ms = append(ms, igauge("icmp.path.last_hop.info", "", "While the target is down: the farthest hop that answered its newest path snapshot; value 1.", lastHop))
	}
	if len(mtu) > 0 {
		ms = append(ms, igauge("icmp.path.mtu", "By", "Path MTU to the target found by the last path MTU search.", mtu))
	}
	if len(mtuChanges) > 0 {
		ms = append(ms, sum("icmp.path.mtu.changes", "{change}", "Path MTU searches whose result differed from the one before.", mtuChanges))
	}
	e := &s.Engine.Path
	one := func(v uint64) ipoints { return ipoints{{StartTime: start, Time: now, Value: int64(v)}} }
	return append(ms,
		sum("icmp.engine.path.probes.sent", "{probe}", "TTL-limited probes of path snapshots.", one(e.ProbesSent)),
		sum("icmp.engine.path.snapshots", "{snapshot}", "Path snapshots finished.", one(e.Snapshots)),
		igauge("icmp.engine.path.snapshots.pending", "{snapshot}", "Path snapshots waiting or running.", ipoints{{Time: now, Value: int64(e.Queued + e.Active)}}),
	)
}
