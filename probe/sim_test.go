package probe

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// sim drives a core on a virtual clock with a fake network: every packet
// collect builds is handed to respond, which says whether and when the
// reply arrives. Everything is exact and deterministic.
type sim struct {
	t       testing.TB
	c       *core
	now     int64
	step    int64
	respond func(dst netip.Addr, sent int64) (delay time.Duration, ok bool)
	// network, when set, replaces respond: it returns what comes back for
	// a packet sent now (path_test.go's routed network).
	network func(p Packet) []pendingReply
	pending []pendingReply
	sends   []sendRec
	pkts    []Packet
	buf     []byte
}

type pendingReply struct {
	at  int64
	r   Received
	buf []byte
}

type sendRec struct {
	dst netip.Addr
	at  int64
}

func newSim(t testing.TB, spec Spec) *sim {
	t.Helper()
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	tg, err := NewTaggerKey([16]byte{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	s := &sim{t: t, step: int64(100 * time.Microsecond), pkts: make([]Packet, 0, sendBatch),
		buf: make([]byte, 0, sendBatch*256)}
	s.c = &core{epoch: time.Unix(1_800_000_000, 0), tagger: tg, id4: 0x1234, id6: 0x5678}
	s.c.apply(&spec, 0)
	s.respond = func(netip.Addr, int64) (time.Duration, bool) { return time.Millisecond, true }
	return s
}

func (s *sim) wallNs(mono int64) int64 { return s.c.epoch.UnixNano() + mono }

// run advances virtual time to until (from the start), in steps.
func (s *sim) run(until time.Duration) {
	for s.now < int64(until) {
		s.now += s.step
		slices.SortStableFunc(s.pending, func(a, b pendingReply) int { return int(a.at - b.at) })
		for len(s.pending) > 0 && s.pending[0].at <= s.now {
			p := s.pending[0]
			s.pending = s.pending[1:]
			s.c.handle(&p.r, s.now)
		}
		s.c.expire(s.now)
		for {
			var pkts []Packet
			pkts, s.buf = s.c.collect(s.now, s.wallNs(s.now), s.pkts[:0], s.buf[:0])
			if len(pkts) == 0 {
				break
			}
			for _, p := range pkts {
				s.sends = append(s.sends, sendRec{p.Dst, s.now})
				if s.network != nil {
					s.pending = append(s.pending, s.network(p)...)
					continue
				}
				if d, ok := s.respond(p.Dst, s.now); ok {
					b := slices.Clone(p.Buf)
					v6 := p.Dst.Is6()
					if v6 {
						b[0] = icmpv6EchoReply
					} else {
						b[0] = icmpv4EchoReply
					}
					at := s.now + int64(d)
					s.pending = append(s.pending, pendingReply{at: at, r: Received{Src: p.Dst, Buf: b, V6: v6, TTL: 63,
						KernelStamp: s.wallNs(at)}})
				}
			}
			s.c.sent(pkts, s.now)
		}
	}
}

func (s *sim) target(name string) *target {
	for _, t := range s.c.targets {
		if t.spec.Name == name {
			return t
		}
	}
	s.t.Fatalf("no target %s", name)
	return nil
}

func simTarget(addr string, interval, timeout time.Duration) TargetSpec {
	return TargetSpec{Group: "g", Name: addr, Addr: netip.MustParseAddr(addr), Interval: interval, Timeout: timeout,
		PayloadSize: MinPayload, DownAfter: 3, UpAfter: 1, OutageHistory: 10}
}

func TestSchedulerSpreadsTargetsEvenly(t *testing.T) {
	const n = 1000
	spec := Spec{}
	for i := range n {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		spec.Targets = append(spec.Targets, simTarget(a.String(), time.Second, 500*time.Millisecond))
	}
	s := newSim(t, spec)
	s.run(3 * time.Second)
	// 10 slots of 100 ms per interval: each must get n/10 sends per interval.
	var slots [30]int
	for _, r := range s.sends {
		slots[min(r.at/int64(100*time.Millisecond), 29)]++
	}
	for i, c := range slots[:29] {
		if c < n/10-2 || c > n/10+2 {
			t.Errorf("slot %d: %d sends, want %d±2 (all: %v)", i, c, n/10, slots)
		}
	}
	per := map[netip.Addr]int{}
	for _, r := range s.sends {
		if r.at < int64(3*time.Second)-sendAhead { // a probe may leave sendAhead early
			per[r.dst]++
		}
	}
	for a, c := range per {
		if c != 3 {
			t.Errorf("%s sent %d times in 3 intervals, want 3", a, c)
		}
	}
	if len(per) != n {
		t.Errorf("%d targets probed, want %d", len(per), n)
	}
}

func TestSchedulerNoStarvationAt100k(t *testing.T) {
	if testing.Short() {
		t.Skip("large")
	}
	const n = 100_000
	spec := Spec{}
	for i := range n {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		spec.Targets = append(spec.Targets, simTarget(a.String(), time.Second, time.Second))
	}
	s := newSim(t, spec)
	s.step = int64(time.Millisecond)
	s.respond = func(netip.Addr, int64) (time.Duration, bool) { return 0, false }
	s.run(2 * time.Second)
	per := make(map[netip.Addr]int, n)
	var perMs [2000]int
	for _, r := range s.sends {
		if r.at >= int64(2*time.Second) {
			continue
		}
		per[r.dst]++
		perMs[min(r.at/int64(time.Millisecond), 1999)]++
	}
	if len(per) != n {
		t.Fatalf("%d of %d targets probed", len(per), n)
	}
	total := 0
	for a, c := range per {
		total += c
		if c < 1 || c > 2 {
			t.Fatalf("%s sent %d times in 2 intervals, want 2 (1 at the 1 ms step edge)", a, c)
		}
	}
	if total < 2*n-n/100 {
		t.Fatalf("%d sends in 2 intervals, want about %d", total, 2*n)
	}
	for ms, c := range perMs[2:1999] { // the first step also takes what is due within sendAhead
		if c < 90 || c > 110 {
			t.Fatalf("ms %d: %d sends, want about 100 (evenly spread)", ms+2, c)
		}
	}
}

func TestRepliesRTTAndTTL(t *testing.T) {
	s := newSim(t, Spec{Targets: []TargetSpec{simTarget("192.0.2.1", 10*time.Millisecond, 10*time.Millisecond),
		simTarget("2001:db8::1", 10*time.Millisecond, 10*time.Millisecond)}})
	s.respond = func(netip.Addr, int64) (time.Duration, bool) { return 3 * time.Millisecond, true }
	s.run(time.Second)
	for _, tg := range s.c.targets {
		if tg.state != stateUp || tg.lost != 0 || tg.replies < 98 || tg.lastTTL != 63 {
			t.Errorf("%s: state %d lost %d replies %d ttl %d", tg.spec.Name, tg.state, tg.lost, tg.replies, tg.lastTTL)
		}
		if tg.lastRTT != int64(3*time.Millisecond) {
			t.Errorf("%s: rtt %v, want 3ms exactly (kernel stamps)", tg.spec.Name, time.Duration(tg.lastRTT))
		}
		var snap TargetSnapshot
		tg.copyTo(&snap, s.c.epoch, true)
		var sum uint64
		for _, b := range snap.RTT.Buckets {
			sum += b
		}
		if sum != tg.replies || snap.RTT.Count != tg.replies {
			t.Errorf("histogram count %d/%d, replies %d", sum, snap.RTT.Count, tg.replies)
		}
		if idx := nativeIndex(0.003); snap.RTT.Offset != int32(idx) || len(snap.RTT.Buckets) != 1 {
			t.Errorf("buckets offset %d len %d, want one bucket at %d", snap.RTT.Offset, len(snap.RTT.Buckets), idx)
		}
	}
	if got := s.c.stats.RepliesByTimestamp[1]; got == 0 {
		t.Errorf("no kernel_rx stamped replies: %v", s.c.stats.RepliesByTimestamp)
	}
}

func TestLateAndDuplicateReplies(t *testing.T) {
	s := newSim(t, Spec{Targets: []TargetSpec{simTarget("192.0.2.1", 10*time.Millisecond, 5*time.Millisecond)}})
	// every probe's reply takes 7 ms: after the 5 ms timeout (+0.5 ms grace): all late, all lost.
	s.respond = func(netip.Addr, int64) (time.Duration, bool) { return 7 * time.Millisecond, true }
	s.run(100 * time.Millisecond)
	tg := s.target("192.0.2.1")
	if tg.replies != 0 || tg.extra().late < 9 || tg.lost != tg.sent-uint64(len(s.pending)) && tg.lost < 9 {
		t.Errorf("replies %d late %d lost %d sent %d", tg.replies, tg.extra().late, tg.lost, tg.sent)
	}
	if tg.state != stateDown {
		t.Errorf("state %d, want down", tg.state)
	}
	// duplicates: deliver each reply twice.
	s2 := newSim(t, Spec{Targets: []TargetSpec{simTarget("192.0.2.2", 10*time.Millisecond, 5*time.Millisecond)}})
	s2.run(50 * time.Millisecond)
	tg2 := s2.target("192.0.2.2")
	replays := tg2.replies
	// replay the already answered probes of the window
	for i := range tg2.window {
		sl := tg2.window[i]
		if sl.state != slotReplied {
			continue
		}
		b := AppendEcho(nil, s2.c.tagger, tg2.ip, s2.c.id4, sl.serial, sl.sendMono, MinPayload)
		b[0] = icmpv4EchoReply
		s2.c.handle(&Received{Src: tg2.ip, Buf: b, TTL: 1}, s2.now)
	}
	if tg2.extra().dups == 0 || tg2.replies != replays {
		t.Errorf("dups %d replies %d (before %d)", tg2.extra().dups, tg2.replies, replays)
	}
}

func TestForeignAndMalformedCounted(t *testing.T) {
	s := newSim(t, Spec{Targets: []TargetSpec{simTarget("192.0.2.1", 10*time.Millisecond, 5*time.Millisecond)}})
	s.run(20 * time.Millisecond)
	other, _ := NewTaggerKey([16]byte{9})
	forged := AppendEcho(nil, other, netip.MustParseAddr("192.0.2.1"), s.c.id4, 1, 1, MinPayload)
	forged[0] = icmpv4EchoReply
	cases := []struct {
		name  string
		r     Received
		field *uint64
	}{
		{"forged tag", Received{Src: netip.MustParseAddr("192.0.2.1"), Buf: forged}, &s.c.stats.Foreign},
		{"truncated", Received{Src: netip.MustParseAddr("192.0.2.1"), Buf: forged[:5]}, &s.c.stats.Invalid},
		{"short payload", Received{Src: netip.MustParseAddr("192.0.2.1"), Buf: forged[:12]}, &s.c.stats.Invalid},
		{"other type", Received{Src: netip.MustParseAddr("192.0.2.1"), Buf: []byte{13, 0, 0, 0, 0, 0, 0, 0}}, &s.c.stats.Foreign},
		{"garbled error", Received{Src: netip.MustParseAddr("192.0.2.9"), Buf: []byte{3, 1, 0, 0, 0, 0, 0, 0, 0x45}}, &s.c.stats.Foreign},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := *tc.field
			replies := s.target("192.0.2.1").replies
			s.c.handle(&tc.r, s.now)
			if *tc.field != before+1 {
				t.Errorf("counter %d, want %d", *tc.field, before+1)
			}
			if s.target("192.0.2.1").replies != replies {
				t.Error("recorded as a reply")
			}
		})
	}
}

func TestICMPErrorQuotingProbe(t *testing.T) {
	s, tg, req := oneProbeOut(t)
	s.c.handle(&Received{Src: netip.MustParseAddr("192.0.2.254"), Buf: echoError(icmpv4TimeExceed, 0, tg.ip, req)}, s.now)
	if tg.errorCounts()[ErrTimeExceeded] != 1 || tg.window[0].state != slotError {
		t.Fatalf("errors %v state %d", tg.errorCounts(), tg.window[0].state)
	}
}

// TestOutagesExact checks outage start, end, duration and counts on the
// virtual clock for windows of different lengths.
func TestOutagesExact(t *testing.T) {
	const iv = 10 * time.Millisecond
	type window struct{ from, to time.Duration } // probes sent in [from,to) get no reply
	cases := []struct {
		name      string
		windows   []window
		runFor    time.Duration
		outages   int
		completed []time.Duration // durations
		ongoing   bool
	}{
		{"shorter than down_after", []window{{100 * time.Millisecond, 120 * time.Millisecond}}, 300 * time.Millisecond, 0, nil, false},
		{"one outage", []window{{100 * time.Millisecond, 350 * time.Millisecond}}, 500 * time.Millisecond, 1, []time.Duration{250 * time.Millisecond}, false},
		{"back to back", []window{{100 * time.Millisecond, 200 * time.Millisecond}, {210 * time.Millisecond, 400 * time.Millisecond}}, 600 * time.Millisecond, 2,
			[]time.Duration{100 * time.Millisecond, 190 * time.Millisecond}, false},
		{"still open", []window{{100 * time.Millisecond, time.Hour}}, 500 * time.Millisecond, 1, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := simTarget("192.0.2.1", iv, 5*time.Millisecond)
			s := newSim(t, Spec{Targets: []TargetSpec{spec}})
			s.step = int64(time.Millisecond)
			s.respond = func(_ netip.Addr, at int64) (time.Duration, bool) {
				for _, w := range tc.windows {
					if at >= int64(w.from) && at < int64(w.to) {
						return 0, false
					}
				}
				return 2 * time.Millisecond, true
			}
			s.run(tc.runFor)
			tg := s.target("192.0.2.1")
			var snap TargetSnapshot
			tg.copyTo(&snap, s.c.epoch, true)
			if int(snap.OutageRecord().Total) != tc.outages {
				t.Fatalf("outages %d, want %d (%+v)", snap.OutageRecord().Total, tc.outages, snap.OutageRecord().Recent)
			}
			var done []time.Duration
			for i, o := range snap.OutageRecord().Recent {
				if o.Ongoing {
					continue
				}
				done = append(done, o.End.Sub(o.Start))
				w := tc.windows[i]
				if want := s.c.epoch.Add(w.from); !o.Start.Equal(want) {
					t.Errorf("outage %d start %v, want %v", i, o.Start.Sub(s.c.epoch), w.from)
				}
				if o.Resolution != iv {
					t.Errorf("resolution %v", o.Resolution)
				}
			}
			if !slices.Equal(done, tc.completed) {
				t.Errorf("durations %v, want %v", done, tc.completed)
			}
			if snap.Up == tc.ongoing {
				t.Errorf("up %v, want %v", snap.Up, !tc.ongoing)
			}
			if tc.ongoing && (len(snap.OutageRecord().Recent) == 0 || !snap.OutageRecord().Recent[len(snap.OutageRecord().Recent)-1].Ongoing) {
				t.Errorf("no ongoing outage in %+v", snap.OutageRecord().Recent)
			}
			if tc.outages == 0 && tg.lost == 0 {
				t.Errorf("short failing run not counted as loss")
			}
		})
	}
}

func TestApplyKeepsStateOfUnchangedTargets(t *testing.T) {
	a, b := simTarget("192.0.2.1", 10*time.Millisecond, 5*time.Millisecond), simTarget("192.0.2.2", 10*time.Millisecond, 5*time.Millisecond)
	s := newSim(t, Spec{Targets: []TargetSpec{a, b}})
	s.run(100 * time.Millisecond)
	before := s.target("192.0.2.1").replies
	if before == 0 {
		t.Fatal("no replies")
	}
	c := simTarget("192.0.2.3", 10*time.Millisecond, 5*time.Millisecond)
	s.c.apply(&Spec{Targets: []TargetSpec{a, c}}, s.now)
	if got := s.target("192.0.2.1").replies; got != before {
		t.Errorf("kept target replies %d, want %d", got, before)
	}
	if s.target("192.0.2.3").replies != 0 || len(s.c.targets) != 2 {
		t.Error("new target not fresh or removed target kept")
	}
	s.run(200 * time.Millisecond)
	if s.target("192.0.2.1").replies <= before || s.target("192.0.2.3").replies == 0 {
		t.Error("probing did not continue after apply")
	}
}

func TestMaxPPSSkipsNeverLoses(t *testing.T) {
	spec := Spec{Engine: EngineSpec{MaxPPS: 1000}}
	for i := range 100 {
		a := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
		spec.Targets = append(spec.Targets, simTarget(a.String(), 10*time.Millisecond, 5*time.Millisecond))
	}
	s := newSim(t, spec) // wants 10k pps, allowed 1k
	s.run(time.Second)
	var sent, skipped, lost uint64
	for _, tg := range s.c.targets {
		sent += tg.sent
		skipped += tg.skipped
		lost += tg.lost
	}
	if sent > 1100 || sent < 900 {
		t.Errorf("sent %d in 1s at max_pps 1000", sent)
	}
	if skipped < 8000 || lost != 0 {
		t.Errorf("skipped %d lost %d: skipped probes must not count as lost", skipped, lost)
	}
	if s.c.stats.MaxScheduleLag == 0 {
		t.Error("no schedule lag reported")
	}
}

func TestScheduleLagWindowNotResetByReaders(t *testing.T) {
	s := newSim(t, Spec{Targets: []TargetSpec{simTarget("192.0.2.1", 10*time.Millisecond, 5*time.Millisecond)}})
	s.c.noteLag(3*time.Millisecond, 0)
	s.c.noteLag(time.Microsecond, int64(time.Second))
	if s.c.stats.MaxScheduleLag != 3*time.Millisecond {
		t.Fatalf("max lag %v, want 3ms within the window", s.c.stats.MaxScheduleLag)
	}
	s.c.noteLag(time.Microsecond, int64(6*time.Second)) // next window: previous max still shown
	if s.c.stats.MaxScheduleLag != 3*time.Millisecond {
		t.Fatalf("max lag %v, want 3ms from the previous window", s.c.stats.MaxScheduleLag)
	}
	s.c.noteLag(time.Microsecond, int64(12*time.Second)) // two windows later: forgotten
	if s.c.stats.MaxScheduleLag != time.Microsecond {
		t.Fatalf("max lag %v, want 1µs", s.c.stats.MaxScheduleLag)
	}
}

// TestLossBeforeOutageNotPartOfIt: lost, reply, reply, reply, then lost
// from then on, with a timeout of several intervals so the first loss
// expires after the next probes were answered. The outage must start at
// the first probe of the failing run, not at the earlier single loss.
func TestLossBeforeOutageNotPartOfIt(t *testing.T) {
	const iv = 10 * time.Millisecond
	spec := simTarget("192.0.2.1", iv, 45*time.Millisecond)
	s := newSim(t, Spec{Targets: []TargetSpec{spec}})
	s.step = int64(time.Millisecond)
	lossAt, outageAt := int64(100*time.Millisecond), int64(140*time.Millisecond)
	s.respond = func(_ netip.Addr, at int64) (time.Duration, bool) {
		if at/int64(iv) == lossAt/int64(iv) || at >= outageAt {
			return 0, false
		}
		return time.Millisecond, true
	}
	s.run(400 * time.Millisecond)
	tg := s.target("192.0.2.1")
	var snap TargetSnapshot
	tg.copyTo(&snap, s.c.epoch, true)
	if snap.OutageRecord().Total != 1 || len(snap.OutageRecord().Recent) != 1 {
		t.Fatalf("outages %d %+v", snap.OutageRecord().Total, snap.OutageRecord().Recent)
	}
	if got := snap.OutageRecord().Recent[0].Start.Sub(s.c.epoch); got != time.Duration(outageAt) {
		t.Errorf("outage start %v, want %v (the earlier single loss at %v is not part of it)", got, time.Duration(outageAt), time.Duration(lossAt))
	}
}

func TestSkipDueCountsNeverLoses(t *testing.T) {
	spec := Spec{}
	for i := range 10 {
		spec.Targets = append(spec.Targets, simTarget(netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}).String(), 10*time.Millisecond, 5*time.Millisecond))
	}
	s := newSim(t, spec)
	s.run(20 * time.Millisecond)
	sent := len(s.sends)
	s.now += int64(25 * time.Millisecond) // the engine stalled: 2.5 intervals due
	s.c.skipDue(s.now, 1000)
	var skipped, lost uint64
	for _, tg := range s.c.targets {
		skipped += tg.skipped
		lost += tg.lost
		if tg.due <= s.now {
			t.Errorf("%s still due at %d", tg.spec.Name, tg.due)
		}
	}
	if skipped < 20 || skipped > 30 || s.c.stats.Skipped != skipped {
		t.Errorf("skipped %d (engine %d), want 2–3 per target", skipped, s.c.stats.Skipped)
	}
	if len(s.sends) != sent {
		t.Error("skipDue sent probes")
	}
	for _, p := range s.pending { // replies of the probes in flight at the stall
		s.c.handle(&p.r, s.now)
	}
	s.c.expire(s.now)
	for _, tg := range s.c.targets {
		lost += tg.lost
	}
	if lost != 0 {
		t.Errorf("%d probes lost: skipped probes must never count as lost", lost)
	}
}

// TestApplyWithProbesInFlight: a reload while probes are in flight keeps
// them: their replies still count, and those that never get one are lost
// on the kept target, not on a discarded copy.
func TestApplyWithProbesInFlight(t *testing.T) {
	a := simTarget("192.0.2.1", 10*time.Millisecond, 8*time.Millisecond)
	s := newSim(t, Spec{Targets: []TargetSpec{a}})
	s.respond = func(netip.Addr, int64) (time.Duration, bool) { return 0, false } // nothing answers
	s.run(55 * time.Millisecond)
	a2 := a
	a2.Labels = []Label{{Name: "site", Value: "x"}} // same Key, new spec
	s.c.apply(&Spec{Targets: []TargetSpec{a2}}, s.now)
	s.run(200 * time.Millisecond)
	tg := s.target("192.0.2.1")
	inFlight := 0
	for _, sl := range tg.window {
		if sl.state == slotOut {
			inFlight++
		}
	}
	if got := tg.lost + uint64(inFlight); got != tg.sent {
		t.Errorf("sent %d, lost %d, in flight %d: probes in flight at the reload were dropped", tg.sent, tg.lost, inFlight)
	}
	if tg.spec.Labels == nil || tg.state != stateDown {
		t.Errorf("spec not updated or state lost: %+v state %d", tg.spec.Labels, tg.state)
	}
}

// TestOutageHistoryShrinkOnReload: a reload that keeps fewer outages keeps
// the newest ones, oldest first.
func TestOutageHistoryShrinkOnReload(t *testing.T) {
	const iv = 10 * time.Millisecond
	spec := simTarget("192.0.2.1", iv, 5*time.Millisecond)
	spec.OutageHistory = 3
	s := newSim(t, Spec{Targets: []TargetSpec{spec}})
	s.step = int64(time.Millisecond)
	// an outage of 50 ms starting every 200 ms
	s.respond = func(_ netip.Addr, at int64) (time.Duration, bool) {
		return time.Millisecond, at%int64(200*time.Millisecond) >= int64(50*time.Millisecond)
	}
	s.run(790 * time.Millisecond) // outages at 0, 200, 400, 600 ms: the ring holds 200, 400, 600
	spec2 := spec
	spec2.OutageHistory = 2
	s.c.apply(&Spec{Targets: []TargetSpec{spec2}}, s.now)
	s.run(990 * time.Millisecond) // one more outage at 800 ms
	var snap TargetSnapshot
	s.target("192.0.2.1").copyTo(&snap, s.c.epoch, true)
	var starts []time.Duration
	for _, o := range snap.OutageRecord().Recent {
		starts = append(starts, o.Start.Sub(s.c.epoch))
	}
	if want := []time.Duration{600 * time.Millisecond, 800 * time.Millisecond}; !slices.Equal(starts, want) || snap.OutageRecord().Total != 5 {
		t.Fatalf("outage starts %v (total %d), want %v of 5", starts, snap.OutageRecord().Total, want)
	}
}
