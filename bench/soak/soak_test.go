//go:build linux

package soak

import (
	"context"
	"flag"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

var (
	duration    = flag.Duration("soak.duration", 40*time.Second, "length of the soak run")
	targets     = flag.Int("soak.targets", 600, "targets probed (all groups)")
	interval    = flag.Duration("soak.interval", time.Second, "probing interval of every group")
	reloadEvery = flag.Duration("soak.reload", 8*time.Second, "a reload that adds or removes the churn group this often")
	scrapeEvery = flag.Duration("soak.scrape", 4*time.Second, "scrape this often")
	outageEvery = flag.Duration("soak.outage", 10*time.Second, "inject an outage on some outage-group targets this often")
	outageLen   = flag.Duration("soak.outage-length", 6*time.Second, "length of each injected outage (at least 4 intervals)")
	lossPercent = flag.Int("soak.loss", 5, "random loss (percent) on the loss group")
	outDir      = flag.String("soak.out", "", "directory for samples.tsv and summary.txt (default: the test's temp dir)")
	datapath    = flag.String("soak.datapath", "auto", "engine.datapath of the exporter")
)

// Group names and their roles.
const (
	groupSteady = "steady" // untouched: no outage, counters never go backwards
	groupLoss   = "loss"   // random loss by nftables, down_after high enough that it is never down
	groupOutage = "outage" // outages injected by nftables, each must be recorded
	groupChurn  = "churn"  // added and removed by reloads
)

// sample is one row of samples.tsv.
type sample struct {
	elapsed               time.Duration
	rss                   float64 // bytes
	goroutines, fds       float64
	cpu                   float64 // process CPU seconds, cumulative
	lag                   float64 // icmp_engine_schedule_lag_seconds
	targets               float64
	scrapeSeconds         float64
	backwards, falseOuts  int
	lossRatio             float64 // lost/sent of the loss group since start
	reloadsOK, reloadsBad int
}

// TestSoak runs the exporter against lab targets for -soak.duration while
// reloading every -soak.reload (adding or removing a group), injecting
// outages and random loss with nftables and scraping every -soak.scrape. It
// checks, at every scrape, that no counter of a target that stays in the
// configuration goes backwards and that no target outside the outage group
// has an outage; at the end, that every injected outage was recorded once,
// that goroutines and file descriptors stayed constant and, for runs of at
// least 10 minutes, that RSS did not grow over the last two thirds (the
// median of their last third at most 5% above that of their first third)
// and, for runs of at least 30 minutes, that it stayed within ±5% of its
// median there. bench/soak.sh runs it for an hour (or 10 minutes in CI)
// and plots samples.tsv.
func TestSoak(t *testing.T) {
	if *outageLen < 4**interval {
		t.Fatalf("-soak.outage-length %s must be at least 4 intervals (%s) so that down_after 3 declares an outage", *outageLen, 4**interval)
	}
	l := lab.New(t, lab.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	n := *targets
	nOutage := max(10, n/100)
	nLoss := max(10, n/100)
	nChurn := max(10, n/50)
	nSteady := n - nOutage - nLoss - nChurn
	if nSteady < 10 {
		t.Fatalf("-soak.targets %d is too small", n)
	}
	addrs := l.Addrs(n, false)
	steady, rest := addrs[:nSteady], addrs[nSteady:]
	loss, rest := rest[:nLoss], rest[nLoss:]
	outage, churn := rest[:nOutage], rest[nOutage:]

	base := lab.ExporterConfig{
		Source:   "soak",
		Datapath: *datapath,
		Defaults: lab.ConfigSettings{Interval: *interval, Timeout: *interval, Histogram: "native"},
		Groups: []lab.ConfigGroup{
			{Name: groupSteady, Targets: steady},
			{Name: groupLoss, ConfigSettings: lab.ConfigSettings{DownAfter: 20}, Targets: loss},
			{Name: groupOutage, ConfigSettings: lab.ConfigSettings{DownAfter: 3}, Targets: outage},
		},
	}
	withChurn := base
	withChurn.Groups = append(slices.Clone(base.Groups), lab.ConfigGroup{Name: groupChurn, Targets: churn})
	cfgPath := lab.WriteConfig(t, withChurn)
	churnPresent := true

	out := *outDir
	if out == "" {
		out = t.TempDir()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}

	// Random loss on the loss group, for the whole run.
	lossScript := fmt.Sprintf("table inet soak_loss {\n\tchain pre {\n\t\ttype filter hook prerouting priority raw; policy accept;\n"+
		"\t\tip daddr { %s } icmp type echo-request numgen random mod 100 < %d drop\n\t}\n}\n", joinAddrs(loss), *lossPercent)
	if err := nft(ctx, l, lossScript); err != nil {
		t.Fatalf("loss rule: %v", err)
	}
	t.Cleanup(func() { _ = nft(context.Background(), l, "delete table inet soak_loss\n") })

	x := l.StartExporter(ctx, lab.ExporterOptions{Config: cfgPath, Args: []string{"--web.enable-lifecycle"}})
	lab.WaitFor(t, 2*time.Minute, time.Second, "exporter serves all targets", func() (bool, string) {
		mfs, err := x.Metrics(ctx)
		if err != nil {
			return false, err.Error()
		}
		got := gauge(mfs, "icmp_engine_targets")
		return got == float64(n), fmt.Sprintf("icmp_engine_targets %v, want %d", got, n)
	})

	// Outage schedule: each injection drops a rotating slice of the outage
	// group for outageLen; injected counts what each target must record.
	injected := map[netip.Addr]int{}
	type pending struct {
		rule  *lab.DropRule
		until time.Time
		addrs []netip.Addr
	}
	var active *pending
	next := 0
	perShot := max(1, nOutage/5)

	var samples []sample
	prev := map[string]float64{} // counter series of stable groups → last value
	var backwards, falseOutages []string
	reloadsOK, reloadsBad := 0, 0
	start := time.Now()
	end := start.Add(*duration)
	scrapeT := time.NewTicker(*scrapeEvery)
	reloadT := time.NewTicker(*reloadEvery)
	outageT := time.NewTicker(*outageEvery)
	poll := time.NewTicker(200 * time.Millisecond)
	defer scrapeT.Stop()
	defer reloadT.Stop()
	defer outageT.Stop()
	defer poll.Stop()

	scrape := func() {
		t0 := time.Now()
		mfs, err := x.Metrics(ctx)
		took := time.Since(t0)
		if err != nil {
			t.Fatalf("scrape at %s: %v", time.Since(start).Round(time.Second), err)
		}
		s := sample{
			elapsed: time.Since(start), rss: gauge(mfs, "process_resident_memory_bytes"),
			goroutines: gauge(mfs, "go_goroutines"), fds: gauge(mfs, "process_open_fds"),
			cpu: counter(mfs, "process_cpu_seconds_total"), lag: gauge(mfs, "icmp_engine_schedule_lag_seconds"),
			targets: gauge(mfs, "icmp_engine_targets"), scrapeSeconds: took.Seconds(),
			reloadsOK: reloadsOK, reloadsBad: reloadsBad,
		}
		var lostLoss, sentLoss float64
		for name, mf := range mfs {
			if !strings.HasPrefix(name, "icmp_") || mf.GetType() != dto.MetricType_COUNTER {
				continue
			}
			for _, m := range mf.GetMetric() {
				g := lab.Label(m, "group")
				if g == "" || g == groupChurn {
					continue
				}
				key := name + "{" + labelString(m) + "}"
				v := m.GetCounter().GetValue()
				if p, ok := prev[key]; ok && v < p {
					backwards = append(backwards, fmt.Sprintf("%s went from %v to %v at %s", key, p, v, s.elapsed.Round(time.Second)))
				}
				prev[key] = v
				if name == "icmp_outages_total" && g != groupOutage && v > 0 {
					falseOutages = append(falseOutages, fmt.Sprintf("%s = %v at %s", key, v, s.elapsed.Round(time.Second)))
				}
				if g == groupLoss && name == "icmp_probes_lost_total" {
					lostLoss += v
				}
				if g == groupLoss && name == "icmp_probes_sent_total" {
					sentLoss += v
				}
			}
		}
		if sentLoss > 0 {
			s.lossRatio = lostLoss / sentLoss
		}
		s.backwards, s.falseOuts = len(backwards), len(falseOutages)
		samples = append(samples, s)
	}

	scrape()
	for now := time.Now(); now.Before(end); now = time.Now() {
		select {
		case <-scrapeT.C:
			scrape()
		case <-reloadT.C:
			c := base
			if !churnPresent {
				c = withChurn
			}
			if err := os.WriteFile(cfgPath, []byte(c.YAML()), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := reload(ctx, x); err != nil {
				reloadsBad++
				t.Errorf("reload at %s: %v", time.Since(start).Round(time.Second), err)
				continue
			}
			reloadsOK++
			churnPresent = !churnPresent
		case <-outageT.C:
			if active != nil || time.Until(end) < *outageLen+5**interval {
				continue
			}
			var shot []netip.Addr
			for range perShot {
				shot = append(shot, outage[next%nOutage])
				next++
			}
			active = &pending{rule: l.AddDrop(shot), until: time.Now().Add(*outageLen), addrs: shot}
		case <-poll.C:
			if active != nil && time.Now().After(active.until) {
				active.rule.Remove()
				for _, a := range active.addrs {
					injected[a]++
				}
				active = nil
			}
		case <-x.Proc.Done():
			t.Fatalf("exporter exited: %v", x.Exited())
		}
	}
	if active != nil {
		active.rule.Remove()
		for _, a := range active.addrs {
			injected[a]++
		}
	}
	// Let the last outage end (up_after 1) before the final check.
	time.Sleep(3 * *interval)
	scrape()

	// Every injected outage recorded, once.
	mfs, err := x.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var missed []string
	recorded := 0
	for _, m := range mfs["icmp_outages_total"].GetMetric() {
		if lab.Label(m, "group") != groupOutage {
			continue
		}
		a := netip.MustParseAddr(lab.Label(m, "ip"))
		got := int(m.GetCounter().GetValue())
		recorded += got
		if got != injected[a] {
			missed = append(missed, fmt.Sprintf("%s: %d outages recorded, %d injected", a, got, injected[a]))
		}
	}
	totalInjected := 0
	for _, v := range injected {
		totalInjected += v
	}

	sum := summarize(samples, *duration)
	sum.injected, sum.recorded = totalInjected, recorded
	sum.backwards, sum.falseOutages, sum.missed = backwards, falseOutages, missed
	sum.reloadsOK, sum.reloadsBad = reloadsOK, reloadsBad
	if err := writeResults(out, samples, sum); err != nil {
		t.Fatal(err)
	}
	t.Logf("results in %s:\n%s", out, sum.text())

	for _, f := range sum.failures() {
		t.Error(f)
	}
}

// reload POSTs /-/reload and returns an error unless it answered 200.
func reload(ctx context.Context, x *lab.Exporter) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, x.URL("/-/reload"), nil)
	if err != nil {
		return err
	}
	resp, err := x.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /-/reload: %s", resp.Status)
	}
	return nil
}

func nft(ctx context.Context, l *lab.Lab, script string) error {
	c := l.ExecTarget(ctx, "nft", "-f", "-")
	c.Stdin = strings.NewReader(script)
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("nft: %w: %s", err, out)
	}
	return nil
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

func gauge(mfs map[string]*dto.MetricFamily, name string) float64 {
	if mf := mfs[name]; mf != nil && len(mf.GetMetric()) > 0 {
		return mf.GetMetric()[0].GetGauge().GetValue()
	}
	return math.NaN()
}

func counter(mfs map[string]*dto.MetricFamily, name string) float64 {
	if mf := mfs[name]; mf != nil && len(mf.GetMetric()) > 0 {
		return mf.GetMetric()[0].GetCounter().GetValue()
	}
	return math.NaN()
}

func labelString(m *dto.Metric) string {
	ls := make([]string, 0, len(m.GetLabel()))
	for _, lp := range m.GetLabel() {
		ls = append(ls, lp.GetName()+"="+lp.GetValue())
	}
	sort.Strings(ls)
	return strings.Join(ls, ",")
}

// summary holds the pass criteria of a run.
type summary struct {
	duration                       time.Duration
	warmup                         time.Duration
	rssMedian, rssMin, rssMax      float64
	rssGrowth                      float64 // median of the last third of the steady window / of the first third, minus 1
	rssChecked                     bool    // growth judged (runs of at least growthRun)
	bandChecked                    bool    // band judged too (runs of at least bandRun)
	gorMin, gorMax, fdMin, fdMax   float64
	cpuPercent                     float64
	lagMax, scrapeMax              float64
	lossRatio                      float64
	injected, recorded             int
	backwards, falseOutages        []string
	missed                         []string
	reloadsOK, reloadsBad, samples int
}

// summarize computes the steady-state figures over the samples after the
// first third of the run (the warm-up).
func summarize(ss []sample, d time.Duration) summary {
	s := summary{duration: d, warmup: d / 3, samples: len(ss)}
	var steady []sample
	for _, x := range ss {
		if x.elapsed >= s.warmup {
			steady = append(steady, x)
		}
	}
	if len(steady) < 2 {
		steady = ss
	}
	rss := make([]float64, len(steady))
	s.gorMin, s.fdMin, s.rssMin = math.Inf(1), math.Inf(1), math.Inf(1)
	s.gorMax, s.fdMax, s.rssMax = math.Inf(-1), math.Inf(-1), math.Inf(-1)
	for i, x := range steady {
		rss[i] = x.rss
		s.rssMin, s.rssMax = min(s.rssMin, x.rss), max(s.rssMax, x.rss)
		s.gorMin, s.gorMax = min(s.gorMin, x.goroutines), max(s.gorMax, x.goroutines)
		s.fdMin, s.fdMax = min(s.fdMin, x.fds), max(s.fdMax, x.fds)
		s.lagMax = max(s.lagMax, x.lag)
		s.scrapeMax = max(s.scrapeMax, x.scrapeSeconds)
	}
	third := max(1, len(rss)/3)
	s.rssGrowth = median(rss[len(rss)-third:])/median(rss[:third]) - 1
	s.rssMedian = median(rss)
	first, last := steady[0], steady[len(steady)-1]
	if dt := (last.elapsed - first.elapsed).Seconds(); dt > 0 {
		s.cpuPercent = 100 * (last.cpu - first.cpu) / dt
	}
	s.lossRatio = ss[len(ss)-1].lossRatio
	s.rssChecked = d >= growthRun
	s.bandChecked = d >= bandRun
	return s
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	sort.Float64s(v)
	return v[len(v)/2]
}

// Slack of "constant": the HTTP server keeps a goroutine (and a socket)
// per open client connection, and the Go runtime starts helper goroutines
// (GC workers, timers) now and then.
const (
	goroutineSlack = 8
	fdSlack        = 4
)

// RSS after the warm-up: its growth (the median of the last third of the
// window against that of the first third) is judged in runs of at least
// growthRun, its band (every sample within rssLimit of the median) in runs
// of at least bandRun. A shorter window is still near the end of the
// warm-up: the heap's free pages settle over the first 15-20 reloads.
const (
	growthRun = 10 * time.Minute
	bandRun   = 30 * time.Minute
	rssLimit  = 0.05
)

func (s summary) failures() []string {
	var f []string
	if s.rssChecked && s.rssGrowth > rssLimit {
		f = append(f, fmt.Sprintf("RSS grew after warm-up: the median of the last third of the window is %+.1f%% of the first third's (want at most %+.0f%%)", 100*s.rssGrowth, 100*rssLimit))
	}
	if lo, hi := s.rssMin/s.rssMedian-1, s.rssMax/s.rssMedian-1; s.bandChecked && (lo < -rssLimit || hi > rssLimit) {
		f = append(f, fmt.Sprintf("RSS not flat after warm-up: %+.1f%% to %+.1f%% of its median %.1f MB (want within ±%.0f%%)", 100*lo, 100*hi, s.rssMedian/1e6, 100*rssLimit))
	}
	if s.gorMax-s.gorMin > goroutineSlack {
		f = append(f, fmt.Sprintf("goroutines not constant after warm-up: %v..%v", s.gorMin, s.gorMax))
	}
	if s.fdMax-s.fdMin > fdSlack {
		f = append(f, fmt.Sprintf("file descriptors not constant after warm-up: %v..%v", s.fdMin, s.fdMax))
	}
	if len(s.backwards) > 0 {
		f = append(f, fmt.Sprintf("%d counters went backwards, first: %s", len(s.backwards), s.backwards[0]))
	}
	if len(s.falseOutages) > 0 {
		f = append(f, fmt.Sprintf("%d false outages, first: %s", len(s.falseOutages), s.falseOutages[0]))
	}
	if len(s.missed) > 0 || s.injected == 0 {
		f = append(f, fmt.Sprintf("%d injected outages, %d recorded; per target: %s", s.injected, s.recorded, strings.Join(s.missed, "; ")))
	}
	if want := float64(*lossPercent) / 100; s.lossRatio < want/2 || s.lossRatio > want*2 {
		f = append(f, fmt.Sprintf("loss group lost %.2f%% of its probes, want about %d%%", 100*s.lossRatio, *lossPercent))
	}
	if s.reloadsBad > 0 || s.reloadsOK == 0 {
		f = append(f, fmt.Sprintf("reloads: %d ok, %d failed", s.reloadsOK, s.reloadsBad))
	}
	return f
}

func (s summary) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "duration %s, warm-up %s, %d scrapes, %d reloads ok, %d failed\n", s.duration, s.warmup, s.samples, s.reloadsOK, s.reloadsBad)
	fmt.Fprintf(&b, "RSS after warm-up: median %.1f MB, min %.1f MB (%+.1f%%), max %.1f MB (%+.1f%%); growth (last third vs first third) %+.1f%%",
		s.rssMedian/1e6, s.rssMin/1e6, 100*(s.rssMin/s.rssMedian-1), s.rssMax/1e6, 100*(s.rssMax/s.rssMedian-1), 100*s.rssGrowth)
	switch {
	case !s.rssChecked:
		fmt.Fprintf(&b, " (not judged: run shorter than %s)", growthRun)
	case !s.bandChecked:
		fmt.Fprintf(&b, " (growth judged; band not judged: run shorter than %s)", bandRun)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "goroutines %v..%v, open fds %v..%v, CPU %.1f%% of a core, schedule lag max %.3f s, scrape max %.2f s\n",
		s.gorMin, s.gorMax, s.fdMin, s.fdMax, s.cpuPercent, s.lagMax, s.scrapeMax)
	fmt.Fprintf(&b, "outages injected %d, recorded %d; false outages %d; counters gone backwards %d; loss group lost %.2f%% (nft drops %d%%)\n",
		s.injected, s.recorded, len(s.falseOutages), len(s.backwards), 100*s.lossRatio, *lossPercent)
	if f := s.failures(); len(f) == 0 {
		b.WriteString("PASS\n")
	} else {
		b.WriteString("FAIL\n")
		for _, x := range f {
			b.WriteString("  " + x + "\n")
		}
	}
	return b.String()
}

func writeResults(dir string, ss []sample, s summary) error {
	var b strings.Builder
	b.WriteString("# elapsed_s\trss_mb\tgoroutines\tfds\tcpu_percent\tlag_ms\ttargets\tscrape_s\n")
	for i, x := range ss {
		cpu := 0.0
		if i > 0 {
			if dt := (x.elapsed - ss[i-1].elapsed).Seconds(); dt > 0 {
				cpu = 100 * (x.cpu - ss[i-1].cpu) / dt
			}
		}
		fmt.Fprintf(&b, "%.1f\t%.2f\t%v\t%v\t%.1f\t%.2f\t%v\t%.3f\n", x.elapsed.Seconds(), x.rss/1e6, x.goroutines, x.fds, cpu, 1000*x.lag, x.targets, x.scrapeSeconds)
	}
	if err := os.WriteFile(filepath.Join(dir, "samples.tsv"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(s.text()), 0o644)
}
