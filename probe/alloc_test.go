package probe

import (
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestRealDatapathSteadyStateAllocations runs the engine with a real
// datapath against loopback addresses and counts heap allocations of the
// whole process while it probes: the packet path (schedule, encode, send,
// receive, TX stamps, match, RTT, histogram) must not allocate per probe.
func TestRealDatapathSteadyStateAllocations(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs CAP_NET_RAW for both datapaths")
	}
	for _, dp := range []string{DatapathICMP, DatapathAFPacket} {
		t.Run(dp, func(t *testing.T) {
			spec := Spec{Engine: EngineSpec{Datapath: dp}}
			for i := range 50 {
				a := netip.AddrFrom4([4]byte{127, 0, 1, byte(i + 1)})
				spec.Targets = append(spec.Targets, TargetSpec{Group: "lo", Name: a.String(), Addr: a,
					Interval: 10 * time.Millisecond, Timeout: 50 * time.Millisecond, PayloadSize: MinPayload, DownAfter: 3, UpAfter: 1})
			}
			e, err := New(spec, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			time.Sleep(2 * time.Second) // warm up: windows, histograms (bounded growth), FIFOs reach their size
			var m0, m1 runtime.MemStats
			s0 := e.Snapshot(nil).Engine
			runtime.ReadMemStats(&m0)
			time.Sleep(2 * time.Second)
			runtime.ReadMemStats(&m1)
			s1 := e.Snapshot(nil).Engine
			probes := s1.PacketsSent - s0.PacketsSent
			allocs := m1.Mallocs - m0.Mallocs
			t.Logf("%s: %d probes, %d allocations in the process (%.4f per probe)", dp, probes, allocs, float64(allocs)/float64(probes))
			if probes < 1000 {
				t.Fatalf("only %d probes sent", probes)
			}
			// A few allocations come from the runtime and the test itself (ReadMemStats, timers); none per probe.
			if float64(allocs)/float64(probes) > 0.05 { // one allocation per probe would be 1.0
				t.Errorf("%.3f allocations per probe, want 0", float64(allocs)/float64(probes))
			}
		})
	}
}
