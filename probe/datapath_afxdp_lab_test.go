//go:build linux

package probe_test

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// TestAFXDPErrors checks that ICMP errors quoting our probes reach the
// engine through the XDP program and XSK on IPv4 and IPv6: a real kernel in
// the target namespace rejects echo requests to some hosts with
// administratively-prohibited unreachables, and those hosts count
// destination_unreachable errors and no replies, while the others answer
// with no error and no loss. The interface goes back to the kernel on
// Close: the lab's kernel path answers pings afterwards.
func TestAFXDPErrors(t *testing.T) {
	l := lab.New(t, lab.Options{})
	a4, a6 := l.Addrs(6, false), l.Addrs(6, true)
	rejected := append(a4[:5:5], a6[:5]...)
	answered := []netip.Addr{a4[5], a6[5]}
	var v4, v6 []string
	for _, a := range rejected {
		if a.Is4() {
			v4 = append(v4, a.String())
		} else {
			v6 = append(v6, a.String())
		}
	}
	script := fmt.Sprintf(`table inet icmplab_reject {
	chain in {
		type filter hook input priority 0;
		ip daddr { %s } icmp type echo-request reject with icmp type admin-prohibited
		ip6 daddr { %s } icmpv6 type echo-request reject with icmpv6 type admin-prohibited
	}
}
`, strings.Join(v4, ", "), strings.Join(v6, ", "))
	cmd := l.ExecTarget(context.Background(), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
	spec := probe.Spec{Engine: probe.EngineSpec{Datapath: probe.DatapathAFXDP}}
	for _, a := range append(append([]netip.Addr{}, rejected...), answered...) {
		spec.Targets = append(spec.Targets, probe.TargetSpec{Group: "lab", Name: a.String(), Addr: a,
			Interval: 100 * time.Millisecond, Timeout: 100 * time.Millisecond, PayloadSize: probe.MinPayload,
			DownAfter: 3, UpAfter: 1})
	}
	var eng *probe.Engine
	if err := l.Do(func() (err error) { eng, err = probe.New(spec, probe.Options{}); return err }); err != nil {
		t.Fatal(err)
	}
	var snap *probe.Snapshot
	lab.WaitFor(t, 60*time.Second, 100*time.Millisecond, "10 errors on every rejected host, 10 replies on the others", func() (bool, string) {
		snap = eng.Snapshot(snap)
		var bad []string
		for _, ts := range snap.Targets {
			want := 10
			got := ts.Replies
			if ts.Spec.Name != answered[0].String() && ts.Spec.Name != answered[1].String() {
				got = ts.ErrorCounts().ByType[probe.ErrDestUnreachable]
			}
			if got < uint64(want) {
				bad = append(bad, fmt.Sprintf("%s: replies %d errors %v", ts.Spec.Name, ts.Replies, ts.ErrorCounts().ByType))
			}
		}
		return len(bad) == 0, strings.Join(bad, "; ")
	})
	for _, ts := range snap.Targets {
		isAnswered := ts.Spec.Name == answered[0].String() || ts.Spec.Name == answered[1].String()
		switch {
		case isAnswered && (ts.Lost != 0 || ts.ErrorCounts().ByType != [probe.NumErrorTypes]uint64{}):
			t.Errorf("%s answers but has lost %d errors %v", ts.Spec.Name, ts.Lost, ts.ErrorCounts().ByType)
		case !isAnswered && ts.Replies != 0:
			t.Errorf("%s is rejected but has %d replies", ts.Spec.Name, ts.Replies)
		}
	}
	if f := snap.Engine.Foreign; f != 0 {
		t.Errorf("%d foreign packets reached the engine through the XDP filter", f)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	// The XDP program is gone: the kernel answers for the probe namespace again.
	if out, err := l.Exec(context.Background(), "ping", "-c", "1", "-W", "5", answered[0].String()).CombinedOutput(); err != nil {
		t.Errorf("ping after Close: %v: %s", err, out)
	}
}

// TestAFXDPSteadyStateAllocations counts heap allocations of the whole
// process while the afxdp datapath probes lab hosts: frame building, the
// TX and RX rings, route and neighbour caches must not allocate per probe.
func TestAFXDPSteadyStateAllocations(t *testing.T) {
	l := lab.New(t, lab.Options{})
	spec := probe.Spec{Engine: probe.EngineSpec{Datapath: probe.DatapathAFXDP}}
	for _, a := range append(l.Addrs(40, false), l.Addrs(10, true)...) {
		spec.Targets = append(spec.Targets, probe.TargetSpec{Group: "lab", Name: a.String(), Addr: a,
			Interval: 10 * time.Millisecond, Timeout: 50 * time.Millisecond, PayloadSize: probe.MinPayload, DownAfter: 3, UpAfter: 1})
	}
	var e *probe.Engine
	if err := l.Do(func() (err error) { e, err = probe.New(spec, probe.Options{}); return err }); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	time.Sleep(2 * time.Second) // warm up: caches, windows, histograms, FIFOs reach their size
	var m0, m1 runtime.MemStats
	s0 := e.Snapshot(nil).Engine
	runtime.ReadMemStats(&m0)
	time.Sleep(2 * time.Second)
	runtime.ReadMemStats(&m1)
	s1 := e.Snapshot(nil).Engine
	probes := s1.PacketsSent - s0.PacketsSent
	allocs := m1.Mallocs - m0.Mallocs
	t.Logf("%d probes, %d allocations in the process (%.4f per probe)", probes, allocs, float64(allocs)/float64(probes))
	if probes < 1000 {
		t.Fatalf("only %d probes sent", probes)
	}
	if float64(allocs)/float64(probes) > 0.05 { // one allocation per probe would be 1.0
		t.Errorf("%.3f allocations per probe, want 0", float64(allocs)/float64(probes))
	}
}
