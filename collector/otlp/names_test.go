package otlp

import (
	"testing"

	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestPrometheusTranslation runs every pushed metric name through
// Prometheus' own OTLP translator (the default UnderscoreEscapingWithSuffixes
// strategy) and checks the names docs/otlp.md promises: equal to the
// /metrics names except the three listed there.
func TestPrometheusTranslation(t *testing.T) {
	want := map[string]string{
		"icmp.up":                          "icmp_up",
		"icmp.probes.sent":                 "icmp_probes_sent_total",
		"icmp.replies":                     "icmp_replies_total",
		"icmp.probes.lost":                 "icmp_probes_lost_total",
		"icmp.replies.late":                "icmp_replies_late_total",      // /metrics: icmp_late_replies_total
		"icmp.replies.duplicate":           "icmp_replies_duplicate_total", // /metrics: icmp_duplicate_replies_total
		"icmp.probes.skipped":              "icmp_probes_skipped_total",
		"icmp.errors":                      "icmp_errors_total",
		"icmp.dns.errors":                  "icmp_dns_errors_total",
		"icmp.rtt":                         "icmp_rtt_seconds",
		"icmp.reply.ttl":                   "icmp_reply_ttl",
		"icmp.outages":                     "icmp_outages_total",
		"icmp.outage.duration":             "icmp_outage_duration_seconds",
		"icmp.last_outage.start_timestamp": "icmp_last_outage_start_timestamp_seconds",
		"icmp.last_outage.end_timestamp":   "icmp_last_outage_end_timestamp_seconds",
		"icmp.last_outage.duration":        "icmp_last_outage_duration_seconds",
		"icmp.outage.resolution":           "icmp_outage_resolution_seconds",
		"icmp.state_change.timestamp":      "icmp_state_change_timestamp_seconds",
		"icmp.engine.info":                 "icmp_engine_info",
		"icmp.engine.packets.sent":         "icmp_engine_packets_sent_total",
		"icmp.engine.packets.received":     "icmp_engine_packets_received_total",
		"icmp.engine.foreign_replies":      "icmp_engine_foreign_replies_total",
		"icmp.engine.invalid_packets":      "icmp_engine_invalid_packets_total",
		"icmp.engine.send_errors":          "icmp_engine_send_errors_total",
		"icmp.engine.kernel_drops":         "icmp_engine_kernel_drops_total",
		"icmp.engine.probes.skipped":       "icmp_engine_probes_skipped_total",
		"icmp.engine.replies":              "icmp_engine_replies_total",
		"icmp.engine.clock_step_replies":   "icmp_engine_clock_step_replies_total",
		"icmp.engine.schedule_lag":         "icmp_engine_schedule_lag_seconds",
		"icmp.engine.targets":              "icmp_engine_targets",
		"icmp.engine.gaps":                 "icmp_engine_gaps_total",
		"icmp.engine.gap":                  "icmp_engine_gap_seconds_total",
		"icmp.vantage.up":                  "icmp_vantage_up",
		"icmp.vantage.outages":             "icmp_vantage_outages_total",
		"icmp.ipdv":                        "icmp_ipdv_seconds",
		"icmp.loss_run.length":             "icmp_loss_run_length",
		"icmp.jitter":                      "icmp_jitter_seconds",
		"icmp.reordered_replies":           "icmp_reordered_replies_total",
	}
	namer := otlptranslator.NewMetricNamer("", otlptranslator.UnderscoreEscapingWithSuffixes)
	ms := produce(t, newFakeSource(3))
	for name, list := range ms {
		m := list[0]
		var typ otlptranslator.MetricType
		switch d := m.Data.(type) {
		case metricdata.Gauge[int64], metricdata.Gauge[float64]:
			typ = otlptranslator.MetricTypeGauge
		case metricdata.Sum[int64]:
			typ = otlptranslator.MetricTypeNonMonotonicCounter
			if d.IsMonotonic {
				typ = otlptranslator.MetricTypeMonotonicCounter
			}
		case metricdata.Sum[float64]:
			typ = otlptranslator.MetricTypeNonMonotonicCounter
			if d.IsMonotonic {
				typ = otlptranslator.MetricTypeMonotonicCounter
			}
		case metricdata.Histogram[float64]:
			typ = otlptranslator.MetricTypeHistogram
		case metricdata.ExponentialHistogram[float64]:
			typ = otlptranslator.MetricTypeExponentialHistogram
		default:
			t.Fatalf("%s: unexpected data %T", name, m.Data)
		}
		got, err := namer.Build(otlptranslator.Metric{Name: m.Name, Unit: m.Unit, Type: typ})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != want[name] {
			t.Errorf("%s (unit %q) becomes %q in Prometheus, want %q", name, m.Unit, got, want[name])
		}
	}
	if len(ms) < len(want)-1 { // icmp.rtt counted once
		t.Errorf("produced %d metric names, table has %d", len(ms), len(want))
	}
	ln := otlptranslator.LabelNamer{}
	for attr, label := range map[string]string{"server.address": "server_address", "network.peer.address": "network_peer_address", "icmp.group": "icmp_group", "error.type": "error_type"} {
		if got, err := ln.Build(attr); err != nil || got != label {
			t.Errorf("attribute %s becomes label %q (%v), want %q", attr, got, err, label)
		}
	}
}
