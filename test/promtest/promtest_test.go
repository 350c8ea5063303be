package promtest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"job": "icmp", "target": "10.0.0.1", "__rate_interval": "1m"}
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "dollar", in: `icmp_up{job=~"$job"}`, want: `icmp_up{job=~"icmp"}`},
		{name: "braces", in: `icmp_up{target="${target}"}`, want: `icmp_up{target="10.0.0.1"}`},
		{name: "format", in: `icmp_up{target="${target:regex}"}`, want: `icmp_up{target="10.0.0.1"}`},
		{name: "brackets", in: `icmp_up{job="[[job]]"}`, want: `icmp_up{job="icmp"}`},
		{name: "builtin", in: `rate(x[$__rate_interval])`, want: `rate(x[1m])`},
		{name: "missing", in: `icmp_up{group=~"$group"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Expand(tt.in, vars)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Expand(%q) error %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		name, expr string
		want       []string
	}{
		{name: "selector", expr: `icmp_up{job="a b"} == 0`, want: []string{"icmp_up"}},
		{name: "functions and grouping", expr: `histogram_quantile(0.5, sum by (source, le) (rate(icmp_rtt_seconds_bucket{x="y"}[5m])))`,
			want: []string{"icmp_rtt_seconds_bucket"}},
		{name: "vector matching", expr: `a:b:c > on(source) group_left(zone) icmp:threshold:x and ignoring(ip) y unless z offset 5m`,
			want: []string{"a:b:c", "icmp:threshold:x", "y", "z"}},
		{name: "numbers", expr: `clamp(1 - x / y, 0, 1) > 1e-9 * 2.5e3`, want: []string{"x", "y"}},
		{name: "label_replace strings", expr: `label_replace(up, "reason", "schedule_lag", "", "")`, want: []string{"up"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MetricNames(tt.expr); !slices.Equal(got, tt.want) {
				t.Errorf("MetricNames(%q) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

func TestVariableExpr(t *testing.T) {
	tests := []struct {
		name, in, wantExpr, wantLabel string
		wantErr                       bool
	}{
		{name: "label_values", in: `label_values(icmp_up{job=~"$job"}, group)`, wantExpr: `count by (group) (icmp_up{job=~"$job"})`, wantLabel: "group"},
		{name: "query_result", in: `query_result(topk(5, icmp_up))`, wantExpr: `topk(5, icmp_up)`},
		{name: "label_values without metric", in: `label_values(group)`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expr, label, err := VariableExpr(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if expr != tt.wantExpr || label != tt.wantLabel {
				t.Errorf("VariableExpr(%q) = %q, %q; want %q, %q", tt.in, expr, label, tt.wantExpr, tt.wantLabel)
			}
		})
	}
}

// TestServer starts Debian's prometheus and checks that valid expressions
// evaluate and invalid ones come back as bad_data.
func TestServer(t *testing.T) {
	s := Start(t, Options{Config: "global:\n  evaluation_interval: 1s\n"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tests := []struct {
		name, expr string
		bad        bool
		want       float64
	}{
		{name: "scalar", expr: "1 + 2", want: 3},
		{name: "vector", expr: "vector(7)", want: 7},
		{name: "native histogram functions parse", expr: "histogram_quantile(0.5, sum(rate(icmp_rtt_seconds[5m])))"},
		{name: "syntax error", expr: "sum(rate(x[5m])", bad: true},
		{name: "type error", expr: "rate(x)", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := s.Query(ctx, tt.expr, time.Time{})
			if tt.bad {
				if !IsBadData(err) {
					t.Fatalf("Query(%q) error %v, want bad_data", tt.expr, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Query(%q): %v", tt.expr, err)
			}
			if tt.want != 0 && (len(res.Samples) != 1 || res.Samples[0].Value != tt.want) {
				t.Errorf("Query(%q) = %+v, want one sample %v", tt.expr, res, tt.want)
			}
		})
	}
}

func TestLoadDashboards(t *testing.T) {
	root, err := lab.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "dashboards")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s: %v", dir, err)
	}
	ds, err := LoadDashboards(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != len(files) {
		t.Errorf("%d dashboards, want %d", len(ds), len(files))
	}
	for _, f := range files {
		if d := ds[filepath.Base(f)]; d == nil || len(d.AllPanels()) == 0 {
			t.Errorf("%s: dashboard %v without panels", filepath.Base(f), d)
		}
	}
	if _, err := LoadDashboards(t.TempDir()); err != nil {
		t.Errorf("empty directory: %v", err)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "broken.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDashboards(bad); err == nil {
		t.Error("a broken dashboard loaded without error")
	}
}

// TestExporterMetricsDocumented: every family the exporter exposes is in
// the metric reference (docs/metrics.md, OTLP's own in docs/otlp.md), and
// the list has the families of every source.
func TestExporterMetricsDocumented(t *testing.T) {
	root, err := lab.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	var doc []byte
	for _, f := range []string{"metrics.md", "otlp.md"} {
		b, err := os.ReadFile(filepath.Join(root, "docs", f))
		if err != nil {
			t.Fatal(err)
		}
		doc = append(doc, b...)
	}
	names := ExporterMetrics()
	for _, want := range []string{"icmp_up", "icmp_rtt_seconds", "icmp_engine_info", "icmp_exporter_build_info",
		"icmp_exporter_config_last_reload_successful", "icmp_exporter_shard_info", "icmp_exporter_otlp_exports_total"} {
		if !slices.Contains(names, want) {
			t.Errorf("ExporterMetrics lacks %s", want)
		}
	}
	for _, n := range names {
		if !strings.Contains(string(doc), n) {
			t.Errorf("%s is not documented in docs/metrics.md or docs/otlp.md", n)
		}
	}
	for _, n := range []string{"icmp_rtt_seconds_bucket", "icmp_outage_duration_seconds_count", "up", "go_goroutines"} {
		if !KnownMetric(n) {
			t.Errorf("KnownMetric(%q) = false", n)
		}
	}
	for _, n := range []string{"icmp_up_bucket", "icmp_rtt", "icmp_nonexistent_total"} {
		if KnownMetric(n) {
			t.Errorf("KnownMetric(%q) = true", n)
		}
	}
}
