//go:build linux

package prometheus_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
	"github.com/icmp-exporter/icmp_exporter/test/promtest"
)

// TestProbeEndpointBlackboxWay has a real Prometheus scrape the exporter's
// /probe the way blackbox_exporter is scraped (targets relabelled to
// __param_target, the exporter as __address__): every target gets
// probe_success and probe_duration_seconds with blackbox's meaning and its
// icmp_* series, evaluated by Prometheus; a host whose echoes are dropped
// has probe_success 0.
func TestProbeEndpointBlackboxWay(t *testing.T) {
	l := lab.New(t, lab.Options{})
	addrs := l.Addrs(4, false)
	static, probed, dead := addrs[0], addrs[1:3], addrs[3]
	l.Drop([]netip.Addr{dead})
	cfg := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
source: {name: lab}
engine: {datapath: icmp}
probe_endpoint: {enabled: true, max_targets: 10, expire_after: 1m}
groups:
  - name: icmp
    interval: 250ms
    timeout: 250ms
    down_after: 1
    targets: [%q]
`, static)), 0o644); err != nil {
		t.Fatal(err)
	}
	const exporter = "127.0.0.1:10427"
	l.StartExporter(context.Background(), lab.ExporterOptions{Config: cfg, Listen: exporter})

	var targets []string
	for _, a := range append(slices.Clone(probed), dead) {
		targets = append(targets, fmt.Sprintf("%q", a.String()))
	}
	prom := promtest.Start(t, promtest.Options{
		Config: fmt.Sprintf(`
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    params: {module: [icmp]}
    static_configs:
      - targets: [%s]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: %s
`, strings.Join(targets, ", "), exporter),
		Port:    9090,
		Command: l.Exec,
		Client:  l.HTTPClient(),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	series := func(expr string) (map[string]float64, error) {
		res, err := prom.Query(ctx, expr, time.Time{})
		if err != nil {
			return nil, err
		}
		out := map[string]float64{}
		for _, s := range res.Samples {
			out[s.Metric["instance"]] = s.Value
		}
		return out, nil
	}
	want := map[string]float64{probed[0].String(): 1, probed[1].String(): 1, dead.String(): 0}
	lab.WaitFor(t, 2*time.Minute, 500*time.Millisecond, "probe_success per /probe target", func() (bool, string) {
		got, err := series(`probe_success{job="blackbox"}`)
		if err != nil {
			return false, err.Error()
		}
		ts, _ := prom.Targets(ctx)
		return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprintf("got %v, want %v; scrape targets %+v", got, want, ts)
	})
	for _, tt := range []struct{ expr, what string }{
		// blackbox's meaning: a duration for answering targets, the timeout for the dead one
		{`probe_duration_seconds{job="blackbox"} > 0 and probe_duration_seconds{job="blackbox"} < 0.25`, "answering targets with their RTT"},
		{`probe_duration_seconds{job="blackbox"} == 0.25`, "the dead target at its timeout"},
		{`icmp_up{job="blackbox", group="icmp"} == on(instance) group_left probe_success{job="blackbox"}`, "icmp_up matching probe_success"},
		{`rate(icmp_replies_total{job="blackbox"}[10s]) > 0`, "replies of answering targets"},
		{`avg_over_time(probe_success{job="blackbox"}[1m])`, "a blackbox availability query"},
	} {
		var got map[string]float64
		lab.WaitFor(t, time.Minute, 500*time.Millisecond, tt.what, func() (bool, string) {
			var err error
			got, err = series(tt.expr)
			if err != nil {
				t.Fatalf("%s: %v", tt.expr, err)
			}
			n := 2
			switch tt.what {
			case "the dead target at its timeout":
				n = 1
			case "icmp_up matching probe_success", "a blackbox availability query":
				n = 3
			}
			return len(got) == n, fmt.Sprintf("%s: %v", tt.expr, got)
		})
		if tt.what == "the dead target at its timeout" {
			if _, ok := got[dead.String()]; !ok {
				t.Errorf("%s: got %v, want the dead target", tt.expr, got)
			}
		}
	}
	// The static target is not in any /probe answer.
	if got, err := series(`icmp_up{job="blackbox", target=` + fmt.Sprintf("%q", static.String()) + `}`); err != nil || len(got) != 0 {
		t.Errorf("static target in /probe answers: %v %v", got, err)
	}
}
