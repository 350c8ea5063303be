package faults

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/probe/probetest"
)

// steppedNetwork is probetest's in-memory network whose receive stamps
// (CLOCK_REALTIME, like a kernel's) are shifted by offset, its transmit
// stamps not: a wall-clock step between a probe's send stamps and its
// reply's receive stamp.
type steppedNetwork struct {
	*probetest.Network
	offset atomic.Int64 // nanoseconds added to every KernelStamp
}

func (n *steppedNetwork) Recv(msgs []probe.Received) (int, error) {
	k, err := n.Network.Recv(msgs)
	if off := n.offset.Load(); off != 0 {
		for i := range msgs[:k] {
			if msgs[i].KernelStamp != 0 && !msgs[i].TxStamp {
				msgs[i].KernelStamp += off
			}
		}
	}
	return k, err
}

// TestWallClockStep steps the wall clock back and forward by an hour
// between send and receive stamps on the fake datapath. The engine must
// not record a negative or absurd RTT nor count the replies as lost or
// late: it falls back to the monotonic clock for those replies, counts
// them under icmp_engine_replies_total{timestamp_source="userspace"}, and
// counts exactly those in icmp_engine_clock_step_replies_total.
func TestWallClockStep(t *testing.T) {
	const (
		interval = 10 * time.Millisecond
		timeout  = 100 * time.Millisecond
		delay    = 2 * time.Millisecond
	)
	net := &steppedNetwork{Network: &probetest.Network{
		Respond: func(netip.Addr, time.Time) (time.Duration, bool) { return delay, true },
	}}
	var mu sync.Mutex
	var bad []time.Duration
	var replies, failed int
	spec := probe.Spec{Targets: []probe.TargetSpec{{
		Group: "g", Name: "192.0.2.1", Addr: netip.MustParseAddr("192.0.2.1"),
		Interval: interval, Timeout: timeout, PayloadSize: probe.MinPayload, DownAfter: 3, UpAfter: 1,
	}}}
	eng, err := probe.New(spec, probe.Options{Datapath: net, OnResult: func(r probe.Result) {
		mu.Lock()
		defer mu.Unlock()
		if r.Kind != probe.ResultReply {
			failed++
			return
		}
		replies++
		if r.RTT <= 0 || r.RTT > timeout {
			bad = append(bad, r.RTT)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()

	stats := func() probe.EngineStats { return eng.Snapshot(nil).Engine }
	const kernelTXRX, userspace = 0, 2 // indexes of probe.TimestampSourceNames
	if probe.TimestampSourceNames[kernelTXRX] != probe.TimestampKernelTXRX || probe.TimestampSourceNames[userspace] != probe.TimestampUserspace {
		t.Fatal("timestamp source indexes changed")
	}
	time.Sleep(500 * time.Millisecond)
	s0 := stats()
	for _, step := range []time.Duration{-time.Hour, time.Hour} {
		net.offset.Store(int64(step))
		time.Sleep(500 * time.Millisecond)
	}
	net.offset.Store(0)
	s1 := stats()
	time.Sleep(500 * time.Millisecond)
	s2 := stats()

	mu.Lock()
	defer mu.Unlock()
	stepped := s1.RepliesByTimestamp[userspace] - s0.RepliesByTimestamp[userspace]
	t.Logf("replies %d, failed %d; during the steps: %d replies timed by the monotonic clock, %d by kernel stamps",
		replies, failed, stepped, s1.RepliesByTimestamp[kernelTXRX]-s0.RepliesByTimestamp[kernelTXRX])
	if len(bad) > 0 {
		t.Errorf("%d RTTs outside (0, timeout], e.g. %s", len(bad), bad[0])
	}
	if failed > 0 {
		t.Errorf("%d probes failed (lost or late) because of the clock step", failed)
	}
	if stepped < 20 {
		t.Errorf("%d replies with stepped stamps counted (timestamp_source userspace), want about 100", stepped)
	}
	if steps := s1.ClockSteps - s0.ClockSteps; steps != stepped {
		t.Errorf("clock-step replies counted %d, want the %d replies timed by the monotonic clock", steps, stepped)
	}
	if s0.ClockSteps != 0 || s2.ClockSteps != s1.ClockSteps {
		t.Errorf("clock-step replies counted outside the step: %d before, %d after", s0.ClockSteps, s2.ClockSteps-s1.ClockSteps)
	}
	if s0.RepliesByTimestamp[userspace] != 0 {
		t.Errorf("%d userspace-timed replies before the step", s0.RepliesByTimestamp[userspace])
	}
	if s2.RepliesByTimestamp[kernelTXRX] <= s1.RepliesByTimestamp[kernelTXRX] {
		t.Error("kernel stamps not used again after the step")
	}
}
