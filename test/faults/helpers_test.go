//go:build linux

package faults

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// group is one target group of a test configuration.
type group struct {
	name     string
	extra    string // further YAML lines of the group, indented by four spaces
	targets  []string
	interval time.Duration
}

// writeConfig writes a configuration with an engine section (YAML lines
// indented by two spaces, may be empty), optional top-level YAML (e.g. an
// otlp section) and groups; it returns the file's path.
func writeConfig(t *testing.T, engine, top string, groups ...group) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("source: {name: faults}\n")
	if engine != "" {
		b.WriteString("engine:\n" + engine)
	}
	b.WriteString(top)
	b.WriteString("groups:\n")
	for _, g := range groups {
		iv := g.interval
		if iv == 0 {
			iv = 100 * time.Millisecond
		}
		fmt.Fprintf(&b, "  - name: %s\n    interval: %s\n    timeout: %s\n    down_after: 3\n%s    targets:\n", g.name, iv, iv, g.extra)
		for _, tg := range g.targets {
			fmt.Fprintf(&b, "      - %q\n", tg)
		}
	}
	path := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func addrStrings(as []netip.Addr) []string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return s
}

// sum adds the values of family name's series of group g ("" = every
// series) whose labels include want (name=value pairs).
func sum(mfs map[string]*dto.MetricFamily, name, g string, want ...string) float64 {
	var v float64
	for _, m := range mfs[name].GetMetric() {
		if g != "" && lab.Label(m, "group") != g {
			continue
		}
		ok := true
		for i := 0; i+1 < len(want); i += 2 {
			if lab.Label(m, want[i]) != want[i+1] {
				ok = false
			}
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Untyped != nil:
			v += m.GetUntyped().GetValue()
		}
	}
	return v
}

// count is the number of series of family name in group g.
func count(mfs map[string]*dto.MetricFamily, name, g string) int {
	n := 0
	for _, m := range mfs[name].GetMetric() {
		if lab.Label(m, "group") == g {
			n++
		}
	}
	return n
}

// countAbove is the number of series of family name in group g whose value
// is above v.
func countAbove(mfs map[string]*dto.MetricFamily, name, g string, v float64) int {
	n := 0
	for _, m := range mfs[name].GetMetric() {
		if lab.Label(m, "group") == g && m.GetGauge().GetValue() > v {
			n++
		}
	}
	return n
}

// fixture is an exporter running in a lab.
type fixture struct {
	t   *testing.T
	l   *lab.Lab
	x   *lab.Exporter
	ctx context.Context
}

func start(t *testing.T, l *lab.Lab, cfg string, args ...string) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	x := l.StartExporter(ctx, lab.ExporterOptions{Config: cfg, Args: args})
	return &fixture{t: t, l: l, x: x, ctx: ctx}
}

// metrics scrapes the exporter; it fails the test when the process died.
func (f *fixture) metrics() map[string]*dto.MetricFamily {
	f.t.Helper()
	mfs, err := f.x.Metrics(f.ctx)
	if err != nil {
		f.t.Fatalf("scrape: %v", err)
	}
	return mfs
}

// wait waits until cond holds for the metrics (polled every 200 ms,
// at most timeout); it fails the test with the last description.
func (f *fixture) wait(timeout time.Duration, what string, cond func(map[string]*dto.MetricFamily) (bool, string)) map[string]*dto.MetricFamily {
	f.t.Helper()
	return f.waitNamed(timeout, what, nil, cond)
}

// waitNamed is wait on a scrape of the named families only (all when
// names is empty): at 100 000 targets one parse of a full scrape can take
// most of a wait on a loaded machine.
func (f *fixture) waitNamed(timeout time.Duration, what string, names []string, cond func(map[string]*dto.MetricFamily) (bool, string)) map[string]*dto.MetricFamily {
	f.t.Helper()
	var last map[string]*dto.MetricFamily
	lab.WaitFor(f.t, timeout, 200*time.Millisecond, what, func() (bool, string) {
		if err := f.x.Exited(); err != nil {
			f.t.Fatal(err)
		}
		mfs, err := f.x.MetricsNamed(f.ctx, names...)
		if err != nil {
			return false, err.Error()
		}
		last = mfs
		return cond(mfs)
	})
	return last
}

// allUp waits until every target of group g is up with replies growing.
func (f *fixture) allUp(timeout time.Duration, g string, n int) map[string]*dto.MetricFamily {
	f.t.Helper()
	return f.wait(timeout, g+" up", func(mfs map[string]*dto.MetricFamily) (bool, string) {
		up := sum(mfs, "icmp_up", g)
		return up == float64(n) && count(mfs, "icmp_up", g) == n, fmt.Sprintf("%v of %d targets of %s up", up, n, g)
	})
}

// allDown waits until every target of group g is down.
func (f *fixture) allDown(timeout time.Duration, g string, n int) map[string]*dto.MetricFamily {
	f.t.Helper()
	return f.wait(timeout, g+" down", func(mfs map[string]*dto.MetricFamily) (bool, string) {
		up := sum(mfs, "icmp_up", g)
		return up == 0 && count(mfs, "icmp_up", g) == n, fmt.Sprintf("%v of %d targets of %s still up", up, n, g)
	})
}

// ipCmd runs ip with args; it fails the test on error.
func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := execOut("ip", args...); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}
