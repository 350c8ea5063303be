package promtest

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/icmp-exporter/icmp_exporter/collector"
	"github.com/icmp-exporter/icmp_exporter/collector/otlp"
	"github.com/icmp-exporter/icmp_exporter/internal/app"
	"github.com/icmp-exporter/icmp_exporter/internal/shard"
	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	dto "github.com/prometheus/client_model/go"
)

// exporterFamilies are the metric families icmp_exporter exposes, by name,
// with whether each is a histogram: the collector's own descriptions
// (collector.Families) and the families of the other collectors main
// registers (build info, reload, shard, OTLP export counters), gathered
// from them.
var exporterFamilies = sync.OnceValue(func() map[string]bool {
	fams := map[string]bool{}
	for _, f := range collector.Families() {
		fams[f.Name] = f.Type == dto.MetricType_HISTOGRAM
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(
		versioncollector.NewCollector("icmp_exporter"),
		app.NewReloadMetrics(),
		shard.Shard{}.InfoCollector(),
		otlp.NewStatsCollector(func() otlp.Stats { return otlp.Stats{} }),
	)
	mfs, err := reg.Gather()
	if err != nil {
		panic("promtest: gather the exporter's process collectors: " + err.Error())
	}
	for _, mf := range mfs {
		fams[mf.GetName()] = mf.GetType() == dto.MetricType_HISTOGRAM
	}
	return fams
})

// ExporterMetrics returns the metric names icmp_exporter exposes
// (histograms by their base name), sorted.
func ExporterMetrics() []string {
	return slices.Sorted(maps.Keys(exporterFamilies()))
}

// KnownMetric reports whether name is a metric of the exporter (histogram
// series suffixes included), of Prometheus' scrape (up, scrape_*), or of the
// client library's process and Go collectors.
func KnownMetric(name string) bool {
	fams := exporterFamilies()
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && fams[base] {
			return true
		}
	}
	_, ok := fams[name]
	return ok || name == "up" ||
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
