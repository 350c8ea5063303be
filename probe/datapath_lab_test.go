package probe_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/icmp-exporter/icmp_exporter/internal/lab"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

// TestDatapathsInLab runs each datapath in a lab probe namespace against
// 500 IPv4 and 100 IPv6 test hosts while foreign echo traffic (another echo
// id) flows to the same hosts: every probe is answered, RTTs come from
// kernel TX and RX stamps, and foreign replies are either filtered before
// the engine (afpacket's BPF) or seen and counted as foreign (raw sockets),
// never recorded.
func TestDatapathsInLab(t *testing.T) {
	l := lab.New(t, lab.Options{})
	targets := append(l.Addrs(500, false), l.Addrs(100, true)...)
	for _, dp := range []string{probe.DatapathICMP, probe.DatapathAFPacket} {
		t.Run(dp, func(t *testing.T) {
			spec := probe.Spec{Engine: probe.EngineSpec{Datapath: dp}}
			for _, a := range targets {
				spec.Targets = append(spec.Targets, probe.TargetSpec{Group: "lab", Name: a.String(), Addr: a,
					Interval: 200 * time.Millisecond, Timeout: 200 * time.Millisecond, PayloadSize: probe.MinPayload,
					DownAfter: 3, UpAfter: 1})
			}
			var eng *probe.Engine
			if err := l.Do(func() (err error) { eng, err = probe.New(spec, probe.Options{}); return err }); err != nil {
				t.Fatal(err)
			}
			defer eng.Close()
			const foreign = 200
			if err := l.Do(func() error { return sendForeign(targets[:foreign]) }); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(60 * time.Second)
			var snap *probe.Snapshot
			for {
				time.Sleep(200 * time.Millisecond)
				snap = eng.Snapshot(snap)
				ok := 0
				for _, ts := range snap.Targets {
					if ts.Up && ts.Replies >= 5 {
						ok++
					}
				}
				if ok == len(targets) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d targets up with 5 replies after 60s; engine %+v", ok, len(targets), snap.Engine)
				}
			}
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
			if e.RepliesByTimestamp[0] < replies*9/10 {
				t.Errorf("only %d of %d replies timed with kernel TX+RX stamps", e.RepliesByTimestamp[0], replies)
			}
			switch mode := eng.Info().Mode; {
			case dp == probe.DatapathAFPacket || mode == "ping":
				// the BPF filter, or the kernel's ping-socket demux by echo id,
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

// sendForeign sends one echo request with an id and payload not ours to
// each address, as another ping program on the host would.
func sendForeign(addrs []netip.Addr) error {
	for _, v6 := range []bool{false, true} {
		fam, proto, typ := unix.AF_INET, unix.IPPROTO_ICMP, byte(8)
		if v6 {
			fam, proto, typ = unix.AF_INET6, unix.IPPROTO_ICMPV6, 128
		}
		fd, err := unix.Socket(fam, unix.SOCK_RAW, proto)
		if err != nil {
			return fmt.Errorf("foreign socket: %w", err)
		}
		for i, a := range addrs {
			if a.Is6() != v6 {
				continue
			}
			msg := []byte{typ, 0, 0, 0, 0xfe, 0xed, 0, byte(i), 'n', 'o', 't', ' ', 'o', 'u', 'r', 's', '!', '!', '!', '!', '!', '!', '!', '!', '!', '!'}
			if !v6 {
				var s uint32
				for j := 0; j < len(msg); j += 2 {
					s += uint32(msg[j])<<8 | uint32(msg[j+1])
				}
				s = s&0xffff + s>>16
				s = s&0xffff + s>>16
				msg[2], msg[3] = byte(^s>>8), byte(^s)
			}
			var sa unix.Sockaddr = &unix.SockaddrInet4{Addr: a.As4()}
			if v6 {
				sa = &unix.SockaddrInet6{Addr: a.As16()}
			}
			if err := unix.Sendto(fd, msg, 0, sa); err != nil {
				unix.Close(fd)
				return fmt.Errorf("foreign send to %s: %w", a, err)
			}
		}
		unix.Close(fd)
	}
	return nil
}
