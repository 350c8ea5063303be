package collector

import (
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	dto "github.com/prometheus/client_model/go"
)

// This file chooses the series of the per-target families, once for every
// exposition path: Collect (registryEncoder), the text encoder and the
// protobuf encoder all receive the same series from emitFamilies. Which
// series a target has is decided by the methods of probe.TargetSnapshot,
// which the OTLP producer uses too.

// labels are the labels of one series: the cached labels of target entry
// e, or pairs when not nil (icmp_errors_total: e's labels plus type; a
// group histogram: the group's labels, with e its first target).
type labels struct {
	e     *targetEntry
	pairs []*dto.LabelPair
	group bool // a group's histogram (descriptor descSet.group)
}

// histData is one histogram to encode. Classic buckets are present when
// bounds is not empty (cum[i] is the cumulative count of bounds[i]); native
// fields when native is set (buckets[i] counts index offset+i). fixedBounds
// is true when bounds never change after the scrape (Collect may then keep
// them without a copy).
type histData struct {
	created     time.Time // when the series started counting; zero: not exposed
	count       uint64
	sum         float64
	bounds      []float64
	cum         []uint64
	fixedBounds bool
	native      bool
	schema      int32 // of the native buckets
	zero        uint64
	offset      int32
	buckets     []uint64
}

// seriesEncoder encodes the series of the current family.
// created is the series' created timestamp (the start of a counter), zero
// for gauges and for series without one.
type seriesEncoder interface {
	scalar(l labels, v float64, created time.Time)
	hist(l labels, h histData)
}

// familyEncoder writes one family: emit calls the seriesEncoder once per
// series (possibly more than once in all, for protobuf's size pass). A
// family without series is not written.
type familyEncoder interface {
	family(f *family, emit func(seriesEncoder))
}

// emitFamilies writes the per-target families of s (after prepare) with fe,
// in targetFamilies order, those whose name include accepts (nil: all).
func (c *Collector) emitFamilies(fe familyEncoder, s *probe.Snapshot, include func(name string) bool) {
	now := scrapeTime(s)
	for _, f := range targetFamilies {
		if include == nil || include(f.name) {
			fe.family(f, func(x seriesEncoder) { c.emit(x, f, s, now) })
		}
	}
}

// emit sends the series of family f from snapshot s.
func (c *Collector) emit(x seriesEncoder, f *family, s *probe.Snapshot, now time.Time) {
	switch f {
	case &famErrors:
		for _, i := range c.emitOrder {
			t, e := &s.Targets[i], c.ents[i]
			for et := range probe.NumErrorTypes {
				if t.HasError(et) {
					x.scalar(labels{e: e, pairs: c.errorPairs(e, et)}, float64(t.ErrorCounts().ByType[et]), t.Created)
				}
			}
		}
	case &famRTT, &famIPDV, &famLossRuns:
		c.hidx = c.hidx[:0]
		for _, i := range c.emitOrder {
			if rx, ok := s.Targets[i].RTTExport(); ok && !rx.Group {
				c.hidx = append(c.hidx, i)
			}
		}
		if r, ok := x.(interface{ replaying() bool }); ok && r.replaying() {
			// The encoder kept these histograms in its size pass: the
			// same series in the same order, without reading them again.
			for _, i := range c.hidx {
				x.hist(labels{e: c.ents[i]}, histData{})
			}
		} else {
			c.eachHist(s, f, c.hidx, func(i int, h *probe.Histogram) {
				t := &s.Targets[i]
				rx, _ := t.RTTExport()
				d := rttData(h, rx)
				d.schema = schemaOf(f)
				d.created = t.Created
				if f == &famLossRuns && rx.Classic {
					n := min(len(d.cum), len(c.lossRunBounds))
					d.bounds, d.cum, d.fixedBounds = c.lossRunBounds[:n], d.cum[:n], true
				}
				x.hist(labels{e: c.ents[i]}, d)
			})
		}
		// A group's sum has no created timestamp: its members come and go
		// with reloads, each with its own.
		for _, g := range c.groupSeq {
			if g.f == f {
				x.hist(labels{e: g.first, pairs: g.labelPairs(), group: true}, g.data())
			}
		}
	case &famVantageCaused:
		for _, i := range c.emitOrder {
			if v, ok := vantageCaused(s, &s.Targets[i]); ok {
				x.scalar(labels{e: c.ents[i]}, v, s.Targets[i].Created)
			}
		}
	case &famPathLastHop:
		for _, i := range c.emitOrder {
			t, e := &s.Targets[i], c.ents[i]
			if t.Path != nil && t.Path.HasDownHop {
				x.scalar(labels{e: e, pairs: e.hopPairs(t.Path.DownHop, t.Path.DownHopTTL)}, 1, time.Time{})
			}
		}
	case &famOutageDur:
		for _, i := range c.emitOrder {
			t := &s.Targets[i]
			if t.HasOutageDurations() {
				x.hist(labels{e: c.ents[i]}, histData{created: t.Created, count: t.CompletedOutages(), sum: t.OutageRecord().DurationSum,
					bounds: c.outageBounds, cum: t.OutageRecord().Durations[:], fixedBounds: true})
			}
		}
	default:
		for _, i := range c.emitOrder {
			t := &s.Targets[i]
			if v, ok := scalarValue(f, t, now); ok {
				var created time.Time
				if f.typ == counterT {
					created = t.Created
				}
				x.scalar(labels{e: c.ents[i]}, v, created)
			}
		}
	}
}

// rttData is the RTT histogram (or another of histFamilies, whose caller
// sets the schema) of one target exported as rx says.
func rttData(h *probe.Histogram, rx probe.RTTExport) histData {
	d := histData{count: h.Count, sum: h.Sum, schema: probe.NativeSchema}
	if rx.Classic {
		d.bounds, d.cum = h.ClassicBuckets()
	}
	if rx.Native {
		d.native, d.zero, d.offset, d.buckets = true, h.ZeroCount, h.Offset, h.Buckets
	}
	return d
}

// scalarValue is the value of the counter or gauge family f for target t,
// and whether t has that series.
func scalarValue(f *family, t *probe.TargetSnapshot, now time.Time) (float64, bool) {
	switch f {
	case &famUp:
		return boolFloat(t.Up), t.Exports(probe.ExportUp)
	case &famStateChange:
		return unixSeconds(t.StateChange), t.Exports(probe.ExportUp)
	case &famSent:
		return float64(t.Sent), t.Exports(probe.ExportCounters)
	case &famReplies:
		return float64(t.Replies), t.Exports(probe.ExportCounters)
	case &famLost:
		return float64(t.Lost), t.Exports(probe.ExportCounters)
	case &famLate:
		return float64(t.Late), t.Exports(probe.ExportCounters)
	case &famDup:
		return float64(t.Duplicates), t.Exports(probe.ExportCounters)
	case &famSkipped:
		return float64(t.Skipped), t.Exports(probe.ExportCounters)
	case &famDNS:
		return float64(t.ErrorCounts().DNS), t.HasDNSErrors()
	case &famTTL:
		return float64(t.LastTTL), t.HasTTL()
	case &famOutages:
		return float64(t.OutageRecord().Total), t.Exports(probe.ExportOutages)
	case &famResolution:
		return t.OutageResolution().Seconds(), t.Exports(probe.ExportOutages)
	case &famJitter:
		return t.Jitter, t.Exports(probe.ExportRTT)
	case &famReordered:
		return float64(t.Reordered), t.Exports(probe.ExportCounters)
	case &famPathHops, &famPathChanges, &famPathMTU, &famPathMTUChanges:
		return pathValue(f, t)
	}
	o, ok := t.LastOutage()
	if !ok {
		return 0, false
	}
	switch f {
	case &famLastStart:
		return unixSeconds(o.Start), true
	case &famLastEnd:
		// End is the zero time (0) while the outage is ongoing.
		return unixSeconds(o.End), true
	case &famLastDur:
		return max(o.Duration(now), 0).Seconds(), true
	}
	panic("collector: no scalar value for family " + f.name)
}

// pathValue is the value of the path family f for t; no series without a
// path summary.
func pathValue(f *family, t *probe.TargetSnapshot) (float64, bool) {
	p := t.Path
	if p == nil {
		return 0, false
	}
	switch f {
	case &famPathHops:
		return float64(p.HopCount), p.HopCount > 0
	case &famPathChanges:
		return float64(p.Changes), p.Enabled
	case &famPathMTU:
		return float64(p.MTU.MTU), p.MTU.MTU > 0
	default: // famPathMTUChanges
		return float64(p.MTU.Changes), t.Spec.Path.MTU.Enabled
	}
}
