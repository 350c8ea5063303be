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

// zooTargets builds a spec probing addrs every interval.
func zooSpec(dp string, addrs []netip.Addr, interval, timeout time.Duration) probe.Spec {
	spec := probe.Spec{Engine: probe.EngineSpec{Datapath: dp}}
	for _, a := range addrs {
		spec.Targets = append(spec.Targets, probe.TargetSpec{Group: "zoo", Name: a.String(), Addr: a,
			Interval: interval, Timeout: timeout, PayloadSize: probe.MinPayload, DownAfter: 3, UpAfter: 1})
	}
	return spec
}

// modes are the ways the engine receives here: ping sockets, raw sockets
// (the icmp datapath where ping sockets are not permitted), afpacket.
var modes = []string{"ping", "raw", "afpacket"}

// useMode sets the probe namespace up for mode and returns the datapath
// that runs it.
func useMode(l *lab.Lab, mode string) string {
	l.PingSockets(mode != "raw")
	if mode == "afpacket" {
		return probe.DatapathAFPacket
	}
	return probe.DatapathICMP
}

// startEngine runs an engine on spec in the lab's probe namespace until the
// test ends.
func startEngine(t *testing.T, l *lab.Lab, spec probe.Spec, opts probe.Options) *probe.Engine {
	t.Helper()
	var eng *probe.Engine
	if err := l.Do(func() (err error) { eng, err = probe.New(spec, opts); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

// waitSent waits until every target of eng sent at least n probes: on a
// loaded machine probes due while the engine could not run are skipped, so
// counts are waited for, not assumed from the time slept. It fails the
// test after a minute.
func waitSent(t *testing.T, eng *probe.Engine, n uint64) {
	t.Helper()
	lab.WaitFor(t, time.Minute, 100*time.Millisecond, fmt.Sprintf("every target sent %d probes", n), func() (bool, string) {
		snap := eng.Snapshot(nil)
		least := uint64(0)
		for i, ts := range snap.Targets {
			if i == 0 || ts.Sent < least {
				least = ts.Sent
			}
		}
		return least >= n, fmt.Sprintf("fewest sent: %d", least)
	})
}

// settle stops sending (a reload to a one-hour interval keeps every target
// and its counters) and waits until no probe is in flight: afterwards every
// probe sent is exactly one of replied, lost or error.
func settle(t *testing.T, eng *probe.Engine, spec probe.Spec, wait time.Duration) *probe.Snapshot {
	t.Helper()
	// A Spec handed to the engine must not change: a new one, with a copy.
	spec.Targets = append([]probe.TargetSpec(nil), spec.Targets...)
	for i := range spec.Targets {
		spec.Targets[i].Interval = time.Hour
	}
	// The new phases spread over the hour: a target or two may send once
	// more, and that probe is answered or lost within wait too.
	if err := eng.Apply(spec); err != nil {
		t.Fatal(err)
	}
	time.Sleep(wait)
	return eng.Snapshot(nil)
}

// TestCaptureSeesEachPacketOnce: the probe namespace's address sits on a
// bridge (the veth its port), on a macvlan over the veth, or on a VXLAN
// overlay carried by the veth. A capture on every interface sees a reply on
// the lower device and again on the upper one; each must count once: no
// duplicates, no loss, nothing foreign or invalid, on every datapath.
func TestCaptureSeesEachPacketOnce(t *testing.T) {
	for _, link := range []string{lab.LinkVeth, lab.LinkBridge, lab.LinkMacvlan, lab.LinkVXLAN} {
		t.Run(link, func(t *testing.T) {
			l := lab.New(t, lab.Options{Link: link})
			targets := append(l.Addrs(20, false), l.Addrs(20, true)...)
			for _, dp := range []string{probe.DatapathICMP, probe.DatapathAFPacket, probe.DatapathAFXDP} {
				t.Run(dp, func(t *testing.T) {
					spec := zooSpec(dp, targets, 100*time.Millisecond, 2*time.Second)
					if dp == probe.DatapathAFXDP && link == lab.LinkVXLAN {
						// The underlay and the overlay both hold addresses:
						// afxdp attaches to one interface, named in the config.
						spec.Engine.Interface = l.ProbeIf
					}
					eng := startEngine(t, l, spec, probe.Options{})
					waitSent(t, eng, 20)
					snap := settle(t, eng, spec, 3*time.Second)
					var sent, replies, lost, dups, late uint64
					for _, ts := range snap.Targets {
						sent += ts.Sent
						replies += ts.Replies
						lost += ts.Lost
						dups += ts.Duplicates
						late += ts.Late
					}
					e := snap.Engine
					desc := fmt.Sprintf("sent %d replies %d lost %d late %d duplicates %d foreign %d invalid %d",
						sent, replies, lost, late, dups, e.Foreign, e.Invalid)
					t.Log(desc)
					if sent < uint64(len(targets))*20 || replies != sent || dups != 0 || lost != 0 || late != 0 || e.Foreign != 0 || e.Invalid != 0 {
						t.Errorf("%s; want every probe answered once, nothing else", desc)
					}
				})
			}
		})
	}
}

// TestLinkLocalTargets: IPv6 link-local targets written with their zone
// (fe80::b:1%veth0, or %br0 on a bridge) are probed through that interface
// and their replies are credited to them, on every datapath.
func TestLinkLocalTargets(t *testing.T) {
	for _, link := range []string{lab.LinkVeth, lab.LinkBridge} {
		t.Run(link, func(t *testing.T) {
			l := lab.New(t, lab.Options{Link: link})
			targets := l.LinkLocal(3)
			for _, mode := range modes {
				t.Run(mode, func(t *testing.T) {
					dp := useMode(l, mode)
					t.Cleanup(func() { l.PingSockets(true) })
					spec := zooSpec(dp, targets, 100*time.Millisecond, time.Second)
					eng := startEngine(t, l, spec, probe.Options{})
					waitSent(t, eng, 10)
					snap := settle(t, eng, spec, 2*time.Second)
					for _, ts := range snap.Targets {
						var errs uint64
						for _, n := range ts.ErrorCounts().ByType {
							errs += n
						}
						if ts.Sent < 10 || ts.Replies != ts.Sent || ts.Lost != 0 || errs != 0 || ts.Duplicates != 0 || ts.IP.Zone() != l.ProbeIf {
							t.Errorf("%s (ip %s): sent %d replies %d lost %d errors %v dups %d; want every probe answered",
								ts.Spec.Name, ts.IP, ts.Sent, ts.Replies, ts.Lost, ts.ErrorCounts().ByType, ts.Duplicates)
						}
					}
					if e := snap.Engine; e.Foreign != 0 || e.Invalid != 0 {
						t.Errorf("foreign %d invalid %d, want 0", e.Foreign, e.Invalid)
					}
				})
			}
		})
	}
}

// TestRealKernelErrors: ICMP errors and redirects from a real kernel (the
// target namespace as a router): time exceeded for TTL-limited probes,
// destination unreachable from an nftables reject and from an unreachable
// route, then replies once the route changes; a redirect, which must not
// fail the probe (the redirected probe is dropped further on: lost, not an
// error). Counted exactly on every datapath, IPv4 and IPv6.
func TestRealKernelErrors(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			l := lab.New(t, lab.Options{})
			dp := useMode(l, mode)
			l.StartResponder(func(lab.Request) []lab.Action { return []lab.Action{{}} })
			l.Router()
			next := func(p netip.Prefix, n int) netip.Addr {
				a := p.Addr()
				for range n {
					a = a.Next()
				}
				return a
			}
			ttl4, ttl6 := next(lab.ResponderPrefix4, 1), next(lab.ResponderPrefix6, 1)
			rej4, rej6 := next(lab.ResponderPrefix4, 2), next(lab.ResponderPrefix6, 2)
			rt4, rt6 := next(lab.RoutedPrefix4, 1), next(lab.RoutedPrefix6, 1)
			redir := next(lab.RedirectPrefix4, 1)
			l.Reject(rej4, rej6)
			l.Route(lab.RoutedPrefix4, "unreachable")
			l.Route(lab.RoutedPrefix6, "unreachable")
			spec := zooSpec(dp, []netip.Addr{ttl4, ttl6, rej4, rej6, rt4, rt6, redir}, 100*time.Millisecond, time.Second)
			for i := range spec.Targets[:2] {
				spec.Targets[i].TTL = 1
			}
			redirects, unreach := l.ICMPOut("OutRedirects"), l.ICMPOut("OutDestUnreachs")
			eng := startEngine(t, l, spec, probe.Options{})
			waitSent(t, eng, 15)
			l.Route(lab.RoutedPrefix4, "local", "dev", "lo")
			l.Route(lab.RoutedPrefix6, "local", "dev", "lo")
			waitSent(t, eng, 30)
			snap := settle(t, eng, spec, 2*time.Second)
			if n := l.ICMPOut("OutRedirects") - redirects; n == 0 {
				t.Error("the router sent no redirect")
			} else {
				t.Logf("the router sent %d redirects", n)
			}
			unreach = l.ICMPOut("OutDestUnreachs") - unreach // IPv4 only: the reject and the route
			var unreach4 uint64
			for _, ts := range snap.Targets {
				if ts.IP == rej4 || ts.IP == rt4 {
					unreach4 += ts.ErrorCounts().ByType[probe.ErrDestUnreachable]
				}
			}
			if unreach4 != unreach {
				t.Errorf("IPv4 unreachable errors counted %d, the router sent %d", unreach4, unreach)
			}
			for _, ts := range snap.Targets {
				var errs uint64
				for _, n := range ts.ErrorCounts().ByType {
					errs += n
				}
				ok := ts.Sent >= 30 && ts.Lost == 0 && ts.Late == 0 && ts.Duplicates == 0
				switch ts.IP {
				case ttl4, ttl6:
					ok = ok && ts.ErrorCounts().ByType[probe.ErrTimeExceeded] == ts.Sent && errs == ts.Sent
				case rej4, rej6:
					ok = ok && ts.ErrorCounts().ByType[probe.ErrDestUnreachable] == ts.Sent && errs == ts.Sent
				case rt6: // unreachable, then answered after the route change
					ok = ok && ts.ErrorCounts().ByType[probe.ErrDestUnreachable] >= 10 && ts.Replies >= 10 && ts.ErrorCounts().ByType[probe.ErrDestUnreachable]+ts.Replies == ts.Sent && errs == ts.ErrorCounts().ByType[probe.ErrDestUnreachable]
				case rt4: // the same, but the kernel rate-limits these IPv4 errors (per source, shared with
					// its redirects): the probes without one are lost; the errors match the router's count (above).
					ok = ts.Sent >= 30 && ts.Late == 0 && ts.Duplicates == 0 && ts.Replies >= 10 &&
						ts.ErrorCounts().ByType[probe.ErrDestUnreachable]+ts.Replies+ts.Lost == ts.Sent && errs == ts.ErrorCounts().ByType[probe.ErrDestUnreachable]
				case redir: // redirected, then dropped: lost, never an error
					ok = ts.Sent >= 30 && ts.Lost == ts.Sent && errs == 0
				}
				if !ok {
					t.Errorf("%s: sent %d replies %d lost %d late %d dups %d errors %v", ts.IP, ts.Sent, ts.Replies, ts.Lost, ts.Late, ts.Duplicates, ts.ErrorCounts().ByType)
				}
			}
			if e := snap.Engine; e.Foreign != 0 || e.Invalid != 0 {
				t.Errorf("foreign %d invalid %d, want 0", e.Foreign, e.Invalid)
			}
		})
	}
}
