//go:build linux

package probe_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// TestCloseUnderLoad saturates the engine (more probes per second than
// this machine sends: 40 000 targets every 100 ms) on each real datapath in
// a lab, then checks that Close returns within a generous bound: a stop
// must not wait for a sender that always has work.
func TestCloseUnderLoad(t *testing.T) {
	l := lab.New(t, lab.Options{})
	targets := append(l.Addrs(30000, false), l.Addrs(10000, true)...)
	for _, dp := range []string{probe.DatapathICMP, probe.DatapathAFPacket, probe.DatapathAFXDP} {
		t.Run(dp, func(t *testing.T) {
			eng := startInLab(t, l, labSpec(dp, targets, 100*time.Millisecond), probe.Options{})
			var snap *probe.Snapshot
			lab.WaitFor(t, 60*time.Second, 100*time.Millisecond, "engine saturated (probes skipped)", func() (bool, string) {
				snap = eng.Snapshot(snap)
				e := snap.Engine
				return e.PacketsSent > uint64(len(targets)) && e.Skipped > 0,
					fmt.Sprintf("sent %d, skipped %d, schedule lag %s", e.PacketsSent, e.Skipped, e.ScheduleLag)
			})
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- eng.Close() }()
			select {
			case err := <-done:
				t.Logf("Close returned after %s (%v); engine %+v", time.Since(start), err, snap.Engine)
				if err != nil {
					t.Errorf("Close: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("Close did not return within 10 s under load")
			}
		})
	}
}

// labSpec probes targets in group "lab" over datapath dp every interval,
// with a timeout of one interval.
func labSpec(dp string, targets []netip.Addr, interval time.Duration) probe.Spec {
	spec := probe.Spec{Engine: probe.EngineSpec{Datapath: dp}}
	for _, a := range targets {
		spec.Targets = append(spec.Targets, probe.TargetSpec{Group: "lab", Name: a.String(), Addr: a,
			Interval: interval, Timeout: interval, PayloadSize: probe.MinPayload, DownAfter: 3, UpAfter: 1})
	}
	return spec
}

// startInLab starts an engine inside the lab's probe namespace and closes
// it at the end of the test (in the background: a Close that hangs must
// fail its own test, not hang the test binary).
func startInLab(t *testing.T, l *lab.Lab, spec probe.Spec, opts probe.Options) *probe.Engine {
	t.Helper()
	var eng *probe.Engine
	if err := l.Do(func() (err error) { eng, err = probe.New(spec, opts); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { go eng.Close() })
	return eng
}
