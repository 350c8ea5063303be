//go:build linux

package faults

import (
	"context"
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// TestMemoryLimitBelowWorkingSet runs the exporter with GOMEMLIMIT far
// below its working set (8 MiB for 5 000 targets, whose heap is several
// times that): the Go runtime collects garbage continuously, but the
// process must live, keep every target up, keep probing on schedule and
// keep its counters (none goes backwards, no false loss beyond 1%).
func TestMemoryLimitBelowWorkingSet(t *testing.T) {
	l := lab.New(t, lab.Options{})
	const n = 5000
	cfg := writeConfig(t, "  datapath: icmp\n", "", group{name: "g", interval: time.Second, targets: addrStrings(l.Addrs(n, false))})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	x := l.StartExporter(ctx, lab.ExporterOptions{Config: cfg, Wrapper: []string{"env", "GOMEMLIMIT=8MiB"}})
	f := &fixture{t: t, l: l, x: x, ctx: ctx}
	first := f.allUp(2*time.Minute, "g", n)

	prev := map[string]float64{}
	var samples []string
	for i := 0; i < 10; i++ {
		time.Sleep(2 * time.Second)
		// Under this limit the collector may be slow enough that the
		// exporter cuts a scrape (its per-write stall deadline): that is
		// degrading, not dying. Three scrapes in a row must not all fail.
		var mfs map[string]*dto.MetricFamily
		for try := 0; mfs == nil; try++ {
			var err error
			if mfs, err = x.Metrics(ctx); err != nil {
				if try == 2 || x.Exited() != nil {
					t.Fatalf("scrape under the memory limit: %v (exited: %v)", err, x.Exited())
				}
				t.Logf("scrape under the memory limit cut, retrying: %v", err)
				mfs = nil
			}
		}
		for _, name := range []string{"icmp_probes_sent_total", "icmp_replies_total"} {
			v := sum(mfs, name, "g")
			if v < prev[name] {
				t.Errorf("%s went from %v to %v", name, prev[name], v)
			}
			prev[name] = v
		}
		if up := sum(mfs, "icmp_up", "g"); up != n {
			t.Errorf("%v of %d targets up under the memory limit", up, n)
		}
		samples = append(samples, fmt.Sprintf("rss %.1f MB heap %.1f MB gc cycles %v",
			sum(mfs, "process_resident_memory_bytes", "")/1e6, sum(mfs, "go_memstats_heap_alloc_bytes", "")/1e6,
			gcCycles(mfs)))
	}
	last := f.metrics()
	sent := sum(last, "icmp_probes_sent_total", "g") - sum(first, "icmp_probes_sent_total", "g")
	lost := sum(last, "icmp_probes_lost_total", "g") - sum(first, "icmp_probes_lost_total", "g")
	gcs := gcCycles(last) - gcCycles(first)
	t.Logf("under GOMEMLIMIT=8MiB: %v probes sent, %v lost, %v GC cycles in the window; %s", sent, lost, gcs, samples[len(samples)-1])
	if sent < 0.8*n*20 {
		t.Errorf("%v probes sent in about 20 s, want about %d: probing fell behind", sent, n*20)
	}
	if lost > 0.01*sent {
		t.Errorf("%v of %v probes lost under the memory limit", lost, sent)
	}
	if gcs < 20 {
		t.Errorf("only %v GC cycles: the limit did not bite (is GOMEMLIMIT passed on?)", gcs)
	}
}

// gcCycles reads the number of completed GC cycles from the Go collector's
// go_gc_duration_seconds summary.
func gcCycles(mfs map[string]*dto.MetricFamily) float64 {
	for _, m := range mfs["go_gc_duration_seconds"].GetMetric() {
		return float64(m.GetSummary().GetSampleCount())
	}
	return 0
}

// TestDefaultGOGC: the exporter runs with its own default GOGC (10, see
// gcPercent in main.go) unless GOGC is set in its environment.
func TestDefaultGOGC(t *testing.T) {
	l := lab.New(t, lab.Options{})
	cfg := writeConfig(t, "  datapath: icmp\n", "", group{name: "g", interval: time.Second, targets: addrStrings(l.Addrs(10, false))})
	for _, tc := range []struct {
		env  string
		want float64
	}{{"", 10}, {"GOGC=100", 100}} {
		ctx, cancel := context.WithCancel(context.Background())
		wrapper := []string{"env", "-u", "GOGC"}
		if tc.env != "" {
			wrapper = append(wrapper, tc.env)
		}
		x := l.StartExporter(ctx, lab.ExporterOptions{Config: cfg, Wrapper: wrapper})
		var mfs map[string]*dto.MetricFamily
		var err error
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
			if mfs, err = x.MetricsNamed(ctx, "go_gc_gogc_percent"); err == nil || x.Exited() != nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			cancel()
			t.Fatalf("environment %q: scrape: %v", tc.env, err)
		}
		if got := sum(mfs, "go_gc_gogc_percent", ""); got != tc.want {
			t.Errorf("environment %q: go_gc_gogc_percent %v, want %v", tc.env, got, tc.want)
		}
		cancel()
		<-x.Proc.Done() // the next one listens on the same address
	}
}
