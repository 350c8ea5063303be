package discovery

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metricDescs struct {
	targets, dropped, invalid, lastSuccess, failures *prometheus.Desc
}

func newMetricDescs() metricDescs {
	l := []string{"group", "sd_config"}
	return metricDescs{
		targets: prometheus.NewDesc("icmp_discovery_targets",
			"Targets a discovery source gives after relabelling (valid ones, before sharding).", l, nil),
		dropped: prometheus.NewDesc("icmp_discovery_targets_dropped",
			"Targets of a discovery source that relabel_configs dropped.", l, nil),
		invalid: prometheus.NewDesc("icmp_discovery_targets_invalid",
			"Targets of a discovery source that are not probed because they are invalid (address, labels or override labels); each is logged once.", l, nil),
		lastSuccess: prometheus.NewDesc("icmp_discovery_last_refresh_success_timestamp_seconds",
			"Unix time of the last refresh of a discovery source that read everything.", l, nil),
		failures: prometheus.NewDesc("icmp_discovery_refresh_failures_total",
			"Failed refreshes of a discovery source (a broken file counts once); the last good targets stay.", l, nil),
	}
}

// Describe implements prometheus.Collector.
func (m *Manager) Describe(ch chan<- *prometheus.Desc) {
	d := &m.descs
	ch <- d.targets
	ch <- d.dropped
	ch <- d.invalid
	ch <- d.lastSuccess
	ch <- d.failures
}

// Collect implements prometheus.Collector: one series of each family per
// discovery source.
func (m *Manager) Collect(ch chan<- prometheus.Metric) {
	d := &m.descs
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.sources {
		ch <- prometheus.MustNewConstMetric(d.targets, prometheus.GaugeValue, float64(len(s.targets)), s.group, s.name)
		ch <- prometheus.MustNewConstMetric(d.dropped, prometheus.GaugeValue, float64(s.dropped), s.group, s.name)
		ch <- prometheus.MustNewConstMetric(d.invalid, prometheus.GaugeValue, float64(s.invalid), s.group, s.name)
		ts := 0.0
		if !s.lastSuccess.IsZero() {
			ts = float64(s.lastSuccess.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(d.lastSuccess, prometheus.GaugeValue, ts, s.group, s.name)
		ch <- prometheus.MustNewConstMetric(d.failures, prometheus.CounterValue, float64(s.failures), s.group, s.name)
	}
	if !m.probe.Enabled {
		return
	}
	perGroup := map[string]int{}
	for _, e := range m.enrolled {
		if e.err == nil {
			perGroup[e.group]++
		}
	}
	for g, n := range perGroup {
		ch <- prometheus.MustNewConstMetric(d.targets, prometheus.GaugeValue, float64(n), g, probeEndpointSource)
	}
}

// probeEndpointSource is the sd_config label of targets enrolled through /probe.
const probeEndpointSource = "probe_endpoint"
