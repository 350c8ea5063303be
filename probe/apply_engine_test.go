package probe_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/probe/probetest"
)

// TestEngineApplyKeepsState applies a reload to a running engine (more
// targets than one repoint chunk; 1 000 removed, 1 000 added, half of the
// kept ones relabelled) and checks what Apply promises: kept targets keep
// their counters and their created time, added ones start fresh with the
// reload's time, and every target is probed afterwards.
func TestEngineApplyKeepsState(t *testing.T) {
	const n = 6000
	mk := func(i int) probe.TargetSpec {
		a := netip.AddrFrom4([4]byte{10, 7, byte(i >> 8), byte(i)})
		return probe.TargetSpec{Group: "g", Name: a.String(), Addr: a, Interval: time.Second, Timeout: 500 * time.Millisecond,
			PayloadSize: probe.MinPayload, DownAfter: 3, UpAfter: 1, OutageHistory: 2}
	}
	var spec probe.Spec
	for i := range n {
		spec.Targets = append(spec.Targets, mk(i))
	}
	e, err := probe.New(spec, probe.Options{Datapath: &probetest.Network{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	var snap *probe.Snapshot
	waitSent := func(what string, ok func(*probe.TargetSnapshot) bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			snap = e.Snapshot(snap)
			missing := 0
			for i := range snap.Targets {
				if !ok(&snap.Targets[i]) {
					missing++
				}
			}
			if missing == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d targets not yet", what, missing)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitSent("first probes", func(ts *probe.TargetSnapshot) bool { return ts.Replies > 0 })
	start := snap.Engine.StartTime
	before := map[string]uint64{}
	for _, ts := range snap.Targets {
		if !ts.Created.Equal(start) {
			t.Fatalf("target %s created %v, want the engine start %v", ts.Spec.Name, ts.Created, start)
		}
		before[ts.Spec.Name] = ts.Sent
	}

	var next probe.Spec
	for i := 1000; i < n+1000; i++ {
		ts := mk(i)
		if i%2 == 0 {
			ts.Labels = []probe.Label{{Name: "site", Value: fmt.Sprint(i % 7)}}
		}
		next.Targets = append(next.Targets, ts)
	}
	applied := time.Now()
	if err := e.Apply(next); err != nil {
		t.Fatal(err)
	}
	snap = e.Snapshot(snap)
	if len(snap.Targets) != n {
		t.Fatalf("%d targets after the reload, want %d", len(snap.Targets), n)
	}
	if snap.Engine.ApplyLockHold <= 0 {
		t.Errorf("ApplyLockHold %v after a reload", snap.Engine.ApplyLockHold)
	}
	for i, ts := range snap.Targets {
		if ts.Spec != &next.Targets[i] {
			t.Fatalf("target %d does not have its new spec", i)
		}
		if sent, kept := before[ts.Spec.Name]; kept {
			if ts.Sent < sent || !ts.Created.Equal(start) {
				t.Errorf("kept target %s: sent %d (was %d), created %v (want %v)", ts.Spec.Name, ts.Sent, sent, ts.Created, start)
			}
			continue
		}
		if ts.Created.Before(applied) || ts.Created.After(time.Now()) {
			t.Errorf("added target %s created %v, want the reload's time (%v or later)", ts.Spec.Name, ts.Created, applied)
		}
	}
	waitSent("probes after the reload", func(ts *probe.TargetSnapshot) bool {
		sent, kept := before[ts.Spec.Name]
		return ts.Replies > 0 && (!kept || ts.Sent > sent)
	})
}
