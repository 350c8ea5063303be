package collector

import (
	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/prometheus/client_golang/prometheus"
)

// Vantage health and gaps (probe/vantage.go): one series per scope for the
// vantage families, labelled source (the exporter's, like the per-target
// series, so alerts join on source and group) and group ("" for the
// exporter as a whole, which Prometheus stores without the label); the gap
// counters always.
var (
	famVantageUp        = family{-1, "icmp_vantage_up", "Whether this exporter's vantage works (1) or is down (0): the targets of the scope failed together, or its anchors failed. group is empty for the exporter as a whole.", gaugeT, []string{"source", "group"}}
	famVantageOutages   = family{-1, "icmp_vantage_outages_total", "Vantage outages that started.", counterT, []string{"source", "group"}}
	famVantageOutageDur = family{-1, "icmp_vantage_outage_duration_seconds", "Durations of completed vantage outages.", histT, []string{"source", "group"}}
	famVantageLastStart = family{-1, "icmp_vantage_last_outage_start_timestamp_seconds", "Unix time of the start of the last vantage outage.", gaugeT, []string{"source", "group"}}
	famVantageLastEnd   = family{-1, "icmp_vantage_last_outage_end_timestamp_seconds", "Unix time of the end of the last vantage outage; 0 while it is ongoing.", gaugeT, []string{"source", "group"}}
	famVantageLastDur   = family{-1, "icmp_vantage_last_outage_duration_seconds", "Duration of the last vantage outage; grows while it is ongoing.", gaugeT, []string{"source", "group"}}
	famGaps             = family{-1, "icmp_engine_gaps_total", "Stalls of the prober (the process stopped or starved, the host suspended): gaps, during which no target outage is opened or extended.", counterT, nil}
	famGapSeconds       = family{-1, "icmp_engine_gap_seconds_total", "Total duration of the prober's stalls (icmp_engine_gaps_total).", counterT, nil}
	// famVantageCaused is per target.
	famVantageCaused = family{idVantageCaused, "icmp_vantage_caused_outages_total", "Outages of the target that overlapped a vantage outage (caused by the exporter's side); they are counted in icmp_outages_total too.", counterT, nil}
)

func vantageFamilies() []*family {
	return []*family{&famVantageUp, &famVantageOutages, &famVantageOutageDur, &famVantageLastStart,
		&famVantageLastEnd, &famVantageLastDur, &famGaps, &famGapSeconds}
}

// vantageDescs are the descriptors of vantageFamilies, in their order.
type vantageDescs []*prometheus.Desc

func newVantageDescs() vantageDescs {
	var d vantageDescs
	for _, f := range vantageFamilies() {
		d = append(d, prometheus.NewDesc(f.name, f.help, f.labels, nil))
	}
	return d
}

// collectVantage sends the vantage and gap metrics of s.
func (c *Collector) collectVantage(ch chan<- prometheus.Metric, s *probe.Snapshot) {
	d := c.vant
	up, outages, dur, start, end, last, gaps, gapSecs := d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
	// Counters count from the engine start (their created timestamp).
	born := s.Engine.StartTime
	counter := func(d *prometheus.Desc, v float64, lv ...string) prometheus.Metric {
		if born.IsZero() {
			return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, lv...)
		}
		return prometheus.MustNewConstMetricWithCreatedTimestamp(d, prometheus.CounterValue, v, born, lv...)
	}
	ch <- counter(gaps, float64(s.Engine.Gaps))
	ch <- counter(gapSecs, s.Engine.GapSeconds)
	now, src := scrapeTime(s), s.Source.Name
	for i := range s.Vantage {
		v := &s.Vantage[i]
		ch <- prometheus.MustNewConstMetric(up, prometheus.GaugeValue, boolFloat(v.Up), src, v.Group)
		ch <- counter(outages, float64(v.OutagesTotal), src, v.Group)
		buckets := make(map[float64]uint64, len(probe.OutageBuckets))
		for j, b := range probe.OutageBuckets {
			buckets[b] = v.OutageDurations[j]
		}
		if born.IsZero() {
			ch <- prometheus.MustNewConstHistogram(dur, v.CompletedOutages(), v.OutageDurationSum, buckets, src, v.Group)
		} else {
			ch <- prometheus.MustNewConstHistogramWithCreatedTimestamp(dur, v.CompletedOutages(), v.OutageDurationSum, buckets, born, src, v.Group)
		}
		if v.OutagesTotal == 0 {
			continue
		}
		ch <- prometheus.MustNewConstMetric(start, prometheus.GaugeValue, unixSeconds(v.Last.Start), src, v.Group)
		ch <- prometheus.MustNewConstMetric(end, prometheus.GaugeValue, unixSeconds(v.Last.End), src, v.Group)
		ch <- prometheus.MustNewConstMetric(last, prometheus.GaugeValue, max(v.Last.Duration(now), 0).Seconds(), src, v.Group)
	}
}

// vantageCaused is the value of icmp_vantage_caused_outages_total for t,
// and whether t has it: with vantage health on and outages exported.
func vantageCaused(s *probe.Snapshot, t *probe.TargetSnapshot) (float64, bool) {
	return float64(t.OutageRecord().Vantage), len(s.Vantage) > 0 && t.Exports(probe.ExportOutages)
}
