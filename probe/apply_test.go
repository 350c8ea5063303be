package probe

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// checkTable fails unless the schedule heap and the address index hold
// exactly the targets of core.targets with a valid address (each in one live
// entry due when the target is), the heap is ordered and its stale entries
// counted, and every chain is what rebuildAddrs
// would build (as a set).
func checkTable(t *testing.T, c *core) {
	t.Helper()
	live := map[*target]bool{}
	for _, tg := range c.targets {
		if tg.removed {
			t.Fatalf("target %s in the table is marked removed", tg.spec.Key())
		}
		live[tg] = true
	}
	inHeap := map[*target]bool{}
	stale := 0
	for i := range c.sched.e {
		s := &c.sched.e[i]
		if i > 0 && c.sched.e[(i-1)/schedArity].due > s.due {
			t.Fatalf("heap order broken at %d", i)
		}
		if !s.live() {
			stale++
			continue
		}
		tg := s.t
		if s.due != tg.due {
			t.Fatalf("heap entry of %s due at %d, the target at %d", tg.spec.Key(), s.due, tg.due)
		}
		if !live[tg] || !tg.ip.IsValid() || inHeap[tg] {
			t.Fatalf("heap holds %s, not a live target with an address, or twice", tg.spec.Key())
		}
		inHeap[tg] = true
	}
	if stale != c.sched.stale {
		t.Fatalf("%d stale heap entries, %d counted", stale, c.sched.stale)
	}
	indexed := map[*target]bool{}
	for k, head := range c.byAddr {
		if head == nil {
			t.Fatalf("empty chain for %s", k)
		}
		for tg := head; tg != nil; tg = tg.nextSame {
			if tg.ip.WithZone("") != k || indexed[tg] {
				t.Fatalf("chain of %s holds %s (%s) or a loop", k, tg.spec.Key(), tg.ip)
			}
			indexed[tg] = true
		}
	}
	for _, tg := range c.targets {
		if want := tg.ip.IsValid(); inHeap[tg] != want || indexed[tg] != want || tg.scheduled != want {
			t.Fatalf("target %s (ip %s): in heap %v, indexed %v, scheduled %v", tg.spec.Key(), tg.ip, inHeap[tg], indexed[tg], tg.scheduled)
		}
	}
	if len(indexed) != len(inHeap) {
		t.Fatalf("%d targets indexed, %d in the heap", len(indexed), len(inHeap))
	}
}

// TestApplyKeepsTableConsistent reloads random target sets (added,
// removed, re-labelled, re-timed, addresses shared by several targets,
// host names resolved or not) into a probing core: after every reload the
// schedule and the address index hold exactly the live targets, kept
// targets are the same objects with their counters, and probing goes on.
func TestApplyKeepsTableConsistent(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	mk := func(i int) TargetSpec {
		// 40 addresses for 60 names: some targets share an address.
		a := netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i%40)})
		ts := simTarget(a.String(), 10*time.Millisecond, 5*time.Millisecond)
		ts.Name = "t" + string(rune('A'+i%26)) + string(rune('a'+i/26))
		if i%7 == 0 {
			ts.Addr, ts.Host, ts.IPProtocol = netip.Addr{}, ts.Name+".example", IPv4
		}
		return ts
	}
	pick := func() Spec {
		var s Spec
		for i := range 60 {
			if rng.IntN(4) == 0 {
				continue
			}
			ts := mk(i)
			switch rng.IntN(6) {
			case 0:
				ts.Interval = 20 * time.Millisecond
			case 1:
				ts.Timeout = 8 * time.Millisecond
			case 2:
				ts.Labels = []Label{{Name: "site", Value: "x"}}
			}
			s.Targets = append(s.Targets, ts)
		}
		return s
	}
	s := newSim(t, pick())
	checkTable(t, s.c)
	for round := range 40 {
		s.run(time.Duration(s.now) + time.Duration(1+rng.IntN(30))*time.Millisecond)
		// resolve some host names, as the resolver does
		for _, tg := range s.c.targets {
			if tg.spec.Host != "" && rng.IntN(2) == 0 {
				s.c.setIP(tg, netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + rng.IntN(40))}), s.now)
			}
		}
		checkTable(t, s.c)
		before := map[string]*target{}
		sent := map[*target]uint64{}
		for _, tg := range s.c.targets {
			before[tg.spec.Key()] = tg
			sent[tg] = tg.sent
		}
		next := pick()
		// As Engine.Apply does: install, then repoint in chunks with the
		// sender running in between.
		p := s.c.plan(&next)
		s.c.install(p, &next, s.now)
		checkTable(t, s.c)
		for from := 0; from < len(p.targets); from += 7 {
			s.run(time.Duration(s.now) + time.Millisecond)
			s.c.repoint(p, &next, from, min(from+7, len(p.targets)), s.now)
		}
		checkTable(t, s.c)
		for i, tg := range s.c.targets {
			if tg.spec != &next.Targets[i] {
				t.Fatalf("round %d: target %d does not point at its new spec", round, i)
			}
			if old, ok := before[tg.spec.Key()]; ok && (old != tg || tg.sent < sent[old]) {
				t.Fatalf("round %d: kept target %s lost its state", round, tg.spec.Key())
			}
			delete(before, tg.spec.Key())
		}
		for _, old := range before {
			if !old.removed {
				t.Fatalf("round %d: dropped target %s not marked removed", round, old.spec.Key())
			}
		}
	}
	sentBefore := s.c.stats.PacketsSent
	s.run(time.Duration(s.now) + 50*time.Millisecond)
	if s.c.stats.PacketsSent == sentBefore {
		t.Fatal("probing stopped after the reloads")
	}
}

// BenchmarkApply100k is core.apply at 100k targets with 1% changed (500
// removed, 500 added), its two halves apart: plan_ms (no lock) and
// install_ms (install and repoint: what Engine.Apply does under the engine
// lock, repoint in chunks).
func BenchmarkApply100k(b *testing.B) {
	const n = 100_000
	spec := func(from int) *Spec {
		s := &Spec{Targets: make([]TargetSpec, 0, n)}
		for i := from; i < from+n; i++ {
			a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
			s.Targets = append(s.Targets, simTarget(a.String(), 10*time.Second, time.Second))
		}
		return s
	}
	c := &core{epoch: time.Now()}
	c.apply(spec(0), 0)
	var plan, install time.Duration
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		next := spec((i + 1) * 500)
		t0 := time.Now()
		p := c.plan(next)
		t1 := time.Now()
		c.install(p, next, 0) // no time passes: no kept target is overdue
		c.repoint(p, next, 0, len(p.targets), 0)
		t2 := time.Now()
		plan += t1.Sub(t0)
		install += t2.Sub(t1)
	}
	b.ReportMetric(float64(plan.Microseconds())/1000/float64(b.N), "plan_ms")
	b.ReportMetric(float64(install.Microseconds())/1000/float64(b.N), "install_ms")
}

// TestApplyCreatedTime: a target's created time is when it started to be
// probed: the engine start for the first ones, the reload that added it
// for a new one, unchanged for a target kept by its key (even with a new
// spec), and new again for a target that was removed and comes back.
func TestApplyCreatedTime(t *testing.T) {
	a, b := simTarget("192.0.2.1", 10*time.Millisecond, 5*time.Millisecond), simTarget("192.0.2.2", 10*time.Millisecond, 5*time.Millisecond)
	s := newSim(t, Spec{Targets: []TargetSpec{a}})
	created := func(name string) time.Time {
		t.Helper()
		var snap TargetSnapshot
		s.target(name).copyTo(&snap, s.c.epoch, true)
		return snap.Created
	}
	if got := created("192.0.2.1"); !got.Equal(s.c.epoch) {
		t.Fatalf("first target created %v, want the engine start %v", got, s.c.epoch)
	}
	s.run(50 * time.Millisecond)
	a2 := a
	a2.Labels = []Label{{Name: "site", Value: "x"}}
	s.c.apply(&Spec{Targets: []TargetSpec{a2, b}}, s.now)
	at1 := s.c.epoch.Add(50 * time.Millisecond)
	if got := created("192.0.2.1"); !got.Equal(s.c.epoch) {
		t.Errorf("kept target created %v, want %v", got, s.c.epoch)
	}
	if got := created("192.0.2.2"); !got.Equal(at1) {
		t.Errorf("added target created %v, want %v", got, at1)
	}
	s.run(80 * time.Millisecond)
	s.c.apply(&Spec{Targets: []TargetSpec{a2}}, s.now)
	s.run(90 * time.Millisecond)
	s.c.apply(&Spec{Targets: []TargetSpec{a2, b}}, s.now)
	if got, want := created("192.0.2.2"), s.c.epoch.Add(90*time.Millisecond); !got.Equal(want) {
		t.Errorf("re-added target created %v, want %v", got, want)
	}
	if got := created("192.0.2.1"); !got.Equal(s.c.epoch) {
		t.Errorf("kept target created %v after two reloads, want %v", got, s.c.epoch)
	}
}
