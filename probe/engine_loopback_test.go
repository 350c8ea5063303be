package probe

import (
	"net/netip"
	"os"
	"testing"
	"time"
)

// TestEngineLoopback runs the real icmp datapath against 127.0.0.1 and ::1
// (loopback needs no namespace) and checks every target comes up with
// plausible RTTs from kernel timestamps.
func TestEngineLoopback(t *testing.T) {
	for _, dp := range []string{DatapathICMP, DatapathAFPacket} {
		t.Run(dp, func(t *testing.T) { testEngineLoopback(t, dp) })
	}
}

func testEngineLoopback(t *testing.T, datapath string) {
	spec := Spec{Engine: EngineSpec{Datapath: datapath}, Targets: []TargetSpec{
		loopTarget("127.0.0.1"), loopTarget("::1"),
	}}
	e, err := New(spec, Options{})
	if err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("needs CAP_NET_RAW or ping_group_range: %v", err)
		}
		t.Fatal(err)
	}
	defer e.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		snap := e.Snapshot(nil)
		up := 0
		for _, ts := range snap.Targets {
			if ts.Up && ts.Replies >= 3 {
				up++
			}
		}
		if up == len(spec.Targets) {
			for _, ts := range snap.Targets {
				if ts.LastRTT <= 0 || ts.LastRTT > 100*time.Millisecond {
					t.Errorf("%s: implausible RTT %s", ts.Spec.Name, ts.LastRTT)
				}
				if ts.Lost != 0 || ts.Late != 0 {
					t.Errorf("%s: lost %d late %d", ts.Spec.Name, ts.Lost, ts.Late)
				}
			}
			t.Logf("engine %+v", snap.Engine)
			if snap.Engine.RepliesByTimestamp[0] == 0 {
				t.Errorf("no reply timed with kernel TX and RX stamps: %v", snap.Engine.RepliesByTimestamp)
			}
			if snap.Engine.Foreign != 0 && datapath == DatapathAFPacket {
				t.Errorf("the ring filter let %d foreign packets through", snap.Engine.Foreign)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("targets not up in time: %+v", snap)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func loopTarget(a string) TargetSpec {
	return TargetSpec{Group: "lo", Name: a, Addr: netip.MustParseAddr(a), Interval: 100 * time.Millisecond,
		Timeout: 100 * time.Millisecond, PayloadSize: MinPayload, DownAfter: 3, UpAfter: 1, OutageHistory: 5}
}
