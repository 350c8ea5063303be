//go:build linux

package probe_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// TestPathMassOutageRouterLab: many targets behind three routers (10 000,
// or ICMP_PATH_SCALE_TARGETS) all go down when the link behind the second
// router is cut. Sampled every second, the engine never sends more than
// max_pps probes (path probes included) nor more path probes than
// path_pps, and every target's down snapshot names the second router
// within the time the path budget needs for all of them (generous bound).
// At 10 000 targets the regular probes plus path_pps exceed max_pps: path
// probes get what the regular ones leave.
func TestPathMassOutageRouterLab(t *testing.T) {
	n := 10_000
	if s := os.Getenv("ICMP_PATH_SCALE_TARGETS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 60_000 {
			t.Fatalf("ICMP_PATH_SCALE_TARGETS=%q: want 1 to 60000", s)
		}
		n = v
	}
	const (
		interval = 2 * time.Second
		maxPPS   = 7_000 // below the regular rate plus path_pps at 10 000 targets
		pathPPS  = 2_500
		maxHops  = 5
	)
	c := lab.NewChain(t, 3)
	spec := probe.Spec{Engine: probe.EngineSpec{Datapath: probe.DatapathAFPacket, MaxPPS: maxPPS, PathPPS: pathPPS}}
	for _, a := range c.Addrs(n, false) {
		spec.Targets = append(spec.Targets, probe.TargetSpec{Group: "mass", Name: a.String(), Addr: a,
			Interval: interval, Timeout: time.Second, PayloadSize: probe.MinPayload, DownAfter: 2, UpAfter: 1,
			Path: probe.PathSpec{Enabled: true, MaxHops: maxHops}}) // baseline: off (automatic, above 1000 targets)
	}
	eng := startEngine(t, c.Lab, spec, probe.Options{})
	lab.WaitFor(t, time.Minute, 200*time.Millisecond, "all targets up", func() (bool, string) {
		up := 0
		for _, ts := range eng.Snapshot(nil).Targets {
			if ts.Up {
				up++
			}
		}
		return up == n, fmt.Sprintf("%d of %d up", up, n)
	})
	restore := c.Cut(t, 2)
	defer restore()
	cut := time.Now()
	// Down after 2 lost probes and a timeout; then n snapshots of maxHops
	// probes at pathPPS, or what the regular probes leave of max_pps.
	pathRate := min(pathPPS, maxPPS-n*int(time.Second/interval))
	if pathRate < 100 {
		t.Fatalf("%d targets at %v leave no room for path probes under max_pps %d", n, interval, maxPPS)
	}
	budget := 2*interval + time.Second + time.Duration(n*maxHops)*time.Second/time.Duration(pathRate)
	limit := 4*budget + time.Minute // a loaded 2-core machine: the regular probes come first
	deadline := cut.Add(limit)
	prev := eng.Snapshot(nil).Engine
	prevAt := time.Now()
	var maxRate, maxPathRate float64
	var done time.Duration
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		s := eng.Snapshot(nil)
		now := time.Now()
		dt := now.Sub(prevAt).Seconds()
		rate := float64(s.Engine.PacketsSent-prev.PacketsSent) / dt
		pathRate := float64(s.Engine.Path.ProbesSent-prev.Path.ProbesSent) / dt
		maxRate, maxPathRate = max(maxRate, rate), max(maxPathRate, pathRate)
		prev, prevAt = s.Engine, now
		named := 0
		for _, ts := range s.Targets {
			if !ts.Up && ts.Path.HasDownHop && ts.Path.DownHop == c.Router4[1] {
				named++
			}
		}
		if named == n {
			done = now.Sub(cut)
			break
		}
	}
	t.Logf("%d targets: every down snapshot named the second router %v after the cut (budget %v); highest rate %.0f probes/s (max_pps %d), path %.0f probes/s (path_pps %d); path probes %d, snapshots %d",
		n, done.Round(time.Second), budget, maxRate, maxPPS, maxPathRate, pathPPS, prev.Path.ProbesSent, prev.Path.Snapshots)
	if done == 0 {
		t.Fatalf("not every down snapshot named the second router within %v", limit)
	}
	// One sample spans about a second: allow a token bucket's burst.
	if maxRate > maxPPS*1.1+200 {
		t.Errorf("probe rate %.0f/s above max_pps %d", maxRate, maxPPS)
	}
	if maxPathRate > pathPPS*1.1+100 {
		t.Errorf("path probe rate %.0f/s above path_pps %d", maxPathRate, pathPPS)
	}
}
