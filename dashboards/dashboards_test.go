package dashboards_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/test/promtest"
	"gopkg.in/yaml.v3"
)

// dsVar is the datasource reference every panel, query and variable must use.
const dsVar = "${datasource}"

// builtins are Grafana's global variables the dashboards may use.
func builtins() []string {
	return []string{"__rate_interval", "__interval", "__range", "__range_s", "__interval_ms"}
}

// allValue is what a variable with "All" selected stands for in regex
// matchers: any non-empty value.
const allValue = ".+"

// parseVars are the values template variables get for the parse check.
func parseVars() map[string]string {
	return map[string]string{
		"job": allValue, "source": allValue, "group": allValue, "target": "10.0.0.1", "instance": allValue,
		"__rate_interval": "1m", "__interval": "15s", "__range": "1h", "__range_s": "3600", "__interval_ms": "15000",
	}
}

func load(t *testing.T) map[string]*promtest.Dashboard {
	t.Helper()
	ds, err := promtest.LoadDashboards(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) < 4 {
		t.Fatalf("want the 4 dashboards, found %d", len(ds))
	}
	return ds
}

func TestRequiredDashboards(t *testing.T) {
	ds := load(t)
	for _, name := range []string{"overview.json", "target.json", "locations.json", "exporter.json"} {
		if ds[name] == nil {
			t.Errorf("dashboard %s missing", name)
		}
	}
	if d := ds["locations.json"]; d != nil && !slices.ContainsFunc(d.AllPanels(), func(p promtest.Panel) bool {
		return p.Type == "geomap" && slices.ContainsFunc(p.Targets, func(q promtest.Target) bool { return strings.Contains(q.Expr, "icmp_source_info") })
	}) {
		t.Errorf("locations.json: no geomap panel from icmp_source_info")
	}
	if d := ds["target.json"]; d != nil && !slices.ContainsFunc(d.AllPanels(), func(p promtest.Panel) bool { return p.Type == "heatmap" }) {
		t.Errorf("target.json: no RTT heatmap")
	}
}

func TestStructure(t *testing.T) {
	uids := map[string]string{}
	for file, d := range load(t) {
		t.Run(file, func(t *testing.T) {
			if d.UID == "" || d.Title == "" || d.Description == "" {
				t.Errorf("uid %q, title %q, description %q: all must be set", d.UID, d.Title, d.Description)
			}
			if other, dup := uids[d.UID]; dup {
				t.Errorf("uid %s also used by %s", d.UID, other)
			}
			uids[d.UID] = file
			if d.SchemaVersion < 39 {
				t.Errorf("schemaVersion %d, want >= 39", d.SchemaVersion)
			}
			if d.Raw["editable"] != false {
				t.Errorf("editable %v, want false: the dashboards are generated, edits in Grafana would be lost", d.Raw["editable"])
			}
			checkVariables(t, d)
			checkPanels(t, d)
		})
	}
}

func checkVariables(t *testing.T, d *promtest.Dashboard) {
	t.Helper()
	names := builtins()
	hasDS := false
	for _, v := range d.Templating.List {
		if slices.Contains(names, v.Name) {
			t.Errorf("variable %s defined twice", v.Name)
		}
		names = append(names, v.Name)
		switch v.Type {
		case "datasource":
			if v.Name == "datasource" && v.QueryString() == "prometheus" {
				hasDS = true
			}
		case "query":
			if v.Datasource == nil || v.Datasource.UID != dsVar {
				t.Errorf("variable %s: datasource %+v, want uid %s", v.Name, v.Datasource, dsVar)
			}
			if _, _, err := promtest.VariableExpr(v.QueryString()); err != nil {
				t.Errorf("variable %s: %v", v.Name, err)
			}
			if v.Definition != v.QueryString() {
				t.Errorf("variable %s: definition %q differs from query %q", v.Name, v.Definition, v.QueryString())
			}
			if v.IncludeAll && v.AllValue != allValue {
				t.Errorf("variable %s: includeAll needs allValue %q for regex matchers, got %q", v.Name, allValue, v.AllValue)
			}
			if label := strings.ToUpper(v.Name[:1]) + v.Name[1:]; (v.Name == "job" || v.Name == "instance") &&
				(!v.Multi || !v.IncludeAll || variableLabel(d, v.Name) != label) {
				t.Errorf("variable %s: label %q, multi %v, includeAll %v: want label %q, multi-select with All",
					v.Name, variableLabel(d, v.Name), v.Multi, v.IncludeAll, label)
			}
			for _, ref := range promtest.VarRefs(v.QueryString()) {
				if !slices.Contains(names, ref) {
					t.Errorf("variable %s refers to $%s, not defined before it", v.Name, ref)
				}
			}
		default:
			t.Errorf("variable %s: type %q, want datasource or query", v.Name, v.Type)
		}
	}
	if !hasDS {
		t.Errorf("no variable \"datasource\" of type datasource for prometheus")
	}
	for _, want := range []string{"job", "instance"} {
		if !slices.Contains(names, want) {
			t.Errorf("variable %s missing", want)
		}
	}
	for _, a := range d.Annotations.List {
		if a.BuiltIn == 0 && (a.Datasource == nil || a.Datasource.UID != dsVar) {
			t.Errorf("annotation %s: datasource %+v, want %s", a.Name, a.Datasource, dsVar)
		}
	}
	for _, q := range d.Queries() {
		for _, ref := range promtest.VarRefs(q.Expr) {
			if !slices.Contains(names, ref) {
				t.Errorf("%s refers to undefined variable $%s", q.Where, ref)
			}
		}
		for _, e := range selectorErrors(q.Expr) {
			t.Errorf("%s: %s", q.Where, e)
		}
	}
}

func TestSelectorErrors(t *testing.T) {
	tests := []struct {
		name, expr string
		want       []string // substrings of the errors, in order
	}{
		{"ok", `sum(rate(icmp_replies_total{job=~"$job",instance=~"$instance"}[$__rate_interval])) or on() vector(0)`, nil},
		{"no instance", `icmp_up{job=~"$job"}`, []string{`lacks instance=~"$instance"`}},
		{"no matchers", `count(icmp_up) - 1`, []string{"icmp_up without label matchers"}},
		{"counter not rated", `icmp_outages_total{job=~"$job",instance=~"$instance"} > 0`, []string{"counter icmp_outages_total"}},
		{"counter in changes", `changes(icmp_outages_total{job=~"$job",instance=~"$instance"}[5m])`, []string{"counter icmp_outages_total"}},
		{"metric name in a string", `label_replace(icmp_up{job=~"$job",instance=~"$instance"}, "x", "icmp_up", "", "")`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := selectorErrors(tt.expr)
			if len(got) != len(tt.want) {
				t.Fatalf("selectorErrors(%s) = %q, want %d errors %q", tt.expr, got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("error %d %q lacks %q", i, got[i], w)
				}
			}
		})
	}
}

// variableLabel returns the label (display name) of a template variable.
func variableLabel(d *promtest.Dashboard, name string) string {
	tpl, _ := d.Raw["templating"].(map[string]any)
	list, _ := tpl["list"].([]any)
	for _, v := range list {
		if v, _ := v.(map[string]any); v["name"] == name {
			label, _ := v["label"].(string)
			return label
		}
	}
	return ""
}

var counterRe = regexp.MustCompile(`\b(?:rate|irate|increase)\(\s*$`)

// selectorErrors applies the Grafana dashboard linter's query rules to expr:
// every series selector filters on job=~"$job" and instance=~"$instance"
// (target-job-rule, target-instance-rule), and every counter (*_total) is
// read through rate, irate or increase over a range (target-counter-agg-rule).
func selectorErrors(expr string) []string {
	var errs []string
	for _, s := range promtest.Selectors(expr) {
		if s.Matchers == "" {
			errs = append(errs, fmt.Sprintf("%s without label matchers: want job=~\"$job\" and instance=~\"$instance\"", s.Metric))
			continue
		}
		for _, want := range []string{`job=~"$job"`, `instance=~"$instance"`} {
			if !strings.Contains(s.Matchers, want) {
				errs = append(errs, fmt.Sprintf("%s%s lacks %s", s.Metric, s.Matchers, want))
			}
		}
		if strings.HasSuffix(s.Metric, "_total") && (!counterRe.MatchString(expr[:s.Start]) || !strings.HasPrefix(strings.TrimSpace(expr[s.End:]), "[")) {
			errs = append(errs, fmt.Sprintf("counter %s is not read through rate, irate or increase over a range", s.Metric))
		}
	}
	return errs
}

var rangeSel = regexp.MustCompile(`\[([^\]]*)\]`)

func checkPanels(t *testing.T, d *promtest.Dashboard) {
	t.Helper()
	ids := map[int]string{}
	type rect struct{ x, y, w, h int }
	var rects []rect
	for _, p := range d.AllPanels() {
		where := p.Type + " " + p.Title
		if p.ID <= 0 {
			t.Errorf("%s: id %d", where, p.ID)
		}
		if other, dup := ids[p.ID]; dup {
			t.Errorf("%s: id %d also used by %s", where, p.ID, other)
		}
		ids[p.ID] = where
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("%s: gridPos %+v outside the 24-column grid", where, g)
		}
		r := rect{g.X, g.Y, g.W, g.H}
		for _, o := range rects {
			if r.x < o.x+o.w && o.x < r.x+r.w && r.y < o.y+o.h && o.y < r.y+r.h {
				t.Errorf("%s: gridPos %+v overlaps another panel", where, g)
			}
		}
		rects = append(rects, r)
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != dsVar || p.Datasource.Type != "prometheus" {
			t.Errorf("%s: datasource %+v, want prometheus %s", where, p.Datasource, dsVar)
		}
		if strings.TrimSpace(p.Description) == "" {
			t.Errorf("%s: no description", where)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no queries", where)
		}
		refs := map[string]bool{}
		for _, q := range p.Targets {
			if q.Datasource == nil || q.Datasource.UID != dsVar {
				t.Errorf("%s query %s: datasource %+v, want %s", where, q.RefID, q.Datasource, dsVar)
			}
			if q.RefID == "" || refs[q.RefID] {
				t.Errorf("%s: empty or repeated refId %q", where, q.RefID)
			}
			refs[q.RefID] = true
			if strings.TrimSpace(q.Expr) == "" {
				t.Errorf("%s query %s: empty expr", where, q.RefID)
			}
			for _, m := range rangeSel.FindAllStringSubmatch(q.Expr, -1) {
				if !strings.HasPrefix(m[1], "$__") {
					t.Errorf("%s query %s: range [%s]: use $__rate_interval (or $__range for totals)", where, q.RefID, m[1])
				}
			}
			if regexp.MustCompile(`\b(rate|irate|increase)\(`).MatchString(q.Expr) &&
				!strings.Contains(q.Expr, "$__rate_interval") && !strings.Contains(q.Expr, "$__range") {
				t.Errorf("%s query %s: rate() without $__rate_interval", where, q.RefID)
			}
		}
		if !hasUnit(p) {
			t.Errorf("%s: no unit set", where)
		}
	}
}

// hasUnit reports whether a panel sets units: in its field defaults, its
// heatmap axis, or, for tables, by an override of some column.
func hasUnit(p promtest.Panel) bool {
	if u, _ := p.FieldConfig.Defaults["unit"].(string); u != "" {
		return true
	}
	switch p.Type {
	case "heatmap":
		y, _ := p.Options["yAxis"].(map[string]any)
		u, _ := y["unit"].(string)
		return u != ""
	case "table":
		for _, o := range p.FieldConfig.Overrides {
			props, _ := o["properties"].([]any)
			for _, pr := range props {
				if m, _ := pr.(map[string]any); m["id"] == "unit" {
					return true
				}
			}
		}
	}
	return false
}

// TestQueriesParse evaluates every panel, annotation and variable query, with
// template variables substituted, in Debian's Prometheus 2.42 with native
// histograms enabled: any that does not parse comes back as bad_data.
func TestQueriesParse(t *testing.T) {
	s := promtest.Start(t, promtest.Options{Config: "global:\n  evaluation_interval: 15s\n"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	vars := parseVars()
	for file, d := range load(t) {
		t.Run(file, func(t *testing.T) {
			var exprs []promtest.Query
			exprs = append(exprs, d.Queries()...)
			for _, v := range d.Templating.List {
				if v.Type != "query" {
					continue
				}
				e, _, err := promtest.VariableExpr(v.QueryString())
				if err != nil {
					t.Errorf("variable %s: %v", v.Name, err)
					continue
				}
				exprs = append(exprs, promtest.Query{Where: "variable " + v.Name, Expr: e})
			}
			for _, q := range exprs {
				e, err := promtest.Expand(q.Expr, vars)
				if err != nil {
					t.Errorf("%s: %v", q.Where, err)
					continue
				}
				for _, m := range promtest.MetricNames(e) {
					if !promtest.KnownMetric(m) {
						t.Errorf("%s: unknown metric %s in %s", q.Where, m, e)
					}
				}
				if _, err := s.Query(ctx, e, time.Time{}); err != nil {
					t.Errorf("%s: %v\n  query: %s", q.Where, err, e)
				}
			}
		})
	}
}

// TestProvisioning checks the Grafana provisioning examples decode and
// describe a file provider and a Prometheus datasource.
func TestProvisioning(t *testing.T) {
	var dash struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name    string `yaml:"name"`
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name string `yaml:"name"`
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	tests := []struct {
		file  string
		dst   any
		check func() bool
	}{
		{"provisioning/dashboards.yml", &dash, func() bool {
			return dash.APIVersion == 1 && len(dash.Providers) == 1 && dash.Providers[0].Type == "file" && dash.Providers[0].Options.Path != ""
		}},
		{"provisioning/datasource.yml", &ds, func() bool {
			return ds.APIVersion == 1 && len(ds.Datasources) == 1 && ds.Datasources[0].Type == "prometheus" && ds.Datasources[0].URL != ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			dec := yaml.NewDecoder(bytes.NewReader(b))
			dec.KnownFields(false)
			if err := dec.Decode(tt.dst); err != nil {
				t.Fatalf("decode %s: %v", tt.file, err)
			}
			if !tt.check() {
				t.Errorf("%s: unexpected content %+v", tt.file, tt.dst)
			}
		})
	}
}
