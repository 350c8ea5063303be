//go:build linux

package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// startExporter builds the exporter and runs it in the probe namespace on a
// config with one group "lab" (label site=lab) probing addrs.
func startExporter(t *testing.T, l *lab.Lab, addrs []netip.Addr, interval time.Duration) *lab.Exporter {
	t.Helper()
	cfg := lab.WriteConfig(t, lab.ExporterConfig{
		Source:   "lab",
		Datapath: "icmp",
		Defaults: lab.ConfigSettings{Interval: interval, Timeout: time.Second},
		Groups: []lab.ConfigGroup{{Name: "lab", Targets: addrs,
			ConfigSettings: lab.ConfigSettings{Labels: map[string]string{"site": "lab"}}}},
	})
	return l.StartExporter(context.Background(), lab.ExporterOptions{Config: cfg})
}

// upCount returns how many lab targets icmp_up reports as 1, and problems
// with the series (unknown targets, wrong labels).
func upCount(mfs map[string]*dto.MetricFamily, want map[string]bool) (up int, problems []string) {
	mf := mfs["icmp_up"]
	if mf == nil {
		return 0, []string{"no icmp_up in the scrape"}
	}
	seen := map[string]bool{}
	for _, m := range mf.GetMetric() {
		tg := lab.Label(m, "target")
		if !want[tg] || seen[tg] || lab.Label(m, "ip") != tg || lab.Label(m, "group") != "lab" || lab.Label(m, "site") != "lab" {
			problems = append(problems, fmt.Sprintf("unexpected series %v", m.GetLabel()))
			continue
		}
		seen[tg] = true
		if m.GetGauge().GetValue() == 1 {
			up++
		}
	}
	return up, problems
}

// waitAllUp scrapes until icmp_up is 1 for every address and returns the
// last scrape.
func waitAllUp(t *testing.T, x *lab.Exporter, addrs []netip.Addr, timeout time.Duration) []byte {
	t.Helper()
	want := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		want[a.String()] = true
	}
	var body []byte
	lab.WaitFor(t, timeout, 500*time.Millisecond, "icmp_up 1 for every target", func() (bool, string) {
		var err error
		body, err = x.Scrape(context.Background())
		if err != nil {
			if e := x.Exited(); e != nil {
				t.Fatal(e)
			}
			return false, err.Error() // not listening yet
		}
		mfs, err := lab.ParseMetrics(body)
		if err != nil {
			t.Fatal(err)
		}
		up, problems := upCount(mfs, want)
		if len(problems) > 0 {
			t.Fatalf("icmp_up: %s", strings.Join(problems[:min(len(problems), 5)], "; "))
		}
		return up == len(addrs), fmt.Sprintf("%d of %d targets up", up, len(addrs))
	})
	return body
}

// TestExporterLab runs the built exporter in the probe namespace
// on a generated config of 1000 lab targets, scraped over HTTP: icmp_up is 1
// for every target and `promtool check metrics` finds nothing on the live
// scrape.
func TestExporterLab(t *testing.T) {
	l := lab.New(t, lab.Options{})
	tool := lab.Tool(t, "promtool")
	addrs := append(l.Addrs(900, false), l.Addrs(100, true)...)
	x := startExporter(t, l, addrs, 200*time.Millisecond)
	waitAllUp(t, x, addrs, 90*time.Second)

	// Let the counters move, then lint a fresh scrape.
	time.Sleep(time.Second)
	body, err := x.Scrape(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("promtool check metrics on the live scrape (%d bytes): %v\n%s", len(body), err, out)
	}
	mfs, err := lab.ParseMetrics(body)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"icmp_probes_sent_total", "icmp_replies_total", "icmp_probes_lost_total"} {
		mf := mfs[name]
		if mf == nil || len(mf.GetMetric()) != len(addrs) {
			t.Errorf("%s: %d series, want %d", name, len(mf.GetMetric()), len(addrs))
		}
	}
	for _, m := range mfs["icmp_replies_total"].GetMetric() {
		if m.GetCounter().GetValue() < 1 {
			t.Errorf("icmp_replies_total%v = %g, want >= 1", m.GetLabel(), m.GetCounter().GetValue())
		}
	}

	t.Run("outage of three targets in the exported metrics", func(t *testing.T) {
		dropped := map[string]bool{addrs[3].String(): true, addrs[500].String(): true, addrs[950].String(): true}
		w := l.DropWindow([]netip.Addr{addrs[3], addrs[500], addrs[950]}, 3*time.Second)
		body := waitAllUp(t, x, addrs, time.Minute)
		mfs, err := lab.ParseMetrics(body)
		if err != nil {
			t.Fatal(err)
		}
		series := func(name string) map[string]float64 {
			out := map[string]float64{}
			for _, m := range mfs[name].GetMetric() {
				v := m.GetGauge().GetValue()
				if m.GetCounter() != nil {
					v = m.GetCounter().GetValue()
				}
				out[lab.Label(m, "target")] = v
			}
			return out
		}
		outages, starts, ends := series("icmp_outages_total"), series("icmp_last_outage_start_timestamp_seconds"),
			series("icmp_last_outage_end_timestamp_seconds")
		if len(outages) != len(addrs) {
			t.Fatalf("icmp_outages_total: %d series, want %d", len(outages), len(addrs))
		}
		for tg, n := range outages {
			if want := map[bool]float64{true: 1, false: 0}[dropped[tg]]; n != want {
				t.Errorf("icmp_outages_total{target=%q} = %g, want %g", tg, n, want)
			}
		}
		unix := func(f float64) time.Time { return time.Unix(0, int64(f*1e9)) }
		for tg := range dropped {
			start, end := unix(starts[tg]), unix(ends[tg])
			if !within(start, w.Inserted, w.InsertedBy, 200*time.Millisecond) || !within(end, w.Deleted, w.DeletedBy, 200*time.Millisecond) {
				t.Errorf("%s: exported outage %s .. %s outside the drop window %+v", tg,
					start.Format(time.StampMicro), end.Format(time.StampMicro), w)
			}
		}
	})
}

// procStat reads utime+stime (clock ticks) of pid from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read cpu time: %w", err)
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	// Fields 14 and 15 (utime, stime) in USER_HZ ticks, which Linux fixes
	// at 100 per second for /proc.
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// procStatus returns a field of /proc/PID/status, e.g. "VmHWM".
func procStatus(pid int, field string) (string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return "", fmt.Errorf("read status: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == field {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// TestExporter10k measures one figure, the exporter's CPU use over a
// 20 s window (no scrapes in it) and its peak RSS while it probes 10 000 lab
// targets every second. It checks that all targets are up, logs the figures
// and writes them to bench/results/lab-10k.txt; it asserts nothing about speed.
func TestExporter10k(t *testing.T) {
	const (
		n        = 10000
		interval = time.Second
		window   = 20 * time.Second
	)
	l := lab.New(t, lab.Options{})
	addrs := l.Addrs(n, false)
	x := startExporter(t, l, addrs, interval)
	// `ip netns exec` execs the command: the PID becomes the exporter's.
	pid := x.Proc.Cmd.Process.Pid
	lab.WaitFor(t, 30*time.Second, 50*time.Millisecond, "exporter exec'd", func() (bool, string) {
		exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
		return err == nil && filepath.Base(exe) == filepath.Base(x.Binary), fmt.Sprintf("pid %d is %q (%v)", pid, exe, err)
	})
	// Probing alone, before any scrape: ten rounds.
	time.Sleep(10 * interval)
	hwmProbing, err := procStatus(pid, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	waitAllUp(t, x, addrs, 3*time.Minute)

	// One scrape, for its size, duration and CPU.
	sc0, err := procCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	body, err := x.Scrape(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	scrapeTime := time.Since(start)
	sc1, err := procCPU(pid)
	if err != nil {
		t.Fatal(err)
	}

	cpu0, err := procCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	time.Sleep(window)
	cpu1, err := procCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(t0)
	hwm, err := procStatus(pid, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	rss, err := procStatus(pid, "VmRSS")
	if err != nil {
		t.Fatal(err)
	}
	threads, _ := procStatus(pid, "Threads")

	// Still every target up after the window.
	waitAllUp(t, x, addrs, time.Minute)

	used := cpu1 - cpu0
	rev, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	loadavg, _ := os.ReadFile("/proc/loadavg")
	report := fmt.Sprintf(`icmp_exporter lab figure (test/integration TestExporter10k)
date:          %s
HEAD:          %s (binary built from the working tree, or $ICMPLAB_EXPORTER)
targets:       %d IPv4 lab targets, interval %s, timeout 1s, datapath icmp (ping sockets)
cpu:           %.2f s over %.1f s = %.1f%% of one core (utime+stime from /proc/PID/stat, no scrapes in the window)
peak rss:      %s (VmHWM) before the first scrape; %s (VmHWM) at end, after scrapes; rss at end %s
threads:       %s
scrape:        %d bytes in %s using %s CPU (text format, once before the window)
machine:       %d cores, load average at end %s
`, time.Now().UTC().Format(time.RFC3339), bytes.TrimSpace(rev), n, interval,
		used.Seconds(), elapsed.Seconds(), 100*used.Seconds()/elapsed.Seconds(),
		hwmProbing, hwm, rss, threads, len(body), scrapeTime.Round(time.Millisecond), sc1-sc0,
		runtime.NumCPU(), strings.TrimSpace(string(loadavg)))
	t.Log("\n" + report)

	root, err := lab.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "bench", "results")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lab-10k.txt"), []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
}
