// Command memstat measures what one target costs in memory: the parsed
// configuration (probe.Spec), the engine's state and the collector's
// caches, in bytes per target of live heap after a garbage collection, and
// writes a heap profile that names the consumers. It probes through the
// in-memory fake network of probe/probetest (no packets leave the
// process), so it needs no privileges and is not disturbed by other load.
//
//	go run ./bench/memstat -n 100000 [-interval 10s] [-run 15s] [-profile heap.pprof]
//
// bench/scale.sh runs it beside the lab runs (see bench/README.md).
package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/icmp-exporter/icmp_exporter/collector"
	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/probe/probetest"
)

func main() {
	n := flag.Int("n", 100000, "targets (addresses from 10.210.0.1 on)")
	interval := flag.Duration("interval", 10*time.Second, "probe interval")
	run := flag.Duration("run", 15*time.Second, "how long to probe before measuring (at least one interval)")
	profile := flag.String("profile", "", "write a heap profile (in-use space) to this file")
	perTarget := flag.String("per-target", "", "export.per_target of the group, comma-separated (empty: all)")
	flag.Parse()
	if err := measure(*n, *interval, *run, *profile, *perTarget); err != nil {
		fmt.Fprintln(os.Stderr, "memstat:", err)
		os.Exit(1)
	}
}

// live returns the live heap after a full collection.
func live() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func measure(n int, interval, run time.Duration, profile, perTarget string) error {
	debug.SetGCPercent(100)
	var b strings.Builder
	fmt.Fprintf(&b, "engine: {max_cidr_addresses: %d, max_targets: %d}\ndefaults: {interval: %s}\ngroups:\n  - name: bench\n", max(n, 65536), max(n, 1000000), interval)
	if perTarget != "" {
		fmt.Fprintf(&b, "    export: {per_target: [%s]}\n", perTarget)
	}
	b.WriteString("    targets:\n")
	a := netip.MustParseAddr("10.210.0.0")
	for range n {
		a = a.Next()
		fmt.Fprintf(&b, "      - %s\n", a)
	}
	text := []byte(b.String())
	b.Reset()

	h0 := live()
	cfg, err := config.Parse(text, "memstat.yml")
	if err != nil {
		return err
	}
	spec, err := cfg.Spec()
	if err != nil {
		return err
	}
	h1 := live()

	eng, err := probe.New(spec, probe.Options{Datapath: &probetest.Network{}})
	if err != nil {
		return err
	}
	defer eng.Close()
	time.Sleep(run)
	h2 := live()

	col := collector.New(eng, collector.Options{})
	for _, ft := range []expfmt.FormatType{expfmt.TypeTextPlain, expfmt.TypeProtoDelim} { // build the caches of both formats
		if err := col.WriteMetrics(io.Discard, expfmt.NewFormat(ft), nil); err != nil {
			return err
		}
	}
	h3 := live()
	// What one more scrape of each format allocates (garbage: the caches
	// are built), with the engine stopped so that the fake network's
	// allocations do not count.
	eng.Close()
	var scrapeAlloc [2]uint64
	for i, ft := range []expfmt.FormatType{expfmt.TypeTextPlain, expfmt.TypeProtoDelim} {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		if err := col.WriteMetrics(io.Discard, expfmt.NewFormat(ft), nil); err != nil {
			return err
		}
		runtime.ReadMemStats(&m1)
		scrapeAlloc[i] = m1.TotalAlloc - m0.TotalAlloc
	}
	snap := eng.Snapshot(nil)
	var replies, lost uint64
	for _, t := range snap.Targets {
		replies += t.Replies
		lost += t.Lost
	}

	per := func(d uint64) string { return fmt.Sprintf("%.0f", float64(d)/float64(n)) }
	fmt.Printf("targets=%d\ninterval=%s\nreplies=%d\nlost=%d\nskipped=%d\n", n, interval, replies, lost, snap.Engine.Skipped)
	fmt.Printf("spec_bytes_per_target=%s\nengine_bytes_per_target=%s\ncollector_bytes_per_target=%s\ntotal_live_heap_mb=%.1f\n",
		per(h1-h0), per(h2-h1), per(h3-h2), float64(h3)/(1<<20))
	fmt.Printf("text_scrape_alloc_mb=%.1f\nprotobuf_scrape_alloc_mb=%.1f\n", float64(scrapeAlloc[0])/(1<<20), float64(scrapeAlloc[1])/(1<<20))
	if st, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(st), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
				fmt.Printf("%s_mb=%.0f\n", strings.ToLower(strings.TrimSuffix(f[0], ":")), atof(f[1])/1024)
			}
		}
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		runtime.GC()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			return err
		}
	}
	runtime.KeepAlive(spec)
	runtime.KeepAlive(col)
	return nil
}

func atof(s string) float64 {
	var v float64
	fmt.Sscan(s, &v)
	return v
}
