//go:build linux

package outage

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// TestExporterPath: the exporter in the probe namespace of a chain of three
// routers probes one IPv4 and one IPv6 target with path snapshots and path
// MTU searches on (the link behind the third router carries 1400 bytes).
// Up: icmp_path_hops 4 and icmp_path_mtu_bytes 1400. The link behind the
// second router is cut: icmp_path_last_hop_info names the second router at
// TTL 2, and /api/v1/path shows the down snapshot. Restored: the info
// series is gone, two path changes are counted, and the log's outage-ended
// line carries the path seen during the outage.
func TestExporterPath(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := lab.NewChain(t, 3)
	c.SetMTU(t, 3, 1400)
	targets := []netip.Addr{c.Addrs(1, false)[0], c.Addrs(1, true)[0]}
	second := map[string]string{targets[0].String(): c.Router4[1].String(), targets[1].String(): c.Router6[1].String()}
	cfg := filepath.Join(t.TempDir(), "config.yml")
	yml := fmt.Sprintf(`source: {name: lab}
engine: {datapath: icmp}
groups:
  - name: routed
    interval: 200ms
    timeout: 200ms
    down_after: 2
    path: {enabled: true, max_hops: 8, cooldown: 1s, mtu: {enabled: true, max: 1500, interval: 1m}}
    targets: [%q, %q]
`, targets[0], targets[1])
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	x := &exporter{Exporter: c.StartExporter(ctx, lab.ExporterOptions{Config: cfg})}
	waitSeries := func(what string, cond func(m metrics) (bool, string)) metrics {
		t.Helper()
		var m metrics
		lab.WaitFor(t, time.Minute, 200*time.Millisecond, what, func() (bool, string) {
			var err error
			if m, err = x.scrape(ctx); err != nil {
				if e := x.Exited(); e != nil {
					t.Fatal(e)
				}
				return false, err.Error()
			}
			return cond(m)
		})
		return m
	}
	// Path changes before the cut: the first probes of a fresh lab may be
	// lost while the routers resolve their neighbours (a first path that
	// did not reach the target, then the whole one), so the changes the
	// cut makes are counted from here.
	var before map[string]float64
	waitSeries("baseline hop count and path MTU", func(m metrics) (bool, string) {
		hops, mtu := m.byTarget("icmp_path_hops"), m.byTarget("icmp_path_mtu_bytes")
		for _, a := range targets {
			if hops[a.String()] != 4 || mtu[a.String()] != 1400 {
				return false, fmt.Sprintf("hops %v, mtu %v", hops, mtu)
			}
		}
		before = m.byTarget("icmp_path_changes_total")
		return true, ""
	})
	restore := c.Cut(t, 2)
	defer restore()
	waitSeries("last hop info naming the second router", func(m metrics) (bool, string) {
		mf := m["icmp_path_last_hop_info"]
		named := 0
		desc := ""
		for _, s := range mf.GetMetric() {
			tg := lab.Label(s, "target")
			desc += fmt.Sprintf("%s: hop %s ttl %s; ", tg, lab.Label(s, "hop"), lab.Label(s, "hop_ttl"))
			if lab.Label(s, "hop") == second[tg] && lab.Label(s, "hop_ttl") == "2" && s.GetGauge().GetValue() == 1 {
				named++
			}
		}
		return named == len(targets), desc
	})
	for _, a := range targets {
		var got struct {
			Last struct {
				Reason  string `json:"reason"`
				LastHop string `json:"last_hop"`
				Reached bool   `json:"reached"`
			} `json:"last"`
			Baseline struct {
				HopCount int `json:"hop_count"`
			} `json:"baseline"`
		}
		body, err := lab.Scrape(ctx, x.Client, x.URL("/api/v1/path?group=routed&target="+a.String()))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		if got.Last.Reason != "down" || got.Last.LastHop != second[a.String()] || got.Last.Reached || got.Baseline.HopCount != 4 {
			t.Errorf("/api/v1/path for %s: %s", a, body)
		}
	}
	restore()
	waitSeries("path whole again", func(m metrics) (bool, string) {
		up, changes := m.byTarget("icmp_up"), m.byTarget("icmp_path_changes_total")
		info := len(m["icmp_path_last_hop_info"].GetMetric())
		for _, a := range targets {
			if up[a.String()] != 1 || changes[a.String()]-before[a.String()] != 2 {
				return false, fmt.Sprintf("up %v changes %v (before the cut %v)", up, changes, before)
			}
		}
		return info == 0, fmt.Sprintf("%d last hop info series", info)
	})
	// The outage-ended log line carries the path seen during the outage.
	lab.WaitFor(t, 10*time.Second, 100*time.Millisecond, "outage ended with path", func() (bool, string) {
		n := 0
		for _, line := range strings.Split(x.Proc.Output(), "\n") {
			if strings.Contains(line, "outage ended") && strings.Contains(line, "2 "+c.Router4[1].String()) ||
				strings.Contains(line, "outage ended") && strings.Contains(line, "2 "+c.Router6[1].String()) {
				n++
			}
		}
		return n == len(targets), fmt.Sprintf("%d of %d outage-ended lines with the path", n, len(targets))
	})
}
