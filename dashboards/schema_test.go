package dashboards_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// TestSDKIsTestOnly checks that the Grafana foundation SDK, imported here, is
// no dependency of the exporter binary.
func TestSDKIsTestOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", "..").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	mods := strings.Fields(string(out))
	if !slices.Contains(mods, "github.com/prometheus/client_golang") {
		t.Fatalf("go list -deps of the exporter lists no client_golang: %q", mods)
	}
	if slices.Contains(mods, "github.com/grafana/grafana-foundation-sdk/go") {
		t.Errorf("the exporter binary depends on github.com/grafana/grafana-foundation-sdk/go: keep it in tests")
	}
}

// schemaErrors strict-decodes a dashboard with the Grafana foundation SDK
// (Grafana's dashboard schema and the schemas of every core panel and
// datasource plugin: unknown fields, missing required fields and wrong types
// are errors), then checks its constraints with Validate. It also requires
// every panel type and every query's datasource type to be one the SDK knows:
// for an unknown plugin the SDK would decode options loosely.
func schemaErrors(raw []byte) []string {
	plugins.RegisterDefaultPlugins()
	var out []string
	add := func(stage string, err error) {
		if err == nil {
			return
		}
		// The SDK returns its error list as a typed slice, nil or empty when
		// there is nothing to report.
		var list cog.BuildErrors
		if errors.As(err, &list) {
			for _, e := range list {
				out = append(out, stage+": "+e.Error())
			}
			return
		}
		out = append(out, stage+": "+err.Error())
	}
	var d dashboard.Dashboard //nolint:staticcheck // the dashboards are the v1 schema that Grafana provisions
	add("strict decode", d.UnmarshalJSONStrict(raw))
	add("validate", d.Validate())

	var model struct {
		Panels []panelTypes `json:"panels"`
	}
	if err := json.Unmarshal(raw, &model); err != nil {
		return append(out, "decode: "+err.Error())
	}
	var walk func([]panelTypes)
	walk = func(ps []panelTypes) {
		for _, p := range ps {
			if p.Type != "row" {
				if _, ok := cog.ConfigForPanelcfgVariant(p.Type); !ok {
					out = append(out, "panel "+p.Title+": type "+p.Type+" is no Grafana core panel the SDK knows")
				}
			}
			for _, t := range p.Targets {
				if t.Datasource.Type != "prometheus" {
					out = append(out, "panel "+p.Title+": query datasource type "+t.Datasource.Type+", want prometheus")
				}
			}
			walk(p.Panels)
		}
	}
	walk(model.Panels)
	return out
}

type panelTypes struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		Datasource struct {
			Type string `json:"type"`
		} `json:"datasource"`
	} `json:"targets"`
	Panels []panelTypes `json:"panels"`
}

func rawDashboards(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = b
	}
	return out
}

// TestGrafanaSchema checks every dashboard against Grafana's schema, and that
// the files leave to Grafana what it fills in on load: the database id, the
// version counters, the plugin version of panels and the options of query
// variables (the schema has them optional, so the strict decode needs no
// exception for them).
func TestGrafanaSchema(t *testing.T) {
	for file, raw := range rawDashboards(t) {
		t.Run(file, func(t *testing.T) {
			for _, e := range schemaErrors(raw) {
				t.Error(e)
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"id", "iteration"} {
				if v, ok := m[k]; ok && v != nil {
					t.Errorf("%s is set (%v): Grafana assigns it on load", k, v)
				}
			}
			if strings.Contains(string(raw), `"pluginVersion"`) {
				t.Errorf("a panel sets pluginVersion: Grafana sets it on load")
			}
			tpl, _ := m["templating"].(map[string]any)
			list, _ := tpl["list"].([]any)
			for _, v := range list {
				v, _ := v.(map[string]any)
				if opts, _ := v["options"].([]any); v["type"] == "query" && len(opts) > 0 {
					t.Errorf("variable %v carries %d options: Grafana fills them from the query on load", v["name"], len(opts))
				}
			}
		})
	}
}

// TestGrafanaSchemaCatches feeds the schema check broken copies of a
// dashboard: each must be reported.
func TestGrafanaSchemaCatches(t *testing.T) {
	raw, err := os.ReadFile("overview.json")
	if err != nil {
		t.Fatal(err)
	}
	if errs := schemaErrors(raw); len(errs) > 0 {
		t.Fatalf("overview.json itself fails: %v", errs)
	}
	// firstPanel returns the first panel of the type in the decoded model.
	firstPanel := func(m map[string]any, typ string) map[string]any {
		for _, p := range m["panels"].([]any) {
			if p := p.(map[string]any); p["type"] == typ {
				return p
			}
		}
		t.Fatalf("no %s panel in overview.json", typ)
		return nil
	}
	cases := []struct {
		name   string
		mutate func(m map[string]any)
		want   string
	}{
		{"unknown dashboard field", func(m map[string]any) { m["refreshInterval"] = "1m" }, "unexpected field 'refreshInterval'"},
		{"unknown stat option", func(m map[string]any) {
			firstPanel(m, "stat")["options"].(map[string]any)["colourMode"] = "value"
		}, "colourMode"},
		{"unknown timeseries field config", func(m map[string]any) {
			p := firstPanel(m, "timeseries")
			p["fieldConfig"].(map[string]any)["defaults"].(map[string]any)["custom"].(map[string]any)["lineWidht"] = 2
		}, "lineWidht"},
		{"unknown query field", func(m map[string]any) {
			q := firstPanel(m, "timeseries")["targets"].([]any)[0].(map[string]any)
			q["exp"] = q["expr"]
		}, "exp"},
		{"wrong type", func(m map[string]any) {
			firstPanel(m, "stat")["gridPos"].(map[string]any)["w"] = "four"
		}, "gridPos"},
		{"missing required option", func(m map[string]any) {
			delete(firstPanel(m, "stat")["options"].(map[string]any), "reduceOptions")
		}, "reduceOptions"},
		{"out of range", func(m map[string]any) { m["fiscalYearStartMonth"] = 12 }, "fiscalYearStartMonth"},
		{"unknown panel type", func(m map[string]any) { firstPanel(m, "bargauge")["type"] = "bar-gauge" }, "bar-gauge"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			c.mutate(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			errs := schemaErrors(b)
			if !strings.Contains(strings.Join(errs, "\n"), c.want) {
				t.Errorf("errors %q do not mention %q", errs, c.want)
			}
		})
	}
}
