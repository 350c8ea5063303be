package promtest

import (
	"regexp"
	"slices"
	"strings"
)

// ExporterMetrics returns the metric names icmp_exporter exposes (histograms
// by their base name), as listed in the README's metric reference.
func ExporterMetrics() []string {
	return []string{
		"icmp_up", "icmp_probes_sent_total", "icmp_replies_total", "icmp_probes_lost_total",
		"icmp_late_replies_total", "icmp_duplicate_replies_total", "icmp_probes_skipped_total",
		"icmp_errors_total", "icmp_dns_errors_total", "icmp_rtt_seconds", "icmp_reply_ttl",
		"icmp_outages_total", "icmp_outage_duration_seconds", "icmp_last_outage_start_timestamp_seconds",
		"icmp_last_outage_end_timestamp_seconds", "icmp_last_outage_duration_seconds",
		"icmp_outage_resolution_seconds", "icmp_state_change_timestamp_seconds",
		"icmp_engine_info", "icmp_source_info", "icmp_engine_packets_sent_total",
		"icmp_engine_packets_received_total", "icmp_engine_foreign_replies_total",
		"icmp_engine_invalid_packets_total", "icmp_engine_send_errors_total", "icmp_engine_kernel_drops_total",
		"icmp_engine_probes_skipped_total", "icmp_engine_replies_total", "icmp_engine_schedule_lag_seconds",
		"icmp_engine_targets", "icmp_exporter_config_last_reload_successful",
		"icmp_exporter_config_last_reload_success_timestamp_seconds", "icmp_exporter_build_info", "icmp_exporter_shard_info",
	}
}

// KnownMetric reports whether name is a metric of the exporter (histogram
// series suffixes included), of Prometheus' scrape (up, scrape_*), or of the
// client library's process and Go collectors.
func KnownMetric(name string) bool {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && (base == "icmp_rtt_seconds" || base == "icmp_outage_duration_seconds") {
			return true
		}
	}
	return slices.Contains(ExporterMetrics(), name) || name == "up" ||
		strings.HasPrefix(name, "scrape_") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "go_")
}

var (
	quoted     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	braces     = regexp.MustCompile(`\{[^}]*\}`)
	brackets   = regexp.MustCompile(`\[[^\]]*\]`)
	grouping   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	identifier = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?`)
)

var promqlKeywords = []string{
	"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
	"offset", "inf", "nan", "Inf", "NaN",
}

// MetricNames returns the metric names an expression selects, found by a
// lexical scan (strings, label matchers, ranges, grouping clauses and function
// names removed). Template variables must be expanded first.
func MetricNames(expr string) []string {
	s := quoted.ReplaceAllString(expr, `""`)
	s = braces.ReplaceAllString(s, "{}")
	s = brackets.ReplaceAllString(s, "[]")
	s = grouping.ReplaceAllString(s, "")
	var out []string
	for _, m := range identifier.FindAllStringSubmatchIndex(s, -1) {
		if m[2] >= 0 { // followed by "(": a function or aggregation
			continue
		}
		// Skip the exponent or suffix of a number (1e-9, 5m).
		if m[0] > 0 && (s[m[0]-1] >= '0' && s[m[0]-1] <= '9' || s[m[0]-1] == '.') {
			continue
		}
		name := s[m[0]:m[1]]
		if slices.Contains(promqlKeywords, name) || slices.Contains(out, name) {
			continue
		}
		out = append(out, name)
	}
	return out
}
