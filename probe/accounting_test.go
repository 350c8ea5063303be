package probe

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// inFlight counts the probes of t still waiting for their fate.
func inFlight(t *target) uint64 {
	var n uint64
	for _, s := range t.window {
		if s.state == slotOut {
			n++
		}
	}
	return n
}

// accounted checks that every probe sent to t is exactly one of: replied,
// lost, failed with an error, or still in flight.
func accounted(tb testing.TB, tg *target, when string) {
	tb.Helper()
	var errs uint64
	for _, n := range tg.errorCounts() {
		errs += n
	}
	if got := tg.replies + tg.lost + errs + inFlight(tg); got != tg.sent {
		tb.Fatalf("%s: %s: sent %d but replies %d + lost %d + errors %d + in flight %d = %d",
			when, tg.spec.Name, tg.sent, tg.replies, tg.lost, errs, inFlight(tg), got)
	}
}

// TestWindowCoversTimeout: a timeout of 100 intervals with replies after 70
// intervals. Every probe is answered in time: none may be lost or late
// because the in-flight window wrapped before the timeout.
func TestWindowCoversTimeout(t *testing.T) {
	for _, tc := range []struct {
		interval, timeout, rtt time.Duration
	}{
		{10 * time.Millisecond, time.Second, 700 * time.Millisecond},
		{time.Millisecond, time.Second, 900 * time.Millisecond},
		{100 * time.Millisecond, time.Minute, 20 * time.Second},
	} {
		t.Run(tc.interval.String()+"/"+tc.timeout.String(), func(t *testing.T) {
			s := newSim(t, Spec{Targets: []TargetSpec{simTarget("192.0.2.1", tc.interval, tc.timeout)}})
			s.step = int64(tc.interval / 4)
			s.respond = func(netip.Addr, int64) (time.Duration, bool) { return tc.rtt, true }
			s.run(tc.timeout*2 + tc.rtt)
			tg := s.target("192.0.2.1")
			accounted(t, tg, "end")
			if tg.lost != 0 || tg.extra().late != 0 || tg.state != stateUp {
				t.Fatalf("sent %d replies %d lost %d late %d state %d, want no loss (window %d slots)",
					tg.sent, tg.replies, tg.lost, tg.extra().late, tg.state, len(tg.window))
			}
			if tg.lastRTT != int64(tc.rtt) {
				t.Errorf("rtt %v, want %v", time.Duration(tg.lastRTT), tc.rtt)
			}
		})
	}
}

// TestTimeoutLimitRefused: what the window cannot hold is refused with the
// numbers and the remedy, and the limit is what Validate and the window use.
func TestTimeoutLimitRefused(t *testing.T) {
	spec := Spec{Targets: []TargetSpec{simTarget("192.0.2.1", time.Millisecond, time.Minute)}}
	err := spec.Validate()
	if err == nil || !strings.Contains(err.Error(), "in flight") || !strings.Contains(err.Error(), "lengthen the interval") {
		t.Fatalf("Validate = %v, want a refusal naming the probes in flight and the remedy", err)
	}
	for _, iv := range []time.Duration{time.Millisecond, 7 * time.Millisecond, 100 * time.Millisecond, time.Second, time.Hour} {
		lim := TimeoutLimit(iv)
		ok := simTarget("192.0.2.1", iv, lim)
		if err := ok.validate(); err != nil {
			t.Errorf("interval %s timeout %s (the limit): %v", iv, lim, err)
		}
		if w := windowSize(&ok); w > MaxWindow {
			t.Errorf("interval %s timeout %s: window %d > %d", iv, lim, w, MaxWindow)
		}
		bad := simTarget("192.0.2.1", iv, lim+time.Millisecond)
		if bad.validate() == nil {
			t.Errorf("interval %s timeout %s (above the limit) accepted", iv, bad.Timeout)
		}
	}
}

// TestReloadRespreadsPhases: 100 targets move from a 100 ms to a 1 s
// interval. Their sends must spread over the new period (10 per 100 ms),
// not stay bunched into the first 100 ms.
func TestReloadRespreadsPhases(t *testing.T) {
	for _, tc := range []struct{ from, to time.Duration }{
		{100 * time.Millisecond, time.Second},
		{time.Second, 100 * time.Millisecond},
	} {
		t.Run(tc.from.String()+"->"+tc.to.String(), func(t *testing.T) {
			const n = 100
			var spec Spec
			for i := range n {
				a := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
				spec.Targets = append(spec.Targets, simTarget(a.String(), tc.from, tc.from/2))
			}
			s := newSim(t, spec)
			s.run(3*tc.from + tc.from/3)
			var next Spec
			for _, ts := range spec.Targets {
				ts.Interval, ts.Timeout = tc.to, tc.to/2
				next.Targets = append(next.Targets, ts)
			}
			s.c.apply(&next, s.now)
			reload := s.now
			s.sends = s.sends[:0]
			s.run(time.Duration(reload) + 3*tc.to)
			// Sends per tenth of the new interval, over 3 intervals.
			slot := int64(tc.to / 10)
			counts := make([]int, 30)
			for _, r := range s.sends {
				if i := (r.at - reload) / slot; i < 30 {
					counts[i]++
				}
			}
			for _, c := range counts {
				if c < n/10-2 || c > n/10+2 {
					t.Fatalf("sends per %s after the reload: %v; want %d±2 in each", time.Duration(slot), counts, n/10)
				}
			}
			for _, tg := range s.c.targets {
				accounted(t, tg, "after reload")
			}
		})
	}
}

// TestReloadAccountsEveryProbe: reloads at random moments change interval
// and timeout (growing and shrinking the window) while replies are slow,
// some lost, some duplicated. After every step each probe is exactly one of
// replied, lost, error or in flight, and at the end none is in flight.
func TestReloadAccountsEveryProbe(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := []TargetSpec{simTarget("192.0.2.1", 10*time.Millisecond, 200*time.Millisecond),
		simTarget("192.0.2.2", 10*time.Millisecond, 50*time.Millisecond),
		simTarget("2001:db8::1", 5*time.Millisecond, 300*time.Millisecond)}
	s := newSim(t, Spec{Targets: base})
	s.step = int64(time.Millisecond)
	s.respond = func(_ netip.Addr, at int64) (time.Duration, bool) {
		return time.Duration(rng.Int64N(int64(250 * time.Millisecond))), rng.IntN(10) != 0
	}
	timings := []struct{ iv, to time.Duration }{
		{10 * time.Millisecond, 200 * time.Millisecond},
		{100 * time.Millisecond, 20 * time.Millisecond},
		{time.Millisecond, 300 * time.Millisecond},
		{50 * time.Millisecond, 10 * time.Millisecond},
		{2 * time.Millisecond, 100 * time.Millisecond},
	}
	until := time.Duration(0)
	for step := range 40 {
		until += time.Duration(rng.Int64N(int64(300 * time.Millisecond)))
		s.run(until)
		var next Spec
		for _, ts := range base {
			tm := timings[rng.IntN(len(timings))]
			ts.Interval, ts.Timeout = tm.iv, tm.to
			next.Targets = append(next.Targets, ts)
		}
		s.c.apply(&next, s.now)
		for _, tg := range s.c.targets {
			accounted(t, tg, "reload "+string(rune('A'+step%26)))
		}
	}
	s.respond = func(netip.Addr, int64) (time.Duration, bool) { return 0, false }
	s.run(until + 2*time.Second)
	for _, tg := range s.c.targets {
		accounted(t, tg, "end")
		for _, sl := range tg.window { // nothing stays in flight past its timeout
			if sl.state == slotOut && s.now-sl.sendMono > int64(tg.spec.Timeout)+grace(tg.spec.Timeout)+s.step {
				t.Errorf("%s: probe sent at %v still in flight at %v (timeout %v)", tg.spec.Name,
					time.Duration(sl.sendMono), time.Duration(s.now), tg.spec.Timeout)
			}
		}
	}
}

// oneProbeOut returns a sim whose only target 192.0.2.1 has sent one probe
// that is still in flight (window slot 0), and that probe's bytes.
func oneProbeOut(t testing.TB) (*sim, *target, []byte) {
	s := newSim(t, Spec{Targets: []TargetSpec{simTarget("192.0.2.1", 10*time.Millisecond, 5*time.Millisecond)}})
	s.respond = func(netip.Addr, int64) (time.Duration, bool) { return 0, false }
	s.run(time.Millisecond)
	tg := s.target("192.0.2.1")
	sl := tg.window[0]
	return s, tg, AppendEcho(nil, s.c.tagger, tg.ip, s.c.id4, sl.serial, sl.sendMono, MinPayload)
}

// echoError wraps a quoted echo request (from our source to dst) in an
// IPv4 ICMP error of type typ.
func echoError(typ, code byte, dst netip.Addr, req []byte) []byte {
	d := dst.As4()
	ip := []byte{0x45, 0, 0, byte(20 + len(req)), 0, 0, 0, 0, 64, 1, 0, 0, 192, 0, 2, 200, d[0], d[1], d[2], d[3]}
	return append([]byte{typ, code, 0, 0, 0, 0, 0, 0}, append(ip, req...)...)
}

// TestRedirectAndSourceQuenchDoNotFail: a redirect or source quench quoting
// a probe (from the socket queue or the error queue) must leave the probe
// in flight so its reply counts; and the receive filters of every datapath
// pass exactly the types that fail a probe.
func TestRedirectAndSourceQuenchDoNotFail(t *testing.T) {
	for _, typ := range []byte{4, 5} {
		for _, errq := range []bool{false, true} {
			s, tg, req := oneProbeOut(t)
			r := Received{Src: netip.MustParseAddr("192.0.2.254"), Buf: echoError(typ, 1, tg.ip, req)}
			if errq {
				r = Received{Src: netip.MustParseAddr("192.0.2.254"), FromErrQueue: true, QuotedDst: tg.ip, ErrType: typ, ErrCode: 1, Buf: req}
			}
			st := s.c.stats
			s.c.handle(&r, s.now)
			if tg.window[0].state != slotOut || tg.errorCounts() != [NumErrorTypes]uint64{} {
				t.Errorf("type %d (error queue %v): probe state %d errors %v, want still in flight", typ, errq, tg.window[0].state, tg.errorCounts())
			}
			if s.c.stats.Foreign != st.Foreign || s.c.stats.Invalid != st.Invalid {
				t.Errorf("type %d (error queue %v): counted as foreign or invalid", typ, errq)
			}
		}
	}
	for v6, types := range map[bool][]byte{false: {0, 3, 4, 5, 8, 11, 12, 13, 14}, true: {1, 2, 3, 4, 128, 129, 133, 134, 137}} {
		for _, typ := range types {
			_, fails := classifyError(typ, v6)
			if fails != passesFilter(typ, v6) && typ != echoReplyType(v6) && typ != echoRequestType(v6) {
				t.Errorf("v6 %v type %d: fails a probe %v, but the receive filters pass it %v", v6, typ, fails, passesFilter(typ, v6))
			}
		}
	}
}

// TestEightByteQuoteNeedsChecksum: an IPv4 error quoting only the 8-byte
// ICMP header of a probe (RFC 792's minimum) carries no tag; it is credited
// only when its quoted checksum (which covers the tag) is the probe's. A
// forged one with the right id and serial but another checksum is foreign.
func TestEightByteQuoteNeedsChecksum(t *testing.T) {
	s, tg, req := oneProbeOut(t)
	forged := append([]byte(nil), req[:8]...)
	forged[2] ^= 0x5a
	s.c.handle(&Received{Src: netip.MustParseAddr("192.0.2.254"), Buf: echoError(icmpv4Unreach, 1, tg.ip, forged)}, s.now)
	if tg.window[0].state != slotOut || s.c.stats.Foreign != 1 {
		t.Fatalf("forged 8-byte quote: state %d foreign %d, want in flight and 1 foreign", tg.window[0].state, s.c.stats.Foreign)
	}
	s.c.handle(&Received{Src: netip.MustParseAddr("192.0.2.254"), Buf: echoError(icmpv4Unreach, 1, tg.ip, req[:8])}, s.now)
	if tg.window[0].state != slotError || tg.errorCounts()[ErrDestUnreachable] != 1 {
		t.Fatalf("genuine 8-byte quote: state %d errors %v, want the probe failed as unreachable", tg.window[0].state, tg.errorCounts())
	}
}

// TestOutageResolutionWithSkips: the engine stalls (probes skipped) between
// the last answered probe and the first lost one, so the outage start is
// known only to within the gap between those two sends, not one interval.
func TestOutageResolutionWithSkips(t *testing.T) {
	const iv = 10 * time.Millisecond
	s := newSim(t, Spec{Targets: []TargetSpec{simTarget("192.0.2.1", iv, 5*time.Millisecond)}})
	s.step = int64(time.Millisecond)
	s.run(100 * time.Millisecond)
	s.respond = func(netip.Addr, int64) (time.Duration, bool) { return 0, false }
	s.now += int64(60 * time.Millisecond) // a stall: 6 probes skipped
	s.c.skipDue(s.now, 10)
	s.run(300 * time.Millisecond)
	tg := s.target("192.0.2.1")
	if tg.state != stateDown || tg.skipped == 0 {
		t.Fatalf("state %d skipped %d", tg.state, tg.skipped)
	}
	var snap TargetSnapshot
	tg.copyTo(&snap, s.c.epoch, true)
	o := snap.OutageRecord().Recent[len(snap.OutageRecord().Recent)-1]
	if o.Resolution <= iv || o.Resolution != snap.OutageResolution() {
		t.Fatalf("outage resolution %v (target %v) with %d probes skipped before it; want the real gap, above %v",
			o.Resolution, snap.OutageResolution(), tg.skipped, iv)
	}
	if want := time.Duration((tg.skipped + 1) * uint64(iv)); o.Resolution != want {
		t.Errorf("resolution %v, want %v (last answered send to first lost send)", o.Resolution, want)
	}
	s2 := newSim(t, Spec{Targets: []TargetSpec{simTarget("192.0.2.1", iv, 5*time.Millisecond)}})
	var snap2 TargetSnapshot
	s2.target("192.0.2.1").copyTo(&snap2, s2.c.epoch, true)
	if snap2.OutageResolution() != iv {
		t.Errorf("target without outages: resolution %v, want the interval %v", snap2.OutageResolution(), iv)
	}
}

// TestFindSlotMatchesLinearScan: the binary search over the ring finds
// exactly what a scan of every slot finds, through serial wrap-around,
// partly filled windows and windows rebuilt by a reload.
func TestFindSlotMatchesLinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 200 {
		spec := simTarget("192.0.2.1", 10*time.Millisecond, time.Duration(1+rng.IntN(300))*time.Millisecond)
		tg := newTarget(&spec)
		serial := uint32(rng.Uint32())
		if round%3 == 0 {
			serial = ^uint32(0) - uint32(rng.IntN(100)) // wraps within the round
		}
		sends := rng.IntN(3 * len(tg.window))
		for i := range sends {
			serial += 1 + uint32(rng.IntN(5)) // other targets' sends in between
			s := &tg.window[tg.wpos]
			*s = slot{serial: serial, state: slotState(1 + rng.IntN(4))}
			tg.wpos = int32((int(tg.wpos) + 1) % len(tg.window))
			if i == sends/2 && round%2 == 0 {
				spec2 := spec
				spec2.Timeout = time.Duration(1+rng.IntN(300)) * time.Millisecond
				tg.respec(&spec2)
			}
		}
		for q := serial - uint32(4*len(tg.window)); q != serial+3; q++ {
			var want *slot
			for i := range tg.window {
				if s := &tg.window[i]; s.serial == q && s.state != slotFree {
					want = s
				}
			}
			if got := tg.findSlot(q); got != want {
				t.Fatalf("round %d: findSlot(%d) = %v, linear scan %v (window %d, wpos %d)", round, q, got, want, len(tg.window), tg.wpos)
			}
		}
	}
}

// TestDuplicateAfterReloadIsDuplicate: a reload that changes a target's
// timing resizes its window; a duplicate of a reply that arrived just
// before is still a duplicate, not a late reply.
func TestDuplicateAfterReloadIsDuplicate(t *testing.T) {
	ts := simTarget("192.0.2.1", 10*time.Millisecond, 50*time.Millisecond)
	s := newSim(t, Spec{Targets: []TargetSpec{ts}})
	s.run(105 * time.Millisecond)
	tg := s.target("192.0.2.1")
	var last *slot
	for i := range tg.window {
		if sl := &tg.window[i]; sl.state == slotReplied && (last == nil || sl.sendMono > last.sendMono) {
			last = sl
		}
	}
	if last == nil {
		t.Fatal("no replied probe in the window")
	}
	dup := AppendEcho(nil, s.c.tagger, tg.ip, s.c.id4, last.serial, last.sendMono, MinPayload)
	dup[0] = icmpv4EchoReply
	ts.Interval, ts.Timeout = time.Second, 200*time.Millisecond
	next := Spec{Targets: []TargetSpec{ts}}
	s.c.apply(&next, s.now)
	dups, late := tg.extra().dups, tg.extra().late
	s.c.handle(&Received{Src: tg.ip, Buf: dup, TTL: 63, KernelStamp: s.wallNs(s.now)}, s.now)
	if tg.extra().dups != dups+1 || tg.extra().late != late {
		t.Errorf("duplicate after a reload: dups %d→%d, late %d→%d; want one more duplicate", dups, tg.extra().dups, late, tg.extra().late)
	}
}

// errorCounts returns t's errors by type.
func (t *target) errorCounts() [NumErrorTypes]uint64 {
	if t.rare == nil {
		return [NumErrorTypes]uint64{}
	}
	return t.rare.byType
}
