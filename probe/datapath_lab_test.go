//go:build linux

package probe_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// TestDatapathsInLab runs each datapath in a lab probe namespace against
// 500 IPv4 and 100 IPv6 test hosts while foreign echo traffic (another echo
// id) flows to the same hosts: every probe is answered, RTTs come from
// kernel stamps (TX and RX; afxdp: the XDP hook's RX stamp), and foreign
// replies are either filtered before the engine (afpacket's BPF, afxdp's
// XDP program) or seen and counted as foreign (raw sockets), never recorded.
func TestDatapathsInLab(t *testing.T) {
	l := lab.New(t, lab.Options{})
	targets := append(l.Addrs(500, false), l.Addrs(100, true)...)
	for _, dp := range []string{probe.DatapathICMP, probe.DatapathAFPacket, probe.DatapathAFXDP} {
		t.Run(dp, func(t *testing.T) {
			eng := startInLab(t, l, labSpec(dp, targets, 200*time.Millisecond), probe.Options{})
			const foreign = 200
			if err := l.SendForeignEchoes(targets[:foreign]); err != nil {
				t.Fatal(err)
			}
			var snap *probe.Snapshot
			lab.WaitFor(t, 60*time.Second, 200*time.Millisecond, "every target up with 5 replies", func() (bool, string) {
				snap = eng.Snapshot(snap)
				ok := 0
				for _, ts := range snap.Targets {
					if ts.Up && ts.Replies >= 5 {
						ok++
					}
				}
				return ok == len(targets), fmt.Sprintf("%d of %d targets up with 5 replies; engine %+v", ok, len(targets), snap.Engine)
			})
			var replies, lost uint64
			for _, ts := range snap.Targets {
				replies += ts.Replies
				lost += ts.Lost
				if ts.LastRTT <= 0 || ts.LastRTT > 50*time.Millisecond {
					t.Errorf("%s: implausible RTT %s", ts.Spec.Name, ts.LastRTT)
				}
			}
			e := snap.Engine
			t.Logf("engine %+v replies %d lost %d", e, replies, lost)
			if lost != 0 || e.Invalid != 0 || e.KernelDrops != 0 {
				t.Errorf("lost %d invalid %d drops %d, want 0", lost, e.Invalid, e.KernelDrops)
			}
			stamp := 0 // kernel TX and RX
			if dp == probe.DatapathAFXDP {
				stamp = 1 // kernel (XDP hook) RX minus the stamp before the send
			}
			if e.RepliesByTimestamp[stamp] < replies*9/10 {
				t.Errorf("only %d of %d replies timed with %s stamps", e.RepliesByTimestamp[stamp], replies, probe.TimestampSourceNames[stamp])
			}
			switch mode := eng.Info().Mode; {
			case dp == probe.DatapathAFPacket || dp == probe.DatapathAFXDP || mode == "ping":
				// the BPF filter, the XDP program, or the kernel's ping-socket demux by echo id,
				// keeps foreign replies away from the engine.
				if e.Foreign != 0 || e.PacketsReceived != replies {
					t.Errorf("%s: %d foreign and %d received for %d replies: foreign traffic reached the engine", mode, e.Foreign, e.PacketsReceived, replies)
				}
			default:
				if e.Foreign < foreign {
					t.Errorf("raw socket: %d foreign replies counted, want >= %d", e.Foreign, foreign)
				}
			}
		})
	}
}
