package otlp

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// Attribute keys of data points. server.address and network.peer.address
// are the closest stable OpenTelemetry semantic conventions (there is none
// for ICMP yet); user labels are attributes under their own names.
const (
	AttrServerAddress   = attribute.Key("server.address")       // target as written in the config
	AttrPeerAddress     = attribute.Key("network.peer.address") // address probed; absent while unresolved
	AttrGroup           = attribute.Key("icmp.group")
	AttrErrorType       = attribute.Key("error.type")
	AttrTimestampSource = attribute.Key("icmp.timestamp_source")
	AttrDatapath        = attribute.Key("icmp.datapath")
)

// ScopeName is the instrumentation scope of every metric the Pusher sends.
const ScopeName = "github.com/icmp-exporter/icmp_exporter/collector/otlp"

// producer turns engine snapshots into OTel metric data: one state, two
// views. It is an sdkmetric.Producer and safe for concurrent use; the
// snapshot buffer and the attribute cache are guarded by mu.
type producer struct {
	src   SnapshotSource
	scope instrumentation.Scope
	mu    sync.Mutex
	snap  *probe.Snapshot
	attrs map[*probe.TargetSpec]*targetAttrs
	gen   uint64
}

var _ sdkmetric.Producer = (*producer)(nil)

// targetAttrs caches the attribute set of a target between Produce calls:
// building sets (sorting, allocating) for 10k targets every interval is
// avoidable work. Entries of targets that left the snapshot are dropped.
type targetAttrs struct {
	ip  netip.Addr
	gen uint64
	kvs []attribute.KeyValue
	set attribute.Set
}

func newProducer(src SnapshotSource, version string) *producer {
	return &producer{
		src:   src,
		scope: instrumentation.Scope{Name: ScopeName, Version: version},
		attrs: make(map[*probe.TargetSpec]*targetAttrs),
	}
}

// Produce takes a snapshot from the source and converts it. The returned
// data shares nothing with the snapshot buffer, so it stays valid after the
// next Produce.
func (p *producer) Produce(ctx context.Context) ([]metricdata.ScopeMetrics, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.snap = p.src.Snapshot(p.snap)
	if p.snap == nil {
		return nil, errors.New("snapshot source returned no snapshot")
	}
	p.gen++
	ms := p.convert(p.snap)
	for ptr, a := range p.attrs {
		if a.gen != p.gen {
			delete(p.attrs, ptr)
		}
	}
	return []metricdata.ScopeMetrics{{Scope: p.scope, Metrics: ms}}, nil
}

// targetSet returns the cached attribute set of t.
func (p *producer) targetSet(t *probe.TargetSnapshot) *targetAttrs {
	a := p.attrs[t.Spec]
	if a == nil || a.ip != t.IP {
		kvs := make([]attribute.KeyValue, 0, 3+len(t.Spec.Labels))
		kvs = append(kvs, AttrServerAddress.String(t.Spec.Name), AttrGroup.String(t.Spec.Group))
		if t.IP.IsValid() {
			kvs = append(kvs, AttrPeerAddress.String(t.IP.Unmap().String()))
		}
		for _, l := range t.Spec.Labels {
			kvs = append(kvs, attribute.String(l.Name, l.Value))
		}
		a = &targetAttrs{ip: t.IP, kvs: kvs, set: attribute.NewSet(kvs...)}
		p.attrs[t.Spec] = a
	}
	a.gen = p.gen
	return a
}

func withAttr(base []attribute.KeyValue, kv attribute.KeyValue) attribute.Set {
	kvs := make([]attribute.KeyValue, 0, len(base)+1)
	kvs = append(append(kvs, base...), kv)
	return attribute.NewSet(kvs...)
}

// groupAgg accumulates the RTT histogram of a group with aggregation "group".
type groupAgg struct {
	set     attribute.Set
	rx      probe.RTTExport
	count   uint64
	sum     float64
	zero    uint64
	offset  int32
	buckets []uint64
	classic []uint64 // cumulative
	bounds  []float64
}

func (g *groupAgg) add(h *probe.Histogram) {
	g.count += h.Count
	g.sum += h.Sum
	g.zero += h.ZeroCount
	g.offset, g.buckets = mergeBuckets(g.offset, g.buckets, h.Offset, h.Buckets)
	if len(h.Classic) > 0 {
		if g.classic == nil {
			g.classic = make([]uint64, len(h.Classic))
			g.bounds = h.Bounds
		}
		if len(h.Classic) == len(g.classic) {
			for i, c := range h.Classic {
				g.classic[i] += c
			}
		}
	}
}

// mergeBuckets adds the sparse buckets b (first index off) into acc (first
// index accOff), growing acc as needed.
func mergeBuckets(accOff int32, acc []uint64, off int32, b []uint64) (int32, []uint64) {
	if len(b) == 0 {
		return accOff, acc
	}
	if len(acc) == 0 {
		return off, append([]uint64(nil), b...)
	}
	lo := min(accOff, off)
	hi := max(accOff+int32(len(acc)), off+int32(len(b)))
	if lo < accOff || hi > accOff+int32(len(acc)) {
		grown := make([]uint64, hi-lo)
		copy(grown[accOff-lo:], acc)
		acc, accOff = grown, lo
	}
	for i, c := range b {
		acc[off-accOff+int32(i)] += c
	}
	return accOff, acc
}

// expBuckets converts Prometheus native buckets (index i covers
// (base^(i-1), base^i]) to an OTel exponential bucket (index i covers
// (base^i, base^(i+1)]): the OTel offset is the native offset minus one.
// Leading and trailing empty buckets are trimmed; counts are copied.
func expBuckets(off int32, b []uint64) metricdata.ExponentialBucket {
	lo, hi := 0, len(b)
	for lo < hi && b[lo] == 0 {
		lo++
	}
	for hi > lo && b[hi-1] == 0 {
		hi--
	}
	if lo == hi {
		return metricdata.ExponentialBucket{}
	}
	return metricdata.ExponentialBucket{Offset: off + int32(lo) - 1, Counts: append([]uint64(nil), b[lo:hi]...)}
}

func expPoint(set attribute.Set, start, now time.Time, scale int32, count uint64, sum float64, zero uint64, off int32, b []uint64) metricdata.ExponentialHistogramDataPoint[float64] {
	return metricdata.ExponentialHistogramDataPoint[float64]{
		Attributes: set, StartTime: start, Time: now,
		Count: count, Sum: sum, Scale: scale,
		ZeroCount: zero, ZeroThreshold: probe.NativeZeroThreshold,
		PositiveBucket: expBuckets(off, b),
	}
}

// classicPoint converts cumulative classic counts to OTel's per-bucket
// counts (len(bounds)+1, the last one for +Inf).
func classicPoint(set attribute.Set, start, now time.Time, count uint64, sum float64, cum []uint64, bounds []float64) metricdata.HistogramDataPoint[float64] {
	n := min(len(cum), len(bounds))
	counts := make([]uint64, n+1)
	var prev uint64
	for i := 0; i < n; i++ {
		counts[i] = cum[i] - prev
		prev = cum[i]
	}
	if count >= prev {
		counts[n] = count - prev
	}
	return metricdata.HistogramDataPoint[float64]{
		Attributes: set, StartTime: start, Time: now,
		Count: count, Sum: sum, Bounds: append([]float64(nil), bounds[:n]...), BucketCounts: counts,
	}
}

type ipoints = []metricdata.DataPoint[int64]
type fpoints = []metricdata.DataPoint[float64]

// unixSeconds is t as Unix seconds; 0 for the zero time.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// targetStart is the start time of target t's cumulative points: when it
// started to be probed (the engine start, or the reload that added it),
// engineStart for a snapshot that does not say.
func targetStart(t *probe.TargetSnapshot, engineStart, now time.Time) time.Time {
	if c := t.Created; !c.IsZero() && !c.After(now) {
		return c
	}
	return engineStart
}

// convert builds the metrics of one snapshot. Called with p.mu held.
func (p *producer) convert(s *probe.Snapshot) []metricdata.Metrics {
	now := s.Time
	if now.IsZero() {
		now = time.Now()
	}
	start := s.Engine.StartTime
	if start.IsZero() || start.After(now) {
		start = now
	}
	n := len(s.Targets)
	var (
		up, sent, replies, lost, late, dups, skipped, errs, dnsErrs, ttl, outages = make(ipoints, 0, n), make(ipoints, 0, n),
			make(ipoints, 0, n), make(ipoints, 0, n), make(ipoints, 0, n), make(ipoints, 0, n), make(ipoints, 0, n),
			ipoints(nil), ipoints(nil), make(ipoints, 0, n), make(ipoints, 0, n)
		resolution, stateChange = make(fpoints, 0, n), make(fpoints, 0, n)

		lastStart, lastEnd, lastDur fpoints
		jitter, reordered           = make(fpoints, 0, n), make(ipoints, 0, n)
		rtt                         = histPoints{scale: probe.NativeSchema}
		ipdv                        = histPoints{scale: probe.IPDVSchema}
		lossRuns                    = histPoints{scale: probe.NativeSchema}
		outageDur                   []metricdata.HistogramDataPoint[float64]
	)
	var tstart time.Time // start time of the current target's cumulative points
	ipt := func(set attribute.Set, v uint64) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Attributes: set, StartTime: tstart, Time: now, Value: int64(v)}
	}
	fpt := func(set attribute.Set, v float64) metricdata.DataPoint[float64] {
		return metricdata.DataPoint[float64]{Attributes: set, Time: now, Value: v}
	}
	for i := range s.Targets {
		t := &s.Targets[i]
		if t.Spec == nil {
			continue
		}
		a := p.targetSet(t)
		set := a.set
		tstart = targetStart(t, start, now)
		var upv uint64
		if t.Up {
			upv = 1
		}
		if t.Exports(probe.ExportUp) {
			up = append(up, metricdata.DataPoint[int64]{Attributes: set, Time: now, Value: int64(upv)})
			stateChange = append(stateChange, fpt(set, unixSeconds(t.StateChange)))
		}
		if t.Exports(probe.ExportCounters) {
			sent = append(sent, ipt(set, t.Sent))
			replies = append(replies, ipt(set, t.Replies))
			lost = append(lost, ipt(set, t.Lost))
			late = append(late, ipt(set, t.Late))
			dups = append(dups, ipt(set, t.Duplicates))
			skipped = append(skipped, ipt(set, t.Skipped))
			reordered = append(reordered, ipt(set, t.Reordered))
		}
		if t.Exports(probe.ExportRTT) {
			jitter = append(jitter, fpt(set, t.Jitter))
		}
		for et := range probe.NumErrorTypes {
			if t.HasError(et) {
				errs = append(errs, ipt(withAttr(a.kvs, AttrErrorType.String(probe.ErrorTypeNames[et])), t.ErrorCounts().ByType[et]))
			}
		}
		if t.HasDNSErrors() {
			dnsErrs = append(dnsErrs, ipt(set, t.ErrorCounts().DNS))
		}
		if t.HasTTL() {
			ttl = append(ttl, metricdata.DataPoint[int64]{Attributes: set, Time: now, Value: int64(t.LastTTL)})
		}
		if t.Exports(probe.ExportOutages) {
			outages = append(outages, ipt(set, t.OutageRecord().Total))
			resolution = append(resolution, fpt(set, t.OutageResolution().Seconds()))
		}
		if last, ok := t.LastOutage(); ok {
			// End is the zero time (0) while the outage is ongoing.
			lastStart = append(lastStart, fpt(set, unixSeconds(last.Start)))
			lastEnd = append(lastEnd, fpt(set, unixSeconds(last.End)))
			lastDur = append(lastDur, fpt(set, max(last.Duration(now), 0).Seconds()))
		}
		if t.HasOutageDurations() {
			outageDur = append(outageDur, classicPoint(set, tstart, now, t.CompletedOutages(), t.OutageRecord().DurationSum, t.OutageRecord().Durations[:], probe.OutageBuckets[:]))
		}
		if rx, ok := t.RTTExport(); ok {
			// A target's own points start at its start; group sums at the
			// engine start (histPoints.metrics).
			rtt.add(t, set, t.Hist(probe.HistRTT), rx, tstart, now)
			ipdv.add(t, set, t.Hist(probe.HistIPDV), rx, tstart, now)
			lossRuns.add(t, set, t.Hist(probe.HistLossRuns), rx, tstart, now)
		}
	}

	sum := func(name, unit, desc string, pts ipoints) metricdata.Metrics {
		return metricdata.Metrics{Name: name, Unit: unit, Description: desc, Data: metricdata.Sum[int64]{
			DataPoints: pts, Temporality: metricdata.CumulativeTemporality, IsMonotonic: true}}
	}
	igauge := func(name, unit, desc string, pts ipoints) metricdata.Metrics {
		return metricdata.Metrics{Name: name, Unit: unit, Description: desc, Data: metricdata.Gauge[int64]{DataPoints: pts}}
	}
	fgauge := func(name, unit, desc string, pts fpoints) metricdata.Metrics {
		return metricdata.Metrics{Name: name, Unit: unit, Description: desc, Data: metricdata.Gauge[float64]{DataPoints: pts}}
	}

	var ms []metricdata.Metrics
	if len(up) > 0 {
		ms = append(ms, igauge("icmp.up", "", "Whether the target is up (1) or down (0), from the up/down state machine.", up))
	}
	if len(sent) > 0 {
		ms = append(ms,
			sum("icmp.probes.sent", "{probe}", "Echo requests sent.", sent),
			sum("icmp.replies", "{reply}", "Echo replies received within the timeout.", replies),
			sum("icmp.probes.lost", "{probe}", "Probes without a reply within the timeout.", lost),
			sum("icmp.replies.late", "{reply}", "Valid echo replies received after the timeout.", late),
			sum("icmp.replies.duplicate", "{reply}", "Replies to probes already answered.", dups),
			sum("icmp.probes.skipped", "{probe}", "Probes not sent because the engine could not keep the schedule; never counted as lost.", skipped),
		)
	}
	if len(errs) > 0 {
		ms = append(ms, sum("icmp.errors", "{error}", "ICMP errors quoting a probe, and local send failures, by error.type.", errs))
	}
	if len(dnsErrs) > 0 {
		ms = append(ms, sum("icmp.dns.errors", "{error}", "Failed resolutions of the target's host name.", dnsErrs))
	}
	ms = rtt.metrics(ms, "icmp.rtt", "s", "Round-trip time of echo replies.", start, now)
	ms = ipdv.metrics(ms, "icmp.ipdv", "s", "Magnitude of the IP delay variation (RFC 3393, RFC 5481) of the replies to two consecutive probes.", start, now)
	ms = lossRuns.metrics(ms, "icmp.loss_run.length", "{probe}", "Lengths in probes of completed runs of consecutive lost probes.", start, now)
	if len(jitter) > 0 {
		ms = append(ms, fgauge("icmp.jitter", "s", "RFC 3550 smoothed jitter of the round-trip times, in order of arrival.", jitter))
	}
	if len(reordered) > 0 {
		ms = append(ms, sum("icmp.reordered_replies", "{reply}", "Echo replies that arrived after the reply to a probe sent later.", reordered))
	}
	if len(ttl) > 0 {
		ms = append(ms, igauge("icmp.reply.ttl", "{hop}", "IP TTL / hop limit of the last reply.", ttl))
	}
	if len(outages) > 0 {
		ms = append(ms, sum("icmp.outages", "{outage}", "Outages started (the target went down).", outages))
	}
	if len(outageDur) > 0 {
		ms = append(ms, metricdata.Metrics{Name: "icmp.outage.duration", Unit: "s", Description: "Durations of completed outages.",
			Data: metricdata.Histogram[float64]{DataPoints: outageDur, Temporality: metricdata.CumulativeTemporality}})
	}
	if len(lastStart) > 0 {
		ms = append(ms,
			fgauge("icmp.last_outage.start_timestamp", "s", "Unix time of the start of the last outage.", lastStart),
			fgauge("icmp.last_outage.end_timestamp", "s", "Unix time of the end of the last outage; 0 while it is ongoing.", lastEnd),
			fgauge("icmp.last_outage.duration", "s", "Duration of the last outage; grows while it is ongoing.", lastDur),
		)
	}
	if len(resolution) > 0 {
		ms = append(ms, fgauge("icmp.outage.resolution", "s", "Bound on the error of outage start and end times: the gap between the sends around each edge of the last outage (the probing interval, more when probes were skipped).", resolution))
	}
	if len(stateChange) > 0 {
		ms = append(ms, fgauge("icmp.state_change.timestamp", "s", "Unix time of the last up/down change.", stateChange))
	}
	ms = append(ms, p.engineMetrics(s, start, now, sum, igauge, fgauge)...)
	ms = append(ms, vantageMetrics(s, start, now, sum, igauge)...)
	ms = append(ms, p.pathMetrics(s, start, now, sum, igauge)...)
	return ms
}

func (p *producer) engineMetrics(s *probe.Snapshot, start, now time.Time,
	sum, igauge func(string, string, string, ipoints) metricdata.Metrics,
	fgauge func(string, string, string, fpoints) metricdata.Metrics,
) []metricdata.Metrics {
	e := &s.Engine
	one := func(v uint64) ipoints {
		return ipoints{{StartTime: start, Time: now, Value: int64(v)}}
	}
	byTS := make(ipoints, 0, probe.NumTimestampSources)
	for i, c := range e.RepliesByTimestamp {
		byTS = append(byTS, metricdata.DataPoint[int64]{
			Attributes: attribute.NewSet(AttrTimestampSource.String(probe.TimestampSourceNames[i])),
			StartTime:  start, Time: now, Value: int64(c)})
	}
	info := ipoints{{Attributes: attribute.NewSet(AttrDatapath.String(e.Datapath), AttrTimestampSource.String(e.TimestampSource)),
		Time: now, Value: 1}}
	return []metricdata.Metrics{
		igauge("icmp.engine.info", "", "Datapath and best timestamp source of the engine; value 1.", info),
		sum("icmp.engine.packets.sent", "{packet}", "Packets the datapath sent.", one(e.PacketsSent)),
		sum("icmp.engine.packets.received", "{packet}", "Packets the datapath delivered.", one(e.PacketsReceived)),
		sum("icmp.engine.foreign_replies", "{reply}", "Echo replies whose tag did not verify (not ours, or spoofed).", one(e.Foreign)),
		sum("icmp.engine.invalid_packets", "{packet}", "Truncated or malformed packets.", one(e.Invalid)),
		sum("icmp.engine.send_errors", "{error}", "Failed sends.", one(e.SendErrors)),
		sum("icmp.engine.kernel_drops", "{packet}", "Packets the kernel dropped before the engine read them.", one(e.KernelDrops)),
		sum("icmp.engine.probes.skipped", "{probe}", "Probes not sent on time (overload), all targets.", one(e.Skipped)),
		sum("icmp.engine.replies", "{reply}", "Replies by the timestamp source of their RTT.", byTS),
		sum("icmp.engine.clock_step_replies", "{reply}", "Replies whose kernel timestamps disagreed with the monotonic clock (a wall-clock step); timed by the monotonic clock.", one(e.ClockSteps)),
		fgauge("icmp.engine.schedule_lag", "s", "Maximum lateness of a send batch since the previous snapshot.",
			fpoints{{Time: now, Value: e.MaxScheduleLag.Seconds()}}),
		igauge("icmp.engine.targets", "{target}", "Targets configured.", ipoints{{Time: now, Value: int64(e.Targets)}}),
	}
}

// dataPoints counts the data points of one aggregation.
func dataPoints(a metricdata.Aggregation) int {
	switch d := a.(type) {
	case metricdata.Gauge[int64]:
		return len(d.DataPoints)
	case metricdata.Gauge[float64]:
		return len(d.DataPoints)
	case metricdata.Sum[int64]:
		return len(d.DataPoints)
	case metricdata.Sum[float64]:
		return len(d.DataPoints)
	case metricdata.Histogram[float64]:
		return len(d.DataPoints)
	case metricdata.ExponentialHistogram[float64]:
		return len(d.DataPoints)
	}
	return 0
}
