package probe

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// pathNet is a fake routed network for the sim: every probe to the target
// passes routers[0], routers[1], ... and reaches the target at TTL
// len(routers)+1. cutAfter > 0 drops everything past router cutAfter (a
// cut link); quote8 makes routers quote only 8 bytes of the probe; forge
// makes them answer with a tag that does not verify.
type pathNet struct {
	routers  []netip.Addr
	cutAfter int
	quote8   bool
	forge    bool
	hopDelay time.Duration
	// mtu > 0: the link behind router mtuAt carries IP packets of at most
	// mtu bytes; larger ones get fragmentation needed / packet too big.
	mtu, mtuAt int
	sends      []Packet // every packet built (TTL -size for path MTU probes)
	sendAt     []int64
	dfBuf      []byte
}

// answer returns what comes back for p sent at now.
func (n *pathNet) answer(s *sim, p Packet, now int64) []pendingReply {
	ttl := p.TTL
	if ttl == 0 {
		ttl = 64
	}
	hops := len(n.routers) + 1
	v6 := p.Dst.Is6()
	for i := 1; i <= min(ttl, hops); i++ {
		if n.cutAfter > 0 && i > n.cutAfter {
			return nil
		}
		at := now + int64(i)*int64(n.hopDelay)
		if n.mtu > 0 && i == n.mtuAt && len(p.Buf)+ipHeaderLen(v6) > n.mtu && ttl > i {
			typ, code := uint8(icmpv4Unreach), uint8(4)
			if v6 {
				typ, code = icmpv6TooBig, 0
			}
			return []pendingReply{{at: at, r: Received{Src: n.routers[i-1], Buf: slices.Clone(p.Buf), V6: v6, TTL: 64, FromErrQueue: true,
				QuotedDst: p.Dst, ErrType: typ, ErrCode: code, KernelStamp: s.wallNs(at)}}}
		}
		if i == hops { // the target
			b := slices.Clone(p.Buf)
			b[0] = echoReplyType(v6)
			return []pendingReply{{at: at, r: Received{Src: p.Dst, Buf: b, V6: v6, TTL: 60, KernelStamp: s.wallNs(at)}}}
		}
		if i == ttl { // expires at router i
			q := slices.Clone(p.Buf)
			if n.forge {
				q[len(q)-1] ^= 0xff
			}
			if n.quote8 {
				q = q[:icmpHeaderLen]
			}
			typ := uint8(icmpv4TimeExceed)
			if v6 {
				typ = icmpv6TimeExceed
			}
			return []pendingReply{{at: at, r: Received{Src: n.routers[i-1], Buf: q, V6: v6, TTL: 64, FromErrQueue: true,
				QuotedDst: p.Dst, ErrType: typ, KernelStamp: s.wallNs(at)}}}
		}
	}
	return nil
}

// runNet advances the sim to until, with n as the network.
func (s *sim) runNet(n *pathNet, until time.Duration) {
	s.network = func(p Packet) []pendingReply {
		n.sends = append(n.sends, Packet{Dst: p.Dst, TTL: p.TTL})
		n.sendAt = append(n.sendAt, s.now)
		return n.answer(s, p, s.now)
	}
	// One step at a time, sending the path MTU probes as the engine's
	// DF sender would after every pass.
	for s.now < int64(until) {
		s.run(time.Duration(s.now + s.step))
		var df []Packet
		df, n.dfBuf = s.c.takeDF(nil, n.dfBuf)
		for _, p := range df {
			n.sends = append(n.sends, Packet{Dst: p.Dst, TTL: -len(p.Buf)})
			n.sendAt = append(n.sendAt, s.now)
			s.pending = append(s.pending, n.answer(s, p, s.now)...)
		}
		s.c.dfSent(df, s.now)
	}
}

// pathFamilies are a target behind three routers, in IPv4 and IPv6.
var pathFamilies = []struct {
	name, target string
	routers      []netip.Addr
}{
	{"ipv4", "10.9.0.1", addrs("10.0.0.1", "10.0.1.1", "10.0.2.1")},
	{"ipv6", "fd00:9::1", addrs("fd00:0::1", "fd00:1::1", "fd00:2::1")},
}

func pathSpec(addr string, interval time.Duration) TargetSpec {
	ts := simTarget(addr, interval, interval/2)
	ts.DownAfter = 2
	ts.Path = PathSpec{Enabled: true, MaxHops: 8}
	return ts
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestPathSnapshotCutAndRestore(t *testing.T) {
	for _, fam := range pathFamilies {
		t.Run(fam.name, func(t *testing.T) {
			const iv = 100 * time.Millisecond
			s := newSim(t, Spec{Targets: []TargetSpec{pathSpec(fam.target, iv)}})
			var events []PathEvent
			s.c.onPath = func(e PathEvent) { events = append(events, e) }
			n := &pathNet{routers: fam.routers, hopDelay: time.Millisecond}
			s.runNet(n, time.Second)
			tg := s.target(fam.target)
			// The first up takes the first baseline (auto: one target).
			if len(events) != 1 || events[0].Result.Reason != PathReasonBaseline {
				t.Fatalf("events after start: %+v", events)
			}
			base := events[0].Result
			if !base.Reached || base.HopCount != 4 || base.LastHop != netip.MustParseAddr(fam.target) || base.Changed {
				t.Fatalf("baseline %+v", base)
			}
			for i, r := range fam.routers {
				if h := base.Hops[i]; h.Addr != r || h.TTL != i+1 || h.Error != ErrTimeExceeded || h.RTT != time.Duration(i+1)*time.Millisecond {
					t.Errorf("baseline hop %d: %+v, want %s after %d ms", i+1, h, r, i+1)
				}
			}
			// Cut the link behind the second router.
			n.cutAfter = 2
			cut := s.now
			s.runNet(n, 3*time.Second)
			if tg.state != stateDown {
				t.Fatal("target not down after the cut")
			}
			if len(events) != 2 {
				t.Fatalf("%d snapshots after the cut, want 2: %+v", len(events), events)
			}
			down := events[1].Result
			// Down after 2 lost probes (<= 2 intervals + timeout after the
			// cut); the snapshot starts at once and ends one timeout later.
			if d := down.Time.Sub(s.c.wall(cut)); down.Reason != PathReasonDown || d > 3*iv {
				t.Errorf("down snapshot %s, %v after the cut", down.Reason, d)
			}
			if down.Reached || down.LastHop != fam.routers[1] || down.LastHopTTL != 2 || !down.Changed || down.Probes != 4 {
				t.Errorf("down snapshot %+v: want last hop %s at TTL 2, 4 probes (the baseline's hop count)", down, fam.routers[1])
			}
			var snap TargetSnapshot
			tg.copyTo(&snap, s.c.epoch, true)
			if !snap.Path.HasDownHop || snap.Path.DownHop != fam.routers[1] || snap.Path.HopCount != 4 || snap.Path.Changes != 1 {
				t.Errorf("summary while down %+v", snap.Path)
			}
			// Restore.
			n.cutAfter = 0
			s.runNet(n, 5*time.Second)
			if tg.state != stateUp || len(events) != 3 {
				t.Fatalf("after restore: state %d, %d snapshots", tg.state, len(events))
			}
			up := events[2].Result
			if up.Reason != PathReasonUp || !up.Reached || up.HopCount != 4 || up.Changed || up.Differs(&base) {
				t.Errorf("up snapshot %+v", up)
			}
			tg.copyTo(&snap, s.c.epoch, true)
			if snap.Path.HasDownHop || snap.Path.Changes != 2 || snap.Path.Snapshots != 3 {
				t.Errorf("summary after restore %+v", snap.Path)
			}
			info := tg.pathInfo()
			if len(info.History) != 3 || info.Baseline == nil || info.Baseline.Reason != PathReasonUp {
				t.Errorf("info %+v", info)
			}
			if s.c.stats.Foreign != 0 || s.c.path.stats.Late != 0 {
				t.Errorf("foreign %d late %d", s.c.stats.Foreign, s.c.path.stats.Late)
			}
		})
	}
}

func TestPathProbesAreTagVerified(t *testing.T) {
	s := newSim(t, Spec{Targets: []TargetSpec{pathSpec("10.9.0.1", 100*time.Millisecond)}})
	n := &pathNet{routers: addrs("10.0.0.1", "10.0.1.1"), forge: true}
	s.runNet(n, time.Second)
	res := s.target("10.9.0.1").paths().last
	if res == nil || !res.Reached || res.Hops[0].Answered() || res.Hops[1].Answered() {
		t.Fatalf("forged answers recorded: %+v", res)
	}
	if s.c.stats.Foreign != 2 {
		t.Errorf("foreign %d, want 2 (one forged time exceeded per router)", s.c.stats.Foreign)
	}
}

func TestPathShortQuote(t *testing.T) {
	s := newSim(t, Spec{Targets: []TargetSpec{pathSpec("10.9.0.1", 100*time.Millisecond)}})
	n := &pathNet{routers: addrs("10.0.0.1", "10.0.1.1"), quote8: true}
	s.runNet(n, time.Second)
	res := s.target("10.9.0.1").paths().last
	if res == nil || res.Hops[0].Addr != n.routers[0] || res.Hops[1].Addr != n.routers[1] {
		t.Fatalf("8-byte quotes not matched: %+v", res)
	}
	if s.c.stats.Foreign != 0 {
		t.Errorf("foreign %d", s.c.stats.Foreign)
	}
}

func TestPathLongerThanBaselineExtends(t *testing.T) {
	ts := pathSpec("10.9.0.1", 100*time.Millisecond)
	ts.Path.Baseline = time.Second
	s := newSim(t, Spec{Targets: []TargetSpec{ts}})
	n := &pathNet{routers: addrs("10.0.0.1")}
	s.runNet(n, 500*time.Millisecond)
	n.routers = addrs("10.0.0.1", "10.0.5.1", "10.0.6.1")
	s.runNet(n, 1800*time.Millisecond)
	pt := s.target("10.9.0.1").paths()
	if pt.snapshots != 2 || !pt.last.Reached || pt.last.HopCount != 4 || pt.changes != 1 || pt.base.HopCount != 4 {
		t.Fatalf("snapshots %d, last %+v, changes %d", pt.snapshots, pt.last, pt.changes)
	}
}

func TestPathCooldownDefers(t *testing.T) {
	ts := pathSpec("10.9.0.1", 100*time.Millisecond)
	ts.Path.Cooldown = 2 * time.Second
	s := newSim(t, Spec{Targets: []TargetSpec{ts}})
	var events []PathEvent
	s.c.onPath = func(e PathEvent) { events = append(events, e) }
	n := &pathNet{routers: addrs("10.0.0.1", "10.0.1.1")}
	s.runNet(n, 300*time.Millisecond) // baseline at about 0
	n.cutAfter = 1
	s.runNet(n, 1200*time.Millisecond) // down: deferred to 2 s
	if len(events) != 1 {
		t.Fatalf("%d snapshots inside the cooldown", len(events))
	}
	s.runNet(n, 2500*time.Millisecond)
	if len(events) != 2 || events[1].Result.Reason != PathReasonDown || events[1].Result.Time.Sub(events[0].Result.Time) < 2*time.Second {
		t.Fatalf("events %+v", events)
	}
}

// TestPathMassOutageBudget: 2000 targets go down together. Every probe,
// path probes included, stays within max_pps in every second, path probes
// within their budget, and every down snapshot finishes within the time
// the budget allows.
func TestPathMassOutageBudget(t *testing.T) {
	const (
		nt      = 2000
		maxPPS  = 3000
		pathPPS = 1000
	)
	spec := Spec{Engine: EngineSpec{MaxPPS: maxPPS, PathPPS: pathPPS}}
	for i := range nt {
		a := netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)})
		ts := pathSpec(a.String(), time.Second)
		ts.Path.Baseline = PathBaselineOff
		spec.Targets = append(spec.Targets, ts)
	}
	s := newSim(t, spec)
	s.step = int64(time.Millisecond)
	done := 0
	var lastDone int64
	s.c.onPath = func(e PathEvent) {
		if e.Result.Reason == PathReasonDown && e.Result.LastHop == netip.MustParseAddr("10.0.1.1") {
			done++
			lastDone = s.now
		}
	}
	n := &pathNet{routers: addrs("10.0.0.1", "10.0.1.1", "10.0.2.1"), cutAfter: 0}
	s.runNet(n, 2*time.Second)
	n.cutAfter = 2
	cut := s.now
	s.runNet(n, 40*time.Second)
	// No baseline: max_hops (8) probes per snapshot.
	budget := time.Duration(nt*8) * time.Second / pathPPS
	if done != nt {
		t.Fatalf("%d of %d down snapshots named the second router", done, nt)
	}
	if d := time.Duration(lastDone - cut); d > budget+5*time.Second {
		t.Errorf("last snapshot %v after the cut, budget %v", d, budget)
	}
	perSec := map[int64]int{}
	pathPerSec := map[int64]int{}
	for i, p := range n.sends {
		sec := n.sendAt[i] / int64(time.Second)
		perSec[sec]++
		if p.TTL > 0 {
			pathPerSec[sec]++
		}
	}
	for sec, c := range perSec {
		if c > maxPPS+sendBatch {
			t.Errorf("second %d: %d probes, max_pps %d", sec, c, maxPPS)
		}
		if pc := pathPerSec[sec]; pc > pathPPS+pathPPS/100+1 {
			t.Errorf("second %d: %d path probes, budget %d", sec, pc, pathPPS)
		}
	}
	if st := s.c.pathStats(); st.Queued != 0 || st.Active != 0 || st.ProbesSent != uint64(nt*8) {
		t.Errorf("path stats %+v", st)
	}
	if len(s.c.path.flight) != 0 {
		t.Errorf("%d path probes still in flight", len(s.c.path.flight))
	}
}

func TestPathMTUSearch(t *testing.T) {
	for _, fam := range pathFamilies {
		t.Run(fam.name, func(t *testing.T) {
			ts := pathSpec(fam.target, 100*time.Millisecond)
			ts.Path.MTU = MTUSpec{Enabled: true, Max: 1500, Interval: 5 * time.Second}
			s := newSim(t, Spec{Targets: []TargetSpec{ts}})
			n := &pathNet{routers: fam.routers, mtu: 1300, mtuAt: 2}
			s.runNet(n, 4*time.Second)
			tg := s.target(fam.target)
			var snap TargetSnapshot
			tg.copyTo(&snap, s.c.epoch, true)
			if snap.Path.MTU.MTU != 1300 || snap.Path.MTU.Changes != 0 {
				t.Fatalf("path MTU %+v, want 1300", snap.Path.MTU)
			}
			probes := 0
			for _, p := range n.sends {
				if p.TTL < 0 {
					probes++
					if -p.TTL+ipHeaderLen(tg.ip.Is6()) > 1500 {
						t.Errorf("MTU probe of %d bytes, max 1500", -p.TTL+ipHeaderLen(tg.ip.Is6()))
					}
				}
			}
			if probes < 2 || probes > 12 {
				t.Errorf("%d MTU probes for one search", probes)
			}
			// The next cycle finds a larger MTU and counts the change.
			n.mtu = 1400
			s.runNet(n, 10*time.Second)
			tg.copyTo(&snap, s.c.epoch, true)
			if snap.Path.MTU.MTU != 1400 || snap.Path.MTU.Changes != 1 {
				t.Fatalf("path MTU %+v, want 1400 after one change", snap.Path.MTU)
			}
			if s.c.stats.Foreign != 0 || len(s.c.path.mtu.flight) != 0 {
				t.Errorf("foreign %d, in flight %d", s.c.stats.Foreign, len(s.c.path.mtu.flight))
			}
		})
	}
}

// TestPathMTUBlackHole: a link that drops too large packets without a
// word (no fragmentation needed) still gives the MTU, by timeouts.
func TestPathMTUBlackHole(t *testing.T) {
	ts := pathSpec("10.9.0.1", 100*time.Millisecond)
	ts.Path.MTU = MTUSpec{Enabled: true, Max: 1500, Interval: time.Minute}
	s := newSim(t, Spec{Targets: []TargetSpec{ts}})
	n := &pathNet{routers: addrs("10.0.0.1", "10.0.1.1")}
	s.network = nil
	s.runNet(n, 100*time.Millisecond)
	inner := s.network
	s.network = func(p Packet) []pendingReply {
		if len(p.Buf)+20 > 1200 {
			return nil
		}
		return inner(p)
	}
	for s.now < int64(10*time.Second) {
		s.run(time.Duration(s.now + s.step))
		df, _ := s.c.takeDF(nil, nil)
		for _, p := range df {
			s.pending = append(s.pending, s.network(p)...)
		}
		s.c.dfSent(df, s.now)
	}
	if got := s.target("10.9.0.1").paths().mtu.info.MTU; got != 1200 {
		t.Fatalf("path MTU %d, want 1200", got)
	}
}

// TestPathFirstBaselineWithMTU: a target that also searches its MTU (its
// path state exists from the start) still takes its first baseline at its
// first up.
func TestPathFirstBaselineWithMTU(t *testing.T) {
	ts := pathSpec("10.9.0.1", 100*time.Millisecond)
	ts.Path.MTU = MTUSpec{Enabled: true, Max: 1500, Interval: time.Minute}
	s := newSim(t, Spec{Targets: []TargetSpec{ts}})
	s.runNet(&pathNet{routers: addrs("10.0.0.1")}, 500*time.Millisecond)
	if pt := s.target("10.9.0.1").paths(); pt.base == nil || pt.base.HopCount != 2 {
		t.Fatalf("no first baseline: %+v", pt.base)
	}
}

// TestPathLateAnswers: an answer to a path probe of a finished snapshot is
// late, not foreign; a regular probe's late reply stays the target's.
func TestPathLateAnswers(t *testing.T) {
	s := newSim(t, Spec{Targets: []TargetSpec{pathSpec("10.9.0.1", 100*time.Millisecond)}})
	n := &pathNet{routers: addrs("10.0.0.1", "10.0.1.1"), hopDelay: 40 * time.Millisecond} // router 2 answers after 80 ms: after the 50 ms timeout
	s.runNet(n, 300*time.Millisecond)
	tg := s.target("10.9.0.1")
	if s.c.path.stats.Late == 0 || s.c.stats.Foreign != 0 {
		t.Errorf("path late %d, foreign %d", s.c.path.stats.Late, s.c.stats.Foreign)
	}
	if tg.extra().late == 0 {
		t.Errorf("the target's late replies were taken for path answers")
	}
}
