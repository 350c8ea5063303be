//go:build linux

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// sdTarget is one target of a file_sd file: its address and rack label.
type sdTarget struct {
	addr netip.Addr
	rack string
}

// writeSD writes targets as a file_sd JSON file (one target group per
// rack), atomically.
func writeSD(t *testing.T, path string, targets []sdTarget) {
	t.Helper()
	byRack := map[string][]string{}
	for _, x := range targets {
		byRack[x.rack] = append(byRack[x.rack], x.addr.String())
	}
	type group struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	var groups []group
	for _, r := range slices.Sorted(maps.Keys(byRack)) {
		groups = append(groups, group{Targets: byRack[r], Labels: map[string]string{"rack": r, "__meta_origin": "netbox"}})
	}
	data, err := json.Marshal(groups)
	if err != nil {
		t.Fatal(err)
	}
	writeFileAtomic(t, path, data)
}

func writeFileAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// sdState is what a scrape says about the discovered targets: rack label
// and probes sent per target (up ones only in up), and the discovery series.
type sdState struct {
	racks    map[string]string  // target → rack label of icmp_up
	up       int                // targets with icmp_up 1
	sent     map[string]float64 // target → icmp_probes_sent_total
	origin   int                // series with an origin label (from relabelling)
	failures float64            // icmp_discovery_refresh_failures_total
}

func scrapeSD(t *testing.T, x *lab.Exporter) (sdState, error) {
	mfs, err := x.Metrics(context.Background())
	if err != nil {
		if e := x.Exited(); e != nil {
			t.Fatal(e)
		}
		return sdState{}, err
	}
	s := sdState{racks: map[string]string{}, sent: map[string]float64{}}
	for _, m := range mfs["icmp_up"].GetMetric() {
		tg := lab.Label(m, "target")
		s.racks[tg] = lab.Label(m, "rack")
		if m.GetGauge().GetValue() == 1 {
			s.up++
		}
		if lab.Label(m, "origin") == "netbox" {
			s.origin++
		}
	}
	for _, m := range mfs["icmp_probes_sent_total"].GetMetric() {
		s.sent[lab.Label(m, "target")] = m.GetCounter().GetValue()
	}
	s.failures = sum(mfs["icmp_discovery_refresh_failures_total"])
	return s, nil
}

func sum(mf *dto.MetricFamily) float64 {
	var v float64
	for _, m := range mf.GetMetric() {
		v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return v
}

// wantRacks returns target → rack for targets.
func wantRacks(targets []sdTarget) map[string]string {
	out := make(map[string]string, len(targets))
	for _, x := range targets {
		out[x.addr.String()] = x.rack
	}
	return out
}

// waitSD waits until the exporter probes exactly targets, with their racks,
// all up; it returns the last state.
func waitSD(t *testing.T, x *lab.Exporter, targets []sdTarget, timeout time.Duration) sdState {
	t.Helper()
	want := wantRacks(targets)
	var s sdState
	lab.WaitFor(t, timeout, 250*time.Millisecond, fmt.Sprintf("exactly the %d file_sd targets up with their labels", len(targets)), func() (bool, string) {
		var err error
		s, err = scrapeSD(t, x)
		if err != nil {
			return false, err.Error()
		}
		var wrong []string
		for tg, r := range s.racks {
			if want[tg] != r {
				wrong = append(wrong, fmt.Sprintf("%s rack=%q (want %q)", tg, r, want[tg]))
			}
		}
		slices.Sort(wrong)
		return len(wrong) == 0 && len(s.racks) == len(want) && s.up == len(want) && s.origin == len(want),
			fmt.Sprintf("%d series, %d up, %d with origin, want %d; wrong: %v", len(s.racks), s.up, s.origin, len(want), wrong[:min(3, len(wrong))])
	})
	return s
}

// TestFileSDLab runs the exporter in the lab on a file_sd file of 1000 lab
// targets with labels: all are probed and up with those labels; a rewrite
// (100 removed, 100 added, 100 relabelled) is applied within one refresh
// with the counters of every kept target intact; a broken file keeps the
// last good set.
func TestFileSDLab(t *testing.T) {
	l := lab.New(t, lab.Options{})
	dir := t.TempDir()
	sd := filepath.Join(dir, "targets.json")
	addrs := append(l.Addrs(1000, false), l.Addrs(100, true)...) // 1000 first, 100 more to add later
	var targets []sdTarget
	for i, a := range addrs[:1000] {
		targets = append(targets, sdTarget{a, fmt.Sprintf("r%02d", i%20)})
	}
	writeSD(t, sd, targets)
	const refresh = 3 * time.Second // the watch usually applies a change sooner
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
source: {name: lab}
engine: {datapath: icmp}
defaults: {interval: 200ms, timeout: 1s}
groups:
  - name: inventory
    labels: {site: lab}
    file_sd_configs:
      - files: [%q]
        refresh_interval: %s
    relabel_configs:
      - source_labels: [__meta_origin]
        target_label: origin
`, sd, refresh)), 0o644); err != nil {
		t.Fatal(err)
	}
	x := l.StartExporter(context.Background(), lab.ExporterOptions{Config: cfg})
	before := waitSD(t, x, targets, 90*time.Second)

	// Rewrite: drop the first 100, relabel the next 100, add 100 new ones.
	next := slices.Clone(targets[100:])
	for i := range 100 {
		next[i].rack = "moved"
	}
	for _, a := range addrs[1000:] {
		next = append(next, sdTarget{a, "new"})
	}
	writeSD(t, sd, next)
	changed := time.Now()
	after := waitSD(t, x, next, 60*time.Second)
	if took := time.Since(changed); took > refresh+10*time.Second {
		t.Errorf("the rewrite took %s to apply, more than one refresh_interval (%s) plus 10s", took, refresh)
	}
	for _, x := range next[:900] { // kept (900) and relabelled (the first 100 of them)
		tg := x.addr.String()
		if after.sent[tg] < before.sent[tg] || before.sent[tg] == 0 {
			t.Errorf("%s: icmp_probes_sent_total %g before the rewrite, %g after: the counter was reset", tg, before.sent[tg], after.sent[tg])
		}
	}

	// A broken file keeps the last good set; the breakage is counted once.
	writeFileAtomic(t, sd, []byte(`[{"targets": ["`+addrs[0].String()))
	lab.WaitFor(t, 30*time.Second, 250*time.Millisecond, "the broken file counted", func() (bool, string) {
		s, err := scrapeSD(t, x)
		if err != nil {
			return false, err.Error()
		}
		return s.failures == 1, fmt.Sprintf("icmp_discovery_refresh_failures_total %g", s.failures)
	})
	time.Sleep(refresh + time.Second) // one more periodic refresh of the broken file
	s := waitSD(t, x, next, 30*time.Second)
	if s.failures != 1 {
		t.Errorf("icmp_discovery_refresh_failures_total %g after another refresh of the same broken file, want 1", s.failures)
	}
	if !strings.Contains(x.Proc.Output(), "target file unusable") {
		t.Errorf("the broken file was not logged")
	}
	if n := strings.Count(x.Proc.Output(), "target file unusable"); n != 1 {
		t.Errorf("the broken file was logged %d times, want once", n)
	}
}
