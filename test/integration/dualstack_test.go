//go:build linux

package integration

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// dualSeries is what one scrape says about the series of a host name:
// ip_version → icmp_up, ip and state change time.
type dualSeries map[string]struct {
	up, change float64
	ip         string
}

func scrapeName(t *testing.T, x *lab.Exporter, target string) (dualSeries, map[string]float64, error) {
	mfs, err := x.Metrics(context.Background())
	if err != nil {
		if e := x.Exited(); e != nil {
			t.Fatal(e)
		}
		return nil, nil, err
	}
	out := dualSeries{}
	changes := map[string]float64{}
	for _, m := range mfs["icmp_state_change_timestamp_seconds"].GetMetric() {
		if lab.Label(m, "target") == target {
			changes[lab.Label(m, "ip")] = m.GetGauge().GetValue()
		}
	}
	ips := map[string]float64{} // ip → icmp_up, for resolve: all
	for _, m := range mfs["icmp_up"].GetMetric() {
		if lab.Label(m, "target") != target {
			continue
		}
		ip := lab.Label(m, "ip")
		ips[ip] = m.GetGauge().GetValue()
		out[lab.Label(m, "ip_version")] = struct {
			up, change float64
			ip         string
		}{m.GetGauge().GetValue(), changes[ip], ip}
	}
	return out, ips, nil
}

// TestDualStackLab probes one name that resolves (through engine.hosts_file)
// to a lab IPv4 and a lab IPv6 address in a group with ip_version: both —
// two series, told apart by ip and ip_version — and a name with three IPv4
// addresses with resolve: all — three series. An nftables drop of the IPv6
// address only takes the IPv6 series down; the scraped series, fed to
// promtool, fire ICMPIPv6BrokenIPv4Works.
func TestDualStackLab(t *testing.T) {
	l := lab.New(t, lab.Options{})
	tool := lab.Tool(t, "promtool")
	v4, v6 := l.Addrs(1, false)[0], l.Addrs(1, true)[0]
	multi := l.Addrs(4, false)[1:]
	dir := t.TempDir()
	hosts := fmt.Sprintf("# lab names\n%s dual.lab\n%s dual.lab\n%s multi.lab\n%s multi.lab\n%s multi.lab\n", v4, v6, multi[0], multi[1], multi[2])
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(`
source: {name: lab}
engine: {datapath: icmp, hosts_file: hosts}
defaults: {interval: 200ms, timeout: 200ms, down_after: 2}
groups:
  - name: dual
    ip_version: both
    targets: [dual.lab]
  - name: multi
    resolve: all
    targets: [multi.lab]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	x := l.StartExporter(context.Background(), lab.ExporterOptions{Config: cfg})
	lab.WaitFor(t, 60*time.Second, 250*time.Millisecond, "dual.lab up over IPv4 and IPv6, multi.lab up on its three addresses", func() (bool, string) {
		s, _, err := scrapeName(t, x, "dual.lab")
		if err != nil {
			return false, err.Error()
		}
		_, ips, _ := scrapeName(t, x, "multi.lab")
		ok := len(s) == 2 && s["4"].up == 1 && s["6"].up == 1 && s["4"].ip == v4.String() && s["6"].ip == v6.String() && len(ips) == 3
		for _, a := range multi {
			ok = ok && ips[a.String()] == 1
		}
		return ok, fmt.Sprintf("dual.lab %+v, multi.lab %v", s, ips)
	})

	// Drop IPv6 echoes to the name's AAAA address only; record the series
	// once a second from just before the drop until IPv6 is down.
	var samples []dualSeries
	var t0 time.Time
	record := func() dualSeries {
		s, _, err := scrapeName(t, x, "dual.lab")
		if err != nil {
			t.Fatal(err)
		}
		if t0.IsZero() {
			t0 = time.Now()
		}
		samples = append(samples, s)
		return s
	}
	for range 3 {
		record()
		time.Sleep(time.Second)
	}
	l.AddDrop([]netip.Addr{v6})
	for i := 0; ; i++ {
		s := record()
		if s["6"].up == 0 && s["4"].up == 1 {
			break
		}
		if i > 30 {
			t.Fatalf("IPv6 series not down 30s after the drop: %+v", s)
		}
		time.Sleep(time.Second)
	}
	for range 3 {
		if s := record(); s["4"].up != 1 || s["6"].up != 0 {
			t.Fatalf("after the IPv6 drop: %+v, want IPv4 up and IPv6 down", s)
		}
		time.Sleep(time.Second)
	}

	// The recorded series, one sample a second, as a promtool test: the last
	// state held for 90s more; the alert fires once IPv6 has been down for
	// the 60s threshold.
	last := samples[len(samples)-1]
	change6 := math.Floor(last["6"].change - float64(t0.UnixNano())/1e9) // seconds into the test
	series := func(v string, f func(dualSeries) float64, lastVal float64) string {
		var vals []string
		for _, s := range samples {
			vals = append(vals, fmt.Sprint(f(s)))
		}
		return fmt.Sprintf("      - series: 'icmp_%s'\n        values: '%s %gx90'\n", v, strings.Join(vals, " "), lastVal)
	}
	labels := func(ver, ip string) string {
		return fmt.Sprintf(`{job="icmp",source="lab",group="dual",target="dual.lab",ip="%s",ip_version="%s"}`, ip, ver)
	}
	rel := func(ts float64) float64 { return math.Floor(ts - float64(t0.UnixNano())/1e9) }
	var b strings.Builder
	rules, err := filepath.Abs("../../alerts/icmp_exporter.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	evalAt := int(change6) + 65
	fmt.Fprintf(&b, "rule_files: [%q]\nevaluation_interval: 1s\ntests:\n  - interval: 1s\n    input_series:\n", rules)
	for _, ver := range []string{"4", "6"} {
		ip := last[ver].ip
		b.WriteString(series("up"+labels(ver, ip), func(s dualSeries) float64 { return s[ver].up }, last[ver].up))
		b.WriteString(series("state_change_timestamp_seconds"+labels(ver, ip), func(s dualSeries) float64 { return rel(s[ver].change) }, rel(last[ver].change)))
	}
	fmt.Fprintf(&b, `    alert_rule_test:
      - eval_time: %ds
        alertname: ICMPIPv6BrokenIPv4Works
        exp_alerts: []
      - eval_time: %ds
        alertname: ICMPIPv6BrokenIPv4Works
        exp_alerts:
          - exp_labels: {severity: warning, job: icmp, source: lab, group: dual, target: dual.lab, ip: %q, ip_version: "6"}
            exp_annotations:
              summary: "A target answers over IPv4 but not over IPv6."
              description: "dual.lab does not answer over IPv6 (ip %s, group dual) from source lab for 1m 5s, while it answers over IPv4. Labels: group=dual ip=%s ip_version=6 job=icmp source=lab target=dual.lab "
              runbook_url: "https://github.com/icmp-exporter/icmp_exporter/blob/main/docs/runbook.md#icmpipv6brokenipv4works"
`, max(len(samples), int(change6)+30), evalAt, v6, v6, v6)
	test := filepath.Join(dir, "dual_stack_lab.yml")
	if err := os.WriteFile(test, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "test", "rules", test).CombinedOutput()
	if err != nil {
		t.Errorf("promtool test rules on the lab's series: %v\n%s\n%s", err, out, b.String())
	}
	// The IPv4 series kept its state: no state change after the drop.
	if c := slices.IndexFunc(samples, func(s dualSeries) bool { return s["4"].change != samples[0]["4"].change }); c >= 0 {
		t.Errorf("the IPv4 series changed state at sample %d: %+v", c, samples[c])
	}
}
