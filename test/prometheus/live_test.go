//go:build linux

package prometheus_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
	"github.com/icmp-exporter/icmp_exporter/test/promtest"
)

// source is one exporter instance of the test: its source setting, where it
// listens (inside the probe namespace), and whether it probes the classic
// group instead of the core group.
//
// Native and classic-only histograms are kept in separate exporters: the
// Prometheus protobuf parser (2.42 and many later versions) decides per
// metric family, from its first series, whether the family holds native or
// classic histograms, so one exporter exposing both kinds of groups loses
// the native ones (seen in this test).
type source struct {
	name     string
	lat, lon float64
	addr     string
	classic  bool
}

func sources() []source {
	return []source{
		{name: "lab-ams", lat: 52.37, lon: 4.89, addr: "127.0.0.1:10427"},
		{name: "lab-sfo", lat: 37.77, lon: -122.42, addr: "127.0.0.1:10428"},
		{name: "lab-fra", lat: 50.11, lon: 8.68, addr: "127.0.0.1:10429", classic: true},
	}
}

// coreSources are the sources probing the core group.
func coreSources() []source {
	var out []source
	for _, s := range sources() {
		if !s.classic {
			out = append(out, s)
		}
	}
	return out
}

// Template variable values for evaluating dashboard queries, and the range
// variables for a Prometheus scraping every second.
const (
	rateInterval = "15s"
	scrapeEvery  = "1s"
)

// writeExporterConfig writes the config of one exporter: group "core" (native
// histograms) with the addresses core, or group "classic" (classic buckets)
// with the addresses classic.
func writeExporterConfig(t *testing.T, s source, core, classic []netip.Addr) string {
	t.Helper()
	g := lab.ConfigGroup{Name: "core", Targets: core}
	if s.classic {
		g = lab.ConfigGroup{Name: "classic", Targets: classic, ConfigSettings: lab.ConfigSettings{Histogram: "classic"}}
	}
	g.Labels = map[string]string{"site": "lab"}
	return lab.WriteConfig(t, lab.ExporterConfig{
		Source: s.name, Latitude: s.lat, Longitude: s.lon,
		Datapath: "icmp",
		Defaults: lab.ConfigSettings{Interval: 250 * time.Millisecond, Timeout: 250 * time.Millisecond, DownAfter: 3, UpAfter: 1},
		Groups:   []lab.ConfigGroup{g},
		Vantage:  "{}", // for the vantage panel; one dropped target of several is no vantage outage
	})
}

// writeRules renders the rule file from the mixin with the target-down
// threshold lowered to 3 seconds through its _config: the way docs/mixin.md
// tells users to change a threshold, and short enough for a test.
func writeRules(t *testing.T) string {
	t.Helper()
	root, err := lab.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	const override = `(import 'mixin/lib/render.libsonnet').rulesFile(
  (import 'mixin/mixin.libsonnet') + { _config+:: { thresholds+: { targetDownSeconds: 3 } } })`
	cmd := exec.Command(lab.Tool(t, "jsonnet"), "-S", "-e", override)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("render the mixin's rules: %v\n%s", err, stderr.Bytes())
	}
	path := filepath.Join(t.TempDir(), "icmp_exporter.rules.yml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := promtest.LoadRules(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Record == "icmp:threshold:target_down_seconds" && r.Expr == "vector(3)" {
				return path
			}
		}
	}
	t.Fatalf("rules rendered without the threshold override (icmp:threshold:target_down_seconds = vector(3)):\n%s", b)
	return ""
}

func prometheusConfig(rules string) string {
	var targets []string
	for _, s := range sources() {
		targets = append(targets, fmt.Sprintf("%q", s.addr))
	}
	return fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[1]s
rule_files:
  - %[2]s
scrape_configs:
  - job_name: icmp
    static_configs:
      - targets: [%[3]s]
`, scrapeEvery, rules, strings.Join(targets, ", "))
}

func TestLive(t *testing.T) {
	l := lab.New(t, lab.Options{})
	bin := lab.BuildExporter(t)
	rules := writeRules(t)
	addrs := l.Addrs(6, false)
	core, classic := addrs[:4], addrs[4:]
	dropped := core[0]

	for _, s := range sources() {
		cfg := writeExporterConfig(t, s, core, classic)
		l.StartExporter(context.Background(), lab.ExporterOptions{Binary: bin, Config: cfg, Listen: s.addr})
	}
	prom := promtest.Start(t, promtest.Options{
		Config:  prometheusConfig(rules),
		Port:    9090, // the probe namespace is new: nothing else listens there
		Command: l.Exec,
		Client:  l.HTTPClient(),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	query := func(expr string, at time.Time) promtest.QueryResult {
		t.Helper()
		res, err := prom.Query(ctx, expr, at)
		if err != nil {
			t.Fatalf("query %s: %v", expr, err)
		}
		return res
	}
	value := func(expr string) (float64, bool) {
		res := query(expr, time.Time{})
		if len(res.Samples) != 1 {
			return 0, false
		}
		return res.Samples[0].Value, true
	}

	// Both exporters scraped, every target up from both sources, and enough
	// samples for the rate windows.
	want := float64(len(core)*len(coreSources()) + len(classic)*(len(sources())-len(coreSources())))
	lab.WaitFor(t, 2*time.Minute, 500*time.Millisecond, "every target up from its sources", func() (bool, string) {
		n, _ := value(`count(icmp_up{job="icmp"})`)
		up, _ := value(`sum(icmp_up{job="icmp"})`)
		if n == want && up == want {
			return true, ""
		}
		ts, err := prom.Targets(ctx)
		return false, fmt.Sprintf("%v of %v series, %v up; scrape targets %+v %v", n, want, up, ts, err)
	})
	lab.WaitFor(t, time.Minute, 500*time.Millisecond, "native and classic RTT histograms with a full rate window", func() (bool, string) {
		nat := query(`histogram_quantile(0.5, sum(rate(icmp_rtt_seconds{job="icmp"}[`+rateInterval+`])))`, time.Time{})
		cls := query(`histogram_quantile(0.5, sum by (le) (rate(icmp_rtt_seconds_bucket{job="icmp",group="classic"}[`+rateInterval+`])))`, time.Time{})
		ok := len(nat.Samples) == 1 && !math.IsNaN(nat.Samples[0].Value) && len(cls.Samples) == 1 && !math.IsNaN(cls.Samples[0].Value)
		series := query(`count by (__name__, group, source) ({__name__=~"icmp_rtt_seconds.*"})`, time.Time{})
		return ok, fmt.Sprintf("native %+v classic %+v; RTT series %+v", nat, cls, series)
	})
	time.Sleep(16 * time.Second) // let the rate windows fill with normal traffic
	if a := firing(alertsNamed(t, prom, ctx, "")); len(a) > 0 {
		t.Errorf("alerts firing before the outage: %v", describe(a))
	}

	dashboards := loadDashboards(t)
	evals := newEvaluation(dashboards, addrs, dropped)

	// Outage: drop echo requests to one core host.
	drop := l.AddDrop([]netip.Addr{dropped})
	lab.WaitFor(t, 2*time.Minute, 500*time.Millisecond, "ICMPTargetDown firing for "+dropped.String()+" from both core sources", func() (bool, string) {
		fired := firing(alertsNamed(t, prom, ctx, "ICMPTargetDown"))
		return len(fired) == len(coreSources()), describe(fired)
	})
	phaseDown := time.Now()
	for _, a := range firing(alertsNamed(t, prom, ctx, "ICMPTargetDown")) {
		checkTargetDownAlert(t, a, dropped)
	}
	for _, a := range alertsNamed(t, prom, ctx, "") {
		if a.Labels["alertname"] != "ICMPTargetDown" && a.State == "firing" {
			t.Errorf("unexpected firing alert during a single-target outage: %v", describe([]promtest.Alert{a}))
		}
	}
	evals.run(t, ctx, prom, "outage", phaseDown)

	// Recovery.
	win := drop.Remove()
	lab.WaitFor(t, 2*time.Minute, 500*time.Millisecond, "ICMPTargetDown resolved", func() (bool, string) {
		a := alertsNamed(t, prom, ctx, "ICMPTargetDown")
		return len(a) == 0, describe(a)
	})
	t.Logf("drop in force %s .. %s; alert resolved %s after removal", win.InsertedBy.Format(time.TimeOnly),
		win.Deleted.Format(time.TimeOnly), time.Since(win.DeletedBy).Round(time.Millisecond))
	// The outage must now be complete in the exporter's metrics.
	lab.WaitFor(t, 30*time.Second, 500*time.Millisecond, "completed outage exported", func() (bool, string) {
		res := query(`icmp_last_outage_end_timestamp_seconds{job="icmp",target="`+dropped.String()+`"} > 0`, time.Time{})
		return len(res.Samples) == len(coreSources()), fmt.Sprintf("%+v", res)
	})
	// The outage ended one run of lost probes: ICMPBurstLoss's expression,
	// with 1 burst for its threshold, holds for the dropped target from both
	// core sources (native loss run histograms).
	burst := burstLossExpr(t, rules)
	lab.WaitFor(t, time.Minute, 500*time.Millisecond, "one burst of loss for "+dropped.String()+" from both core sources", func() (bool, string) {
		res := query(burst, time.Time{})
		n := 0
		for _, s := range res.Samples {
			if s.Metric["target"] == dropped.String() && s.Value >= 0.9 {
				n++
			}
		}
		return n == len(coreSources()), fmt.Sprintf("%s: %+v", burst, res)
	})
	evals.run(t, ctx, prom, "recovered", time.Now())

	evals.report(t)
	checkGeomap(t, ctx, prom, dashboards["locations.json"], evals.varSets[1])
	checkRules(t, ctx, prom)
}

// checkGeomap checks that the map queries of the Locations dashboard give
// one row per source with a location, with numeric latitude and longitude.
func checkGeomap(t *testing.T, ctx context.Context, prom *promtest.Server, d *promtest.Dashboard, vars map[string]string) {
	t.Helper()
	if d == nil {
		t.Fatal("no locations.json")
	}
	maps := 0
	for _, p := range d.AllPanels() {
		if p.Type != "geomap" {
			continue
		}
		maps++
		for _, q := range p.Targets {
			expr, err := promtest.Expand(q.Expr, vars)
			if err != nil {
				t.Fatal(err)
			}
			res, err := prom.Query(ctx, expr, time.Time{})
			if err != nil {
				t.Fatalf("geomap %q: %v", p.Title, err)
			}
			got := map[string]bool{}
			for _, smp := range res.Samples {
				src := smp.Metric["source"]
				got[src] = true
				i := slices.IndexFunc(sources(), func(s source) bool { return s.name == src })
				if i < 0 {
					t.Errorf("geomap %q: unknown source %q", p.Title, src)
					continue
				}
				want := sources()[i]
				lat, err1 := strconv.ParseFloat(smp.Metric["latitude"], 64)
				lon, err2 := strconv.ParseFloat(smp.Metric["longitude"], 64)
				if err1 != nil || err2 != nil || lat != want.lat || lon != want.lon {
					t.Errorf("geomap %q: source %s at %q,%q, want %g,%g", p.Title, src, smp.Metric["latitude"], smp.Metric["longitude"], want.lat, want.lon)
				}
			}
			for _, s := range coreSources() {
				if !got[s.name] {
					t.Errorf("geomap %q: no point for source %s (target %s): %+v", p.Title, s.name, vars["target"], res)
				}
			}
		}
	}
	if maps == 0 {
		t.Errorf("locations.json has no geomap panel")
	}
}

// alertsNamed returns the active alerts with the alertname (all when empty).
func alertsNamed(t *testing.T, prom *promtest.Server, ctx context.Context, name string) []promtest.Alert {
	t.Helper()
	all, err := prom.Alerts(ctx)
	if err != nil {
		t.Fatalf("alerts: %v", err)
	}
	var out []promtest.Alert
	for _, a := range all {
		if name == "" || a.Labels["alertname"] == name {
			out = append(out, a)
		}
	}
	return out
}

func firing(as []promtest.Alert) []promtest.Alert {
	var out []promtest.Alert
	for _, a := range as {
		if a.State == "firing" {
			out = append(out, a)
		}
	}
	return out
}

func describe(as []promtest.Alert) string {
	var parts []string
	for _, a := range as {
		parts = append(parts, fmt.Sprintf("%s %s %v", a.Labels["alertname"], a.State, a.Labels))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func checkTargetDownAlert(t *testing.T, a promtest.Alert, dropped netip.Addr) {
	t.Helper()
	want := map[string]string{"severity": "critical", "job": "icmp", "group": "core", "site": "lab",
		"target": dropped.String(), "ip": dropped.String()}
	for k, v := range want {
		if a.Labels[k] != v {
			t.Errorf("ICMPTargetDown label %s = %q, want %q (alert %v)", k, a.Labels[k], v, a.Labels)
		}
	}
	if !slices.ContainsFunc(coreSources(), func(s source) bool { return s.name == a.Labels["source"] }) {
		t.Errorf("ICMPTargetDown source %q, want one of the core sources", a.Labels["source"])
	}
	if a.Annotations["runbook_url"] != "https://github.com/icmp-exporter/icmp_exporter/blob/main/docs/runbook.md#icmptargetdown" {
		t.Errorf("runbook_url %q", a.Annotations["runbook_url"])
	}
	d := a.Annotations["description"]
	for _, s := range []string{dropped.String(), "group core", "from source " + a.Labels["source"], "site=lab"} {
		if !strings.Contains(d, s) {
			t.Errorf("description %q lacks %q", d, s)
		}
	}
}

func loadDashboards(t *testing.T) map[string]*promtest.Dashboard {
	t.Helper()
	root, err := lab.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	ds, err := promtest.LoadDashboards(filepath.Join(root, "dashboards"))
	if err != nil || len(ds) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	return ds
}

// evaluation runs every dashboard query (and variable query) under several
// variable selections and phases, and remembers which returned data: a
// non-empty result with at least one value that is not NaN.
type evaluation struct {
	dashboards map[string]*promtest.Dashboard
	varSets    []map[string]string
	hasData    map[string]string // "file: where" -> the phase and selection that gave data
	order      []string
	// bySelection records "file: where\x00selection" that gave data, and
	// fallback the queries that read RTT histograms in both forms.
	bySelection map[string]bool
	fallback    map[string]bool
}

func newEvaluation(ds map[string]*promtest.Dashboard, addrs []netip.Addr, dropped netip.Addr) *evaluation {
	base := map[string]string{
		"job": "icmp", "source": ".+", "group": ".+", "instance": ".+",
		"__rate_interval": rateInterval, "__interval": "2s", "__range": "10m", "__range_s": "600", "__interval_ms": "2000",
	}
	var sets []map[string]string
	// The dropped target, a healthy core target (native histograms), a classic-bucket target.
	for _, target := range []netip.Addr{dropped, addrs[1], addrs[len(addrs)-1]} {
		m := map[string]string{"target": target.String()}
		for k, v := range base {
			m[k] = v
		}
		sets = append(sets, m)
	}
	e := &evaluation{dashboards: ds, varSets: sets, hasData: map[string]string{},
		bySelection: map[string]bool{}, fallback: map[string]bool{}}
	for _, file := range sortedKeys(ds) {
		for _, q := range queriesOf(ds[file]) {
			key := file + ": " + q.Where
			e.order = append(e.order, key)
			if strings.Contains(q.Expr, ") or histogram_quantile(") && strings.Contains(q.Expr, "$target") {
				e.fallback[key] = true
			}
		}
	}
	return e
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// queriesOf returns the panel and annotation queries and the variable queries
// (as PromQL) of a dashboard.
func queriesOf(d *promtest.Dashboard) []promtest.Query {
	qs := d.Queries()
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		if e, _, err := promtest.VariableExpr(v.QueryString()); err == nil {
			qs = append(qs, promtest.Query{Where: "variable " + v.Name, Expr: e})
		}
	}
	return qs
}

func (e *evaluation) run(t *testing.T, ctx context.Context, prom *promtest.Server, phase string, at time.Time) {
	t.Helper()
	for _, file := range sortedKeys(e.dashboards) {
		for _, q := range queriesOf(e.dashboards[file]) {
			key := file + ": " + q.Where
			for i, vars := range e.varSets {
				expr, err := promtest.Expand(q.Expr, vars)
				if err != nil {
					t.Errorf("%s: %v", key, err)
					break
				}
				res, err := prom.Query(ctx, expr, at)
				if err != nil {
					t.Errorf("%s (%s): %v\n  query: %s", key, phase, err, expr)
					break
				}
				if dataIn(res) && e.hasData[key] == "" {
					e.hasData[key] = fmt.Sprintf("%s, target %s (selection %d)", phase, vars["target"], i)
				}
				if dataIn(res) {
					e.bySelection[key+"\x00"+strconv.Itoa(i)] = true
				}
			}
		}
	}
}

func dataIn(res promtest.QueryResult) bool {
	for _, s := range res.Samples {
		if s.Histogram != nil || !math.IsNaN(s.Value) {
			return true
		}
	}
	return false
}

func (e *evaluation) report(t *testing.T) {
	t.Helper()
	for _, key := range e.order {
		if e.hasData[key] == "" {
			t.Errorf("%s: no data in any phase or selection", key)
		} else if testing.Verbose() {
			t.Logf("%s: data (%s)", key, e.hasData[key])
		}
		// Per-target RTT queries read native histograms or classic buckets:
		// both halves must work (selection 1 is a native target, 2 a classic one).
		if e.fallback[key] {
			for _, i := range []int{1, 2} {
				if !e.bySelection[key+"\x00"+strconv.Itoa(i)] {
					t.Errorf("%s: no data for target %s (%s histograms)", key, e.varSets[i]["target"], map[int]string{1: "native", 2: "classic"}[i])
				}
			}
		}
	}
}

// checkRules checks Prometheus' own view of the rules: every group loaded,
// no rule in error, and data for every recording rule except the 1-day
// baseline (its 5m group may not have run yet).
func checkRules(t *testing.T, ctx context.Context, prom *promtest.Server) {
	t.Helper()
	groups, err := prom.Rules(ctx)
	if err != nil {
		t.Fatalf("rules: %v", err)
	}
	if len(groups) < 4 {
		t.Errorf("prometheus loaded %d rule groups, want 4", len(groups))
	}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Health == "err" {
				t.Errorf("rule %s/%s: %s", g.Name, r.Name, r.LastError)
			}
			if r.Type != "recording" || g.Name == "icmp_exporter.baseline" {
				continue
			}
			res, err := prom.Query(ctx, r.Name, time.Time{})
			if err != nil {
				t.Errorf("recording rule %s: %v", r.Name, err)
			} else if !dataIn(res) {
				t.Errorf("recording rule %s: no data", r.Name)
			}
		}
	}
	// The RTT rules read native histograms for core and classic buckets for classic.
	for _, rec := range []string{"group:icmp_rtt_seconds:p50_5m", "target:icmp_rtt_seconds:p99_5m"} {
		for _, group := range []string{"core", "classic"} {
			res, err := prom.Query(ctx, rec+`{group="`+group+`"}`, time.Time{})
			if err != nil || !dataIn(res) {
				t.Errorf("%s for group %s: no data (%v)", rec, group, err)
			}
		}
	}
}

// burstLossExpr is the expression of ICMPBurstLoss in the rule file, with a
// threshold of one burst.
func burstLossExpr(t *testing.T, path string) string {
	t.Helper()
	f, err := promtest.LoadRules(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == "ICMPBurstLoss" && strings.Contains(r.Expr, "icmp:threshold:burst_loss_runs_15m") {
				return strings.ReplaceAll(r.Expr, "icmp:threshold:burst_loss_runs_15m", "vector(1)")
			}
		}
	}
	t.Fatal("no ICMPBurstLoss reading icmp:threshold:burst_loss_runs_15m in the rules")
	return ""
}
