//go:build linux

package outage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// bounds is what the measurement of one outage made by a drop rule must
// satisfy (see the package documentation).
type bounds struct {
	w                lab.Window
	minDur, maxDur   time.Duration // allowed measured duration
	startLo, startHi time.Time     // allowed start
	endLo, endHi     time.Time     // allowed end
	ruleMin, ruleMax time.Duration // the rule's own length bounds
	interval, slack  time.Duration
}

// outageBounds computes the bounds of an outage made by a rule in force
// during w, probed every interval, with slack on the duration.
func outageBounds(w lab.Window, interval, slack time.Duration) bounds {
	b := bounds{w: w, interval: interval, slack: slack}
	b.ruleMin = w.Deleted.Sub(w.InsertedBy)
	b.ruleMax = w.DeletedBy.Sub(w.Inserted)
	b.minDur = b.ruleMin - interval - slack
	b.maxDur = b.ruleMax + interval + slack
	b.startLo, b.startHi = w.Inserted.Add(-interval), w.InsertedBy.Add(interval)
	b.endLo, b.endHi = w.Deleted.Add(-interval), w.DeletedBy.Add(interval)
	return b
}

// check returns what is wrong with a measured outage (nil if nothing) and a
// line describing the rule and the measurement for the log.
func (b bounds) check(start, end time.Time, dur time.Duration) (problems []string, desc string) {
	w := b.w
	desc = fmt.Sprintf("rule: insert took %s, delete took %s, in force %s..%s; "+
		"measured: duration %s (error vs rule %+.3fms..%+.3fms, allowed ±%s+%s), "+
		"start %+.3fms after insert began, end %+.3fms after delete began",
		w.InsertedBy.Sub(w.Inserted), w.DeletedBy.Sub(w.Deleted), b.ruleMin, b.ruleMax,
		dur, ms(dur-b.ruleMax), ms(dur-b.ruleMin), b.interval, b.slack,
		ms(start.Sub(w.Inserted)), ms(end.Sub(w.Deleted)))
	if dur < b.minDur || dur > b.maxDur {
		problems = append(problems, fmt.Sprintf("duration %s outside [%s, %s]", dur, b.minDur, b.maxDur))
	}
	if start.Before(b.startLo) || start.After(b.startHi) {
		problems = append(problems, fmt.Sprintf("start %s outside [%s, %s]", ts(start), ts(b.startLo), ts(b.startHi)))
	}
	if end.Before(b.endLo) || end.After(b.endHi) {
		problems = append(problems, fmt.Sprintf("end %s outside [%s, %s]", ts(end), ts(b.endLo), ts(b.endHi)))
	}
	// Gauges of Unix seconds are float64: about 0.24 µs apart today.
	if got := end.Sub(start); absDur(got-dur) > 10*time.Microsecond {
		problems = append(problems, fmt.Sprintf("end - start = %s but duration %s", got, dur))
	}
	return problems, desc
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ts(t time.Time) string { return t.UTC().Format("15:04:05.000000") }

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// unixTime converts a Unix-seconds gauge to a time (to the microsecond).
func unixTime(v float64) time.Time {
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3)
}

// secs converts float seconds to a duration.
func secs(v float64) time.Duration { return time.Duration(math.Round(v * 1e9)) }

// writeConfig writes an exporter config with one group "lab" that probes
// addrs every interval with the icmp datapath, without histograms.
func writeConfig(t *testing.T, interval, timeout time.Duration, addrs []netip.Addr) string {
	t.Helper()
	return lab.WriteConfig(t, lab.ExporterConfig{Source: "lab", Datapath: "icmp", Groups: []lab.ConfigGroup{{
		Name: "lab", Targets: addrs,
		ConfigSettings: lab.ConfigSettings{Interval: interval, Timeout: timeout, Histogram: "none"},
	}}})
}

// prioritized returns the command line prefix that runs the prober under
// test with real-time round-robin priority 10 (`chrt --rr 10`), or at nice
// -10 where the kernel refuses real-time scheduling (a cgroup without a
// real-time budget). See "CPU priority" in the package documentation.
// realtime reports which of the two it is.
func prioritized(t *testing.T) (wrapper []string, realtime bool) {
	t.Helper()
	if out, err := exec.Command("chrt", "--rr", "10", "true").CombinedOutput(); err != nil {
		t.Logf("chrt --rr 10 not possible here (%v: %s): running the prober at nice -10", err, bytes.TrimSpace(out))
		return []string{"nice", "-n", "-10"}, false
	}
	return []string{"chrt", "--rr", "10"}, true
}

// exporter is the built binary running in a lab's probe namespace.
type exporter struct {
	*lab.Exporter
	realtime bool // runs with real-time priority (see prioritized)
}

// startExporter runs the exporter in the probe namespace on cfg.
func startExporter(ctx context.Context, t *testing.T, l *lab.Lab, cfg string) *exporter {
	t.Helper()
	wrapper, rt := prioritized(t)
	return &exporter{Exporter: l.StartExporter(ctx, lab.ExporterOptions{Config: cfg, Wrapper: wrapper, Args: []string{"--web.enable-lifecycle"}}), realtime: rt}
}

// scrape fetches and parses /metrics.
func (x *exporter) scrape(ctx context.Context) (metrics, error) {
	mfs, err := x.Metrics(ctx)
	return metrics(mfs), err
}

// mustScrape scrapes or fails the test.
func (x *exporter) mustScrape(ctx context.Context, t *testing.T) metrics {
	t.Helper()
	m, err := x.scrape(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// reload POSTs /-/reload.
func (x *exporter) reload(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, x.URL("/-/reload"), nil)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	resp, err := x.Client.Do(req)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reload: %s: %s", resp.Status, body)
	}
	return nil
}

// waitAllUp scrapes until icmp_up is 1 for every address.
func (x *exporter) waitAllUp(ctx context.Context, t *testing.T, addrs []netip.Addr, timeout time.Duration) metrics {
	t.Helper()
	var m metrics
	lab.WaitFor(t, timeout, 250*time.Millisecond, "icmp_up 1 for every target", func() (bool, string) {
		var err error
		m, err = x.scrape(ctx)
		if err != nil {
			if e := x.Exited(); e != nil {
				t.Fatal(e)
			}
			return false, err.Error()
		}
		up := 0
		for _, a := range addrs {
			if v, ok := m.value("icmp_up", a.String()); ok && v == 1 {
				up++
			}
		}
		return up == len(addrs), fmt.Sprintf("%d of %d targets up", up, len(addrs))
	})
	return m
}

// metrics is a parsed scrape.
type metrics map[string]*dto.MetricFamily

// value returns the value of the series of name whose target label is
// target ("" for a series without one, e.g. engine metrics).
func (m metrics) value(name, target string) (float64, bool) {
	mf := m[name]
	if mf == nil {
		return 0, false
	}
	for _, s := range mf.GetMetric() {
		if lab.Label(s, "target") == target {
			return scalar(s)
		}
	}
	return 0, false
}

// scalar returns the value of a gauge, counter or untyped sample.
func scalar(s *dto.Metric) (float64, bool) {
	switch {
	case s.Gauge != nil:
		return s.GetGauge().GetValue(), true
	case s.Counter != nil:
		return s.GetCounter().GetValue(), true
	case s.Untyped != nil:
		return s.GetUntyped().GetValue(), true
	}
	return 0, false
}

// byTarget returns the value of name for every target.
func (m metrics) byTarget(name string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range m[name].GetMetric() {
		switch {
		case s.Gauge != nil:
			out[lab.Label(s, "target")] = s.GetGauge().GetValue()
		case s.Counter != nil:
			out[lab.Label(s, "target")] = s.GetCounter().GetValue()
		}
	}
	return out
}

// lastOutage is what the last-outage gauges say about one target.
type lastOutage struct {
	total      float64
	start, end time.Time
	ended      bool // the end gauge is set (0 while the outage is ongoing)
	duration   time.Duration
	resolution time.Duration
	up         float64
}

func (m metrics) lastOutage(target string) (lastOutage, error) {
	var o lastOutage
	var missing []string
	get := func(name string) float64 {
		v, ok := m.value(name, target)
		if !ok {
			missing = append(missing, name)
		}
		return v
	}
	o.total = get("icmp_outages_total")
	o.up = get("icmp_up")
	o.resolution = secs(get("icmp_outage_resolution_seconds"))
	o.start = unixTime(get("icmp_last_outage_start_timestamp_seconds"))
	end := get("icmp_last_outage_end_timestamp_seconds")
	o.end, o.ended = unixTime(end), end != 0
	o.duration = secs(get("icmp_last_outage_duration_seconds"))
	if len(missing) > 0 {
		return o, fmt.Errorf("target %s: no series %s", target, strings.Join(missing, ", "))
	}
	return o, nil
}

// loadavg returns the first three fields of /proc/loadavg, for the logs.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
