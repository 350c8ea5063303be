package probe

import (
	"net/netip"
	"time"
)

// A reload (core.apply) is split in two, so that Engine.Apply holds the
// engine lock only for a short swap:
//
//   - plan builds the new target table from the running one and the new
//     Spec: the key index, the new targets, which kept targets change their
//     spec, the phases. It reads only what apply alone writes (core.targets,
//     target.spec and the specs behind them), so it runs without the engine
//     lock while the sender goes on probing; Engine.Apply serialises reloads.
//   - install swaps the plan in under the lock: the new table, the added
//     targets put into the schedule heap and the address index, the
//     removed ones taken out and marked removed, so their queued deadlines
//     are skipped and a late resolution does not bring them back. Its work
//     is O(log n) per target added or removed.
//   - repoint gives the kept targets their new spec and checks their next
//     send, in chunks that Engine.Apply runs under the lock one at a time.
//     Kept targets are the same objects: their counters, histograms, FSM,
//     outages and in-flight windows stay, and so do their queued deadlines
//     and their place in the schedule heap and the address index.
//
// Invariants kept (see core): a target is in the schedule heap and in the
// address index exactly when it is in core.targets and its ip is valid.

// planKind says what install does with one target of the new table.
type planKind uint8

const (
	planNew    planKind = iota // a target that was not probed before
	planSame                   // kept, spec equal in every field: only the pointer moves
	planRespec                 // kept, spec changed: respec
)

type planEntry struct {
	phase int64 // offset of the first send into the interval (ns)
	kind  planKind
	moved bool // kept with a changed interval: takes the new phase
}

// applyPlan is a new target table built by plan, ready for install.
type applyPlan struct {
	targets  []*target   // new table, in Spec order; new targets allocated
	entries  []planEntry // indexed like targets
	added    []int       // indexes of the new targets
	removed  []*target   // targets of the running table whose key is gone
	timeouts []time.Duration
	inflight []*target // the new core.inflight, empty
}

// plan builds the new target table for spec without changing any state.
// It must not run concurrently with another plan or install (Engine.Apply
// holds applyMu), but may run while the sender and receiver work.
func (c *core) plan(spec *Spec) *applyPlan {
	// The key index exists only during a reload (100 bytes a target saved).
	old := make(map[string]*target, len(c.targets))
	for _, t := range c.targets {
		old[t.spec.Key()] = t
	}
	p := &applyPlan{
		targets: make([]*target, len(spec.Targets)), // never reuse: Snapshot may hold the old slice
		entries: make([]planEntry, len(spec.Targets)),
		// A new table, also when the size stays: it must not keep removed
		// targets in memory.
		inflight: make([]*target, inflightSize(spec)),
	}
	perInterval := map[time.Duration]int{}
	seenTimeout := map[time.Duration]bool{}
	for i := range spec.Targets {
		ts := &spec.Targets[i]
		perInterval[ts.Interval]++
		if !seenTimeout[ts.Timeout] {
			seenTimeout[ts.Timeout] = true
			p.timeouts = append(p.timeouts, ts.Timeout)
		}
	}
	seen := map[time.Duration]int{}
	for i := range spec.Targets {
		ts := &spec.Targets[i]
		e := &p.entries[i]
		// Spread targets of one interval evenly over it (phase).
		n, j := perInterval[ts.Interval], seen[ts.Interval]
		seen[ts.Interval]++
		e.phase = int64(ts.Interval) * int64(j) / int64(n)
		k := ts.Key()
		t, kept := old[k]
		if !kept {
			p.targets[i] = newTarget(ts)
			e.kind = planNew
			p.added = append(p.added, i)
			continue
		}
		delete(old, k)
		p.targets[i] = t
		e.moved = t.spec.Interval != ts.Interval
		e.kind = planRespec
		if t.spec.Equal(ts) {
			e.kind = planSame
		}
	}
	for _, t := range old {
		p.removed = append(p.removed, t)
	}
	return p
}

// install swaps in the target table p built for spec at mono time now;
// repoint must follow for every chunk of p.targets before the next plan.
func (c *core) install(p *applyPlan, spec *Spec, now int64) {
	if c.fifoIndex == nil {
		c.fifoIndex = map[time.Duration]int{}
	}
	if c.byAddr == nil {
		c.byAddr = make(map[netip.Addr]*target, len(p.targets))
	}
	for _, to := range p.timeouts {
		if _, ok := c.fifoIndex[to]; !ok {
			c.fifoIndex[to] = len(c.fifos)
			c.fifos = append(c.fifos, timeoutFIFO{timeout: to})
		}
	}
	for _, t := range p.removed {
		c.unindex(t)
		t.removed = true
	}
	c.inflight = p.inflight
	for _, i := range p.added {
		t := p.targets[i]
		t.stateChange = now
		if now != 0 {
			t.extra().created = now
		}
		t.due = now + p.entries[i].phase
		c.index(t)
	}
	c.targets = p.targets
	c.stats.Targets = len(c.targets)
	c.maxPPS = spec.Engine.MaxPPS
}

// repoint finishes install for the kept targets among p.targets[from:to]:
// they take their new spec (a pointer into the new Spec, and respec when it
// changed) and their next send. Until then they keep their old spec, so
// the sender and a Snapshot may run between the chunks of one reload and
// see it half applied, target by target. A kept target keeps its address
// (the Key holds the address, or the host name whose resolution stays), so
// its place in the address index stays; moving it in the schedule heap is
// O(log n).
func (c *core) repoint(p *applyPlan, spec *Spec, from, to int, now int64) {
	for i := from; i < to; i++ {
		e := &p.entries[i]
		t, ts := p.targets[i], &spec.Targets[i]
		switch e.kind {
		case planNew:
			continue
		case planSame:
			t.spec = ts
		case planRespec:
			t.respec(ts)
		}
		c.keepPhase(t, e, now)
	}
}

// keepPhase sets the next send of kept target t (spec already new). Kept
// targets keep their next send when their interval is unchanged and it is
// still ahead; a target whose interval changed takes a new phase, so the
// group spreads over its new period instead of staying bunched where the
// old one put it.
func (c *core) keepPhase(t *target, e *planEntry, now int64) {
	if e.moved || t.due < now || t.due > now+int64(t.spec.Interval) {
		t.due = now + e.phase
		c.sched.reschedule(t)
	}
}

// index puts t, when its address is known, into the schedule heap and at
// the head of the address index chain of its address.
func (c *core) index(t *target) {
	if !t.ip.IsValid() {
		return
	}
	if !t.scheduled {
		c.sched.push(t)
	}
	// Keyed without the zone: packets never carry one (see rebuildAddrs).
	k := t.ip.WithZone("")
	t.nextSame = c.byAddr[k]
	c.byAddr[k] = t
}

// unindex takes t out of the schedule heap and the address index.
func (c *core) unindex(t *target) {
	c.sched.unschedule(t)
	if !t.ip.IsValid() {
		return
	}
	k := t.ip.WithZone("")
	if head := c.byAddr[k]; head == t {
		if t.nextSame == nil {
			delete(c.byAddr, k)
		} else {
			c.byAddr[k] = t.nextSame
		}
	} else {
		for p := head; p != nil; p = p.nextSame {
			if p.nextSame == t {
				p.nextSame = t.nextSame
				break
			}
		}
	}
	t.nextSame = nil
}
