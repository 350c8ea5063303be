package probe

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

const vIv = 10 * time.Millisecond

func vTargets(group string, first byte, n int) []TargetSpec {
	var ts []TargetSpec
	for i := range n {
		ts = append(ts, simTarget(netip.AddrFrom4([4]byte{192, 0, first, byte(i + 1)}).String(), vIv, 5*time.Millisecond))
		ts[len(ts)-1].Group = group
	}
	return ts
}

func vRule() VantageRule {
	return VantageRule{Share: DefaultVantageShare, MinTargets: DefaultVantageMinTargets, Window: DefaultVantageWindow}
}

// down returns a respond function under which probes to the addresses
// failing returns true for get no reply.
func down(failing func(dst netip.Addr, at int64) bool) func(netip.Addr, int64) (time.Duration, bool) {
	return func(dst netip.Addr, at int64) (time.Duration, bool) {
		if failing(dst, at) {
			return 0, false
		}
		return time.Millisecond, true
	}
}

func within(at int64, from, to time.Duration) bool { return at >= int64(from) && at < int64(to) }

func (s *sim) vantage(group string) VantageSnapshot {
	for _, v := range s.c.vantageSnapshot(nil) {
		if v.Group == group {
			return v
		}
	}
	s.t.Fatalf("no vantage scope %q", group)
	return VantageSnapshot{}
}

func (s *sim) snap(name string) TargetSnapshot {
	var ts TargetSnapshot
	s.target(name).copyTo(&ts, s.c.epoch, true)
	return ts
}

// stall stops the virtual prober for d: nothing runs, then the sender's
// next pass sees it woke d late.
func (s *sim) stall(d time.Duration) {
	planned := s.now + s.step
	s.now += int64(d)
	s.c.wakeCheck(planned, s.now, -1)
}

// TestVantageCorrelatedFailure: every target of the group fails at once:
// one vantage outage of the exporter and of the group, with the right
// start and end, and every target outage caused by the vantage. A single
// target failing later is its own cause.
func TestVantageCorrelatedFailure(t *testing.T) {
	spec := Spec{Targets: vTargets("g", 2, 10), Vantage: VantageSpec{Enabled: true, Rule: vRule()}}
	s := newSim(t, spec)
	s.step = int64(time.Millisecond)
	lone := netip.MustParseAddr("192.0.2.1")
	s.respond = down(func(dst netip.Addr, at int64) bool {
		return within(at, 200*time.Millisecond, 400*time.Millisecond) || dst == lone && within(at, 600*time.Millisecond, 800*time.Millisecond)
	})
	s.run(300 * time.Millisecond)
	if v := s.vantage(""); v.Up || v.OutagesTotal != 1 || v.Down != 10 || !v.Last.Ongoing {
		t.Fatalf("exporter vantage during the cut: %+v", v)
	}
	s.run(time.Second)
	for _, g := range []string{"", "g"} {
		v := s.vantage(g)
		if !v.Up || v.OutagesTotal != 1 || v.Last.Ongoing || v.CompletedOutages() != 1 {
			t.Fatalf("vantage %q: %+v", g, v)
		}
		start, end := v.Last.Start.Sub(s.c.epoch), v.Last.End.Sub(s.c.epoch)
		if start < 200*time.Millisecond || start >= 200*time.Millisecond+vIv {
			t.Errorf("vantage %q start %v, want within one interval after 200ms", g, start)
		}
		if end < 400*time.Millisecond || end >= 400*time.Millisecond+vIv {
			t.Errorf("vantage %q end %v, want within one interval after 400ms", g, end)
		}
	}
	for _, tg := range s.c.targets {
		ts := s.snap(tg.spec.Name)
		want := uint64(1)
		if tg.ip == lone {
			want = 2
		}
		if ts.OutageRecord().Total != want || ts.OutageRecord().Vantage != 1 || ts.OutageRecord().Recent[0].Cause != CauseVantage {
			t.Errorf("%s: outages %d, vantage-caused %d, first cause %v", tg.spec.Name, ts.OutageRecord().Total, ts.OutageRecord().Vantage, ts.OutageRecord().Recent[0].Cause)
		}
		if tg.ip == lone && ts.OutageRecord().Recent[1].Cause != CauseTarget {
			t.Errorf("%s: lone outage cause %v, want target", tg.spec.Name, ts.OutageRecord().Recent[1].Cause)
		}
	}
}

// TestVantageNotTriggered: too few targets failing together, or enough
// but spread over more than the window, leave the vantage up.
func TestVantageNotTriggered(t *testing.T) {
	cases := []struct {
		name    string
		failing func(dst netip.Addr, at int64) bool
	}{
		{"below share", func(dst netip.Addr, at int64) bool {
			return dst.As4()[3] <= 4 && at >= int64(200*time.Millisecond) // 4 of 10
		}},
		{"spread over time", func(dst netip.Addr, at int64) bool {
			// target i fails from 100 ms + i*50 ms on: 5 intervals apart, window 3
			return at >= int64(100*time.Millisecond)+int64(dst.As4()[3])*int64(50*time.Millisecond)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, Spec{Targets: vTargets("g", 2, 10), Vantage: VantageSpec{Enabled: true, Rule: vRule()}})
			s.step = int64(time.Millisecond)
			s.respond = down(tc.failing)
			s.run(time.Second)
			if v := s.vantage(""); !v.Up || v.OutagesTotal != 0 {
				t.Errorf("vantage: %+v", v)
			}
			var outages, vantage uint64
			for _, tg := range s.c.targets {
				ts := s.snap(tg.spec.Name)
				outages += ts.OutageRecord().Total
				vantage += ts.OutageRecord().Vantage
			}
			if outages < 4 || vantage != 0 {
				t.Errorf("target outages %d, vantage-caused %d", outages, vantage)
			}
		})
	}
}

// TestVantageAnchors: the anchor (a gateway) failing alone takes the
// vantage down; targets failing with it are caused by the vantage.
func TestVantageAnchors(t *testing.T) {
	rule := vRule()
	rule.Anchors = []string{"gw"}
	spec := Spec{Targets: append(vTargets("gw", 1, 1), vTargets("dc", 2, 2)...), Vantage: VantageSpec{Enabled: true, Rule: rule}}
	s := newSim(t, spec)
	s.step = int64(time.Millisecond)
	gw := netip.MustParseAddr("192.0.1.1")
	s.respond = down(func(dst netip.Addr, at int64) bool {
		return within(at, 200*time.Millisecond, 300*time.Millisecond) || // everything: anchor and targets
			dst == gw && within(at, 500*time.Millisecond, 600*time.Millisecond) || // the anchor alone
			dst != gw && within(at, 700*time.Millisecond, 800*time.Millisecond) // both targets, not the anchor
	})
	s.run(time.Second)
	v := s.vantage("")
	if v.OutagesTotal != 2 || !v.Up || v.Anchors != 1 || v.Members != 2 {
		t.Fatalf("exporter vantage %+v, want 2 outages (anchor down twice), 1 anchor, 2 members", v)
	}
	if got := v.Last.Start.Sub(s.c.epoch); got < 500*time.Millisecond || got >= 500*time.Millisecond+vIv {
		t.Errorf("last vantage outage start %v, want the anchor's at 500ms", got)
	}
	for _, name := range []string{"192.0.2.1", "192.0.2.2"} {
		ts := s.snap(name)
		if ts.OutageRecord().Total != 2 || ts.OutageRecord().Vantage != 1 || ts.OutageRecord().Recent[0].Cause != CauseVantage || ts.OutageRecord().Recent[1].Cause != CauseTarget {
			t.Errorf("%s: outages %d vantage %d %+v (2 members stay below min_targets: the second is theirs)", name, ts.OutageRecord().Total, ts.OutageRecord().Vantage, ts.OutageRecord().Recent)
		}
	}
	if d := s.vantage("dc"); d.OutagesTotal != 2 {
		t.Errorf("group dc follows the exporter: %+v", d)
	}
}

// TestVantagePerGroup: a group's own rule takes its vantage down without
// the exporter's; the other group is untouched.
func TestVantagePerGroup(t *testing.T) {
	strict := vRule()
	strict.Share = 0.9
	spec := Spec{Targets: append(vTargets("a", 1, 6), vTargets("b", 2, 6)...),
		Vantage: VantageSpec{Enabled: true, Rule: strict, Groups: map[string]VantageRule{"a": vRule()}}}
	s := newSim(t, spec)
	s.step = int64(time.Millisecond)
	s.respond = down(func(dst netip.Addr, at int64) bool {
		return dst.As4()[2] == 1 && within(at, 200*time.Millisecond, 400*time.Millisecond)
	})
	s.run(300 * time.Millisecond)
	if a, b, all := s.vantage("a"), s.vantage("b"), s.vantage(""); a.Up || !b.Up || !all.Up {
		t.Fatalf("during: a %+v b %+v exporter %+v", a, b, all)
	}
	s.run(600 * time.Millisecond)
	if a, b, all := s.vantage("a"), s.vantage("b"), s.vantage(""); !a.Up || a.OutagesTotal != 1 || b.OutagesTotal != 0 || all.OutagesTotal != 0 {
		t.Fatalf("after: a %+v b %+v exporter %+v", a, b, all)
	}
	if ts := s.snap("192.0.1.1"); ts.OutageRecord().Vantage != 1 {
		t.Errorf("group a target: %+v", ts.OutageRecord().Recent)
	}
}

// TestVantageReload: a reload keeps the vantage record of a group that
// stays, and turning vantage health off drops it.
func TestVantageReload(t *testing.T) {
	spec := Spec{Targets: vTargets("g", 2, 6), Vantage: VantageSpec{Enabled: true, Rule: vRule()}}
	s := newSim(t, spec)
	s.respond = down(func(_ netip.Addr, at int64) bool { return within(at, 100*time.Millisecond, 200*time.Millisecond) })
	s.run(300 * time.Millisecond)
	spec2 := Spec{Targets: append(vTargets("g", 2, 6), vTargets("h", 3, 2)...), Vantage: spec.Vantage}
	s.c.apply(&spec2, s.now)
	if v := s.vantage("g"); v.OutagesTotal != 1 || !v.Up || v.Members != 6 {
		t.Errorf("kept group: %+v", v)
	}
	if v := s.vantage(""); v.OutagesTotal != 1 || v.Members != 8 {
		t.Errorf("exporter: %+v", v)
	}
	s.c.apply(&Spec{Targets: spec2.Targets}, s.now)
	if got := s.c.vantageSnapshot(nil); len(got) != 0 {
		t.Errorf("vantage off: %+v", got)
	}
	s.run(400 * time.Millisecond)
}

// TestGapNotOutage: the prober stalls while a probe is in flight that the
// stall keeps from being answered: with down_after 1 that loss alone
// would open an outage. A gap is counted instead, and no outage opened.
func TestGapNotOutage(t *testing.T) {
	for _, stall := range []bool{true, false} {
		t.Run(map[bool]string{true: "stalled", false: "control"}[stall], func(t *testing.T) {
			spec := simTarget("192.0.2.1", vIv, 5*time.Millisecond)
			spec.DownAfter = 1
			s := newSim(t, Spec{Targets: []TargetSpec{spec}})
			s.step = int64(time.Millisecond)
			// The probe sent just before the stall gets no reply (its reply
			// would have arrived while the prober was stopped and was lost).
			s.respond = down(func(_ netip.Addr, at int64) bool { return within(at, 100*time.Millisecond, 101*time.Millisecond) })
			s.run(100 * time.Millisecond)
			if stall {
				s.stall(1500 * time.Millisecond)
			}
			s.run(2 * time.Second)
			ts := s.snap("192.0.2.1")
			if !stall {
				if ts.OutageRecord().Total != 1 {
					t.Fatalf("control: outages %d, want 1 (the test cannot fail otherwise)", ts.OutageRecord().Total)
				}
				return
			}
			if ts.OutageRecord().Total != 0 || !ts.Up {
				t.Errorf("outages %d up %v: a stall opened an outage", ts.OutageRecord().Total, ts.Up)
			}
			if ts.Lost != 1 || ts.Skipped < 140 {
				t.Errorf("lost %d skipped %d: the probe in flight is counted lost, the stalled ones skipped", ts.Lost, ts.Skipped)
			}
			if s.c.stats.Gaps != 1 || s.c.stats.GapSeconds < 1.49 || s.c.stats.GapSeconds > 1.51 {
				t.Errorf("gaps %d (%v s), want 1 of 1.5 s", s.c.stats.Gaps, s.c.stats.GapSeconds)
			}
		})
	}
}

// TestGapEndsOutage: a target down before a stall that answers after it:
// its outage ends at the gap's start, not after the gap.
func TestGapEndsOutage(t *testing.T) {
	s := newSim(t, Spec{Targets: []TargetSpec{simTarget("192.0.2.1", vIv, 5*time.Millisecond)}})
	s.step = int64(time.Millisecond)
	s.respond = down(func(_ netip.Addr, at int64) bool { return within(at, 50*time.Millisecond, 150*time.Millisecond) })
	s.run(100 * time.Millisecond)
	gapStart := s.now + s.step
	s.stall(1500 * time.Millisecond)
	s.run(2 * time.Second)
	ts := s.snap("192.0.2.1")
	if ts.OutageRecord().Total != 1 || len(ts.OutageRecord().Recent) != 1 || ts.OutageRecord().Recent[0].Ongoing {
		t.Fatalf("outages %+v", ts.OutageRecord().Recent)
	}
	if got := ts.OutageRecord().Recent[0].End.Sub(s.c.epoch); got != time.Duration(gapStart) {
		t.Errorf("outage end %v, want the gap start %v", got, time.Duration(gapStart))
	}
}

// TestGapSuspend: the monotonic clock does not count a suspend; the
// growth of CLOCK_BOOTTIME over it does.
func TestGapSuspend(t *testing.T) {
	s := newSim(t, Spec{Targets: []TargetSpec{simTarget("192.0.2.1", vIv, 5*time.Millisecond)}})
	s.c.wakeCheck(0, 1, 5_000)
	s.c.wakeCheck(2, 3, 5_000+int64(time.Millisecond)) // jitter of the two clock reads
	if s.c.stats.Gaps != 0 {
		t.Fatalf("gap without suspend")
	}
	s.c.wakeCheck(4, 5, 5_000+int64(10*time.Second))
	if s.c.stats.Gaps != 1 || s.c.stats.GapSeconds < 9.9 {
		t.Errorf("gaps %d (%v s), want one of 10s", s.c.stats.Gaps, s.c.stats.GapSeconds)
	}
}

func TestVantageValidate(t *testing.T) {
	ts := vTargets("g", 2, 1)
	for _, tc := range []struct {
		rule VantageRule
		want string
	}{
		{VantageRule{Share: 0, MinTargets: 1, Window: 1}, "share"},
		{VantageRule{Share: 1.5, MinTargets: 1, Window: 1}, "share"},
		{VantageRule{Share: 0.5, MinTargets: 0, Window: 1}, "min_targets"},
		{VantageRule{Share: 0.5, MinTargets: 1, Window: 0}, "window"},
	} {
		spec := Spec{Targets: ts, Vantage: VantageSpec{Enabled: true, Rule: tc.rule}}
		if err := spec.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.rule, err, tc.want)
		}
	}
}

// BenchmarkMassOutage: 10 000 targets in 100 groups all go down and come
// back, with vantage health on and off: the cost of the vantage rules on
// state changes (b.N whole outages).
func BenchmarkMassOutage(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "off", true: "on"}[on], func(b *testing.B) {
			spec := Spec{Vantage: VantageSpec{Enabled: on, Rule: vRule()}}
			for i := range 10_000 {
				ts := simTarget(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}).String(), time.Second, 500*time.Millisecond)
				ts.Group = "g" + string(rune('A'+i%100/10)) + string(rune('A'+i%10))
				spec.Targets = append(spec.Targets, ts)
			}
			s := newSim(b, spec)
			s.step = int64(10 * time.Millisecond)
			b.ResetTimer()
			for range b.N {
				base := time.Duration(s.now)
				s.respond = down(func(_ netip.Addr, at int64) bool {
					return within(at, base+time.Second, base+5*time.Second)
				})
				s.run(base + 8*time.Second)
			}
			b.StopTimer()
			if on {
				if v := s.vantage(""); v.OutagesTotal != uint64(b.N) || !v.Up {
					b.Fatalf("vantage %+v after %d mass outages", v, b.N)
				}
			}
		})
	}
}

// TestVantageCauseWindow: a target down long before the vantage outage
// keeps its own cause; with two anchors, one failing alone is no vantage
// outage.
func TestVantageCauseWindow(t *testing.T) {
	rule := vRule()
	rule.Anchors = []string{"gw"}
	spec := Spec{Targets: append(vTargets("gw", 1, 2), vTargets("g", 2, 6)...), Vantage: VantageSpec{Enabled: true, Rule: rule}}
	s := newSim(t, spec)
	s.step = int64(time.Millisecond)
	early, gw1 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.1.1")
	s.respond = down(func(dst netip.Addr, at int64) bool {
		return dst == early && at >= int64(100*time.Millisecond) || // down from 100 ms on, for good
			dst == gw1 && within(at, 150*time.Millisecond, 250*time.Millisecond) || // one anchor of two
			dst.As4()[2] == 2 && within(at, 500*time.Millisecond, 700*time.Millisecond) // the whole group g
	})
	s.run(400 * time.Millisecond)
	if v := s.vantage(""); v.OutagesTotal != 0 {
		t.Fatalf("one anchor of two down made a vantage outage: %+v", v)
	}
	s.run(time.Second)
	if v := s.vantage(""); v.OutagesTotal != 1 {
		t.Fatalf("vantage %+v, want one outage (group g failing together)", v)
	}
	if ts := s.snap(early.String()); ts.OutageRecord().Total != 1 || ts.OutageRecord().Vantage != 0 || ts.OutageRecord().Recent[0].Cause != CauseTarget {
		t.Errorf("target down 40 intervals before the vantage outage: %+v, want its own cause", ts.OutageRecord().Recent)
	}
	if ts := s.snap("192.0.2.2"); ts.OutageRecord().Vantage != 1 {
		t.Errorf("target of the correlated failure: %+v", ts.OutageRecord().Recent)
	}
}
