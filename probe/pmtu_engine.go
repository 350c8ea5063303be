package probe

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// Path MTU search in the core. Each target with MTUSpec.Enabled runs a
// binary search every MTUSpec.Interval while it is up: one probe at a time,
// an echo request of IP size S that routers may not fragment, sent through
// the engine's DF sender (not the datapath). An echo reply says S passes;
// "fragmentation needed" / "packet too big" quoting the probe, a local
// EMSGSIZE, or no answer within the timeout say it does not. Probes take
// tokens from the path budget and the max_pps bucket.

// mtuConcurrent bounds the searches running at once.
const mtuConcurrent = 64

// mtuState is the core's path MTU search machinery.
type mtuState struct {
	targets  []*target // with MTUSpec.Enabled
	nextDue  int64     // earliest due search; -1 none
	active   []*target // searching
	flight   map[uint32]*target
	nextDead int64
	wakeAt   int64
	out      []Packet // built, waiting for the DF sender (Engine.flushDF)
	buf      []byte
	sent     uint64 // MTU probes built
}

// mtuTarget is the path MTU state of one target.
type mtuTarget struct {
	info      MTUInfo
	due       int64
	searching bool
	lo, hi    int  // sizes known to pass (lo, when passed) and to fail (hi)
	passed    bool // lo was answered
	size      int  // size of the probe in flight, 0 when none
	serial    uint32
	sendMono  int64
	deadline  int64
}

func ipHeaderLen(v6 bool) int {
	if v6 {
		return 40
	}
	return 20
}

func minMTU(v6 bool) int {
	if v6 {
		return MinMTU6
	}
	return MinMTU4
}

// mtuApply collects the targets that search their path MTU (from pathApply).
func (c *core) mtuApply(spec *Spec, now int64) {
	m := &c.path.mtu
	if m.flight == nil {
		m.flight = map[uint32]*target{}
		m.nextDue, m.wakeAt = -1, -1
	}
	m.targets = m.targets[:0]
	for _, t := range c.targets {
		if !t.spec.Path.MTU.Enabled || !t.ip.IsValid() {
			continue
		}
		pt := t.pathState()
		if pt.mtu == nil {
			pt.mtu = &mtuTarget{due: now}
		}
		m.targets = append(m.targets, t)
	}
	m.nextDue = now
}

// mtuWanted reports whether the spec has targets that search their path
// MTU (the engine then opens its DF sender).
func (s *Spec) mtuWanted() bool {
	for i := range s.Targets {
		if s.Targets[i].Path.MTU.Enabled {
			return true
		}
	}
	return false
}

// collectMTU starts due searches and builds their next probes into the
// DF sender's queue (not pkts: the datapath must not send them).
func (c *core) collectMTU(now, wall int64, pkts []Packet, buf []byte) ([]Packet, []byte) {
	p := c.path
	m := &p.mtu
	if len(m.targets) == 0 {
		return pkts, buf
	}
	if m.nextDue >= 0 && now >= m.nextDue {
		m.nextDue = -1
		for _, t := range m.targets {
			mt := t.paths().mtu
			if !mt.searching && now >= mt.due && len(m.active) < mtuConcurrent && !t.removed {
				if t.state != stateUp { // try again soon: replies are needed
					mt.due = now + int64(min(t.spec.Path.MTU.Interval, time.Second))
				} else {
					v6 := t.ip.Is6() && !t.ip.Is4In6()
					*mt = mtuTarget{info: mt.info, searching: true, lo: minMTU(v6), hi: t.spec.Path.MTU.Max + 1}
					m.active = append(m.active, t)
				}
			}
			if !mt.searching && (m.nextDue < 0 || mt.due < m.nextDue) {
				m.nextDue = mt.due
			}
		}
	}
	if len(m.active) == 0 {
		m.wakeAt = m.nextDue
		return pkts, buf
	}
	p.fill(now)
	if len(m.out) == 0 {
		m.buf = m.buf[:0]
	}
	for _, t := range m.active {
		mt := t.paths().mtu
		if mt.size != 0 {
			continue
		}
		if p.tokens < 1 || c.maxPPS > 0 && c.tokens < 1 {
			m.wakeAt = now + int64(1e9/float64(p.pps))
			return pkts, buf
		}
		v6 := t.ip.Is6() && !t.ip.Is4In6()
		size := mt.hi - 1 // the largest first: most paths pass it
		if mt.hi <= t.spec.Path.MTU.Max {
			size = (mt.lo + mt.hi) / 2
		}
		c.serial++
		_, _, id := c.echoKind(v6)
		start := len(m.buf)
		m.buf = AppendEcho(m.buf, c.tagger, t.ip, id, c.serial, now, size-ipHeaderLen(v6)-icmpHeaderLen)
		m.out = append(m.out, Packet{Dst: t.ip, Buf: m.buf[start:len(m.buf):len(m.buf)]})
		mt.size, mt.serial, mt.sendMono = size, c.serial, now
		mt.deadline = now + int64(t.spec.Timeout) + grace(t.spec.Timeout)
		if m.nextDead <= 0 || mt.deadline < m.nextDead {
			m.nextDead = mt.deadline
		}
		m.flight[c.serial] = t
		m.sent++
		p.tokens--
		if c.maxPPS > 0 {
			c.tokens--
		}
	}
	m.wakeAt = m.nextDue
	return pkts, buf
}

// takeDF moves the built MTU probes into dst (the engine's send buffer,
// whose byte slices it copies into dbuf) and returns them.
func (c *core) takeDF(dst []Packet, dbuf []byte) ([]Packet, []byte) {
	dst, dbuf = dst[:0], dbuf[:0]
	if c.path == nil {
		return dst, dbuf
	}
	m := &c.path.mtu
	for _, p := range m.out {
		start := len(dbuf)
		dbuf = append(dbuf, p.Buf...)
		p.Buf = dbuf[start:len(dbuf):len(dbuf)]
		dst = append(dst, p)
	}
	m.out = m.out[:0]
	return dst, dbuf
}

// dfSent records the outcome of sending MTU probes: a probe the DF sender
// could not send (EMSGSIZE: larger than the local link) does not pass.
func (c *core) dfSent(pkts []Packet, now int64) {
	for i := range pkts {
		if !pkts[i].Failed {
			c.stats.PacketsSent++
			continue
		}
		if _, serial, ok := echoSerial(pkts[i].Buf); ok {
			if t := c.path.mtu.flight[serial]; t != nil {
				c.mtuStep(t, false, now)
			}
		}
	}
}

// mtuReply handles a tag-verified echo reply no window holds.
func (c *core) mtuReply(src netip.Addr, e *Echo, _ *Received, now int64) bool {
	t := c.path.mtu.flight[e.Serial]
	if t == nil || !e.Full || t.ip.WithZone("") != src {
		return false
	}
	c.mtuStep(t, true, now)
	return true
}

// mtuError handles an ICMP error quoting a probe no window holds: packet
// too big ends the step as a failure; other errors (time exceeded,
// unreachable) too, since the size did not reach the target.
func (c *core) mtuError(_ ErrorType, _, dst netip.Addr, e *Echo, quoted []byte, now int64) bool {
	m := &c.path.mtu
	if len(m.flight) == 0 {
		return false
	}
	for _, t := range m.active {
		mt := t.paths().mtu
		if mt.size == 0 || t.ip.WithZone("") != dst {
			continue
		}
		match := e.Full && e.Serial == mt.serial
		if !e.Full && len(quoted) >= 4 && uint16(mt.serial) == uint16(e.Serial) {
			v6 := t.ip.Is6() && !t.ip.Is4In6()
			_, _, id := c.echoKind(v6)
			match = binary.BigEndian.Uint16(quoted[2:]) ==
				echoChecksum(c.tagger, t.ip, id, mt.serial, mt.sendMono, mt.size-ipHeaderLen(v6)-icmpHeaderLen)
		}
		if match {
			c.mtuStep(t, false, now)
			return true
		}
	}
	return false
}

// mtuExpire fails the MTU probes whose timeout passed.
func (c *core) mtuExpire(now int64) {
	m := &c.path.mtu
	if m.nextDead <= 0 || now < m.nextDead {
		return
	}
	m.nextDead = 0
	for i := 0; i < len(m.active); i++ {
		t := m.active[i]
		mt := t.paths().mtu
		if mt.size == 0 {
			continue
		}
		if now >= mt.deadline {
			n := len(m.active)
			c.mtuStep(t, false, now)
			if len(m.active) < n {
				i-- // finished: the last one moved here
			}
			continue
		}
		if m.nextDead <= 0 || mt.deadline < m.nextDead {
			m.nextDead = mt.deadline
		}
	}
}

// mtuStep ends the probe in flight of t's search: passed or not. The
// search ends when no size is left between the largest that passed and
// the smallest that did not.
func (c *core) mtuStep(t *target, pass bool, now int64) {
	m := &c.path.mtu
	mt := t.paths().mtu
	delete(m.flight, mt.serial)
	if pass {
		mt.lo, mt.passed = mt.size, true
	} else {
		mt.hi = mt.size
	}
	mt.size = 0
	m.wakeAt = now
	if mt.hi-mt.lo > 1 {
		return
	}
	// Done.
	mt.searching = false
	mt.due = now + int64(t.spec.Path.MTU.Interval)
	if m.nextDue < 0 || mt.due < m.nextDue {
		m.nextDue = mt.due
	}
	m.active = swapRemove(m.active, t)
	if !mt.passed {
		return // nothing answered: the MTU stays as it was
	}
	if mt.info.MTU != 0 && mt.info.MTU != mt.lo {
		mt.info.Changes++
		if c.logger != nil {
			c.logger.Info("path mtu changed", "group", t.spec.Group, "target", t.spec.Name, "ip", t.ip.String(),
				"mtu_bytes", mt.lo, "previous_bytes", mt.info.MTU)
		}
	}
	mt.info.MTU, mt.info.Last = mt.lo, c.wall(now)
}

// dfSender sends path MTU probes with fragmentation forbidden (openDF).
type dfSender interface {
	Send(pkts []Packet) (int, error)
	Close() error
}

// dfState is the engine's side of path MTU probes: the DF sender, opened
// with the first spec that wants it, and its send buffers (sender
// goroutine only).
type dfState struct {
	sender dfSender
	err    error // why it could not open (logged once)
	pkts   []Packet
	buf    []byte
}

// openDF opens the DF sender when spec wants path MTU searches. Called
// with e.mu held, from New and Apply.
func (e *Engine) openDF(spec *Spec) {
	if e.df.sender != nil || e.df.err != nil || !spec.mtuWanted() {
		return
	}
	e.df.sender, e.df.err = openDF(spec.Engine)
	if e.df.err != nil {
		e.log.Error("path MTU searches disabled", "err", e.df.err)
	}
}

// flushDF sends the MTU probes the core built (sender goroutine).
func (e *Engine) flushDF() {
	if e.df.sender == nil {
		return
	}
	e.mu.Lock()
	e.df.pkts, e.df.buf = e.c.takeDF(e.df.pkts, e.df.buf)
	e.mu.Unlock()
	if len(e.df.pkts) == 0 {
		return
	}
	_, _ = e.df.sender.Send(e.df.pkts) // failures are marked per packet
	e.mu.Lock()
	e.c.dfSent(e.df.pkts, e.mono(time.Now()))
	e.mu.Unlock()
}

// closeDF closes the DF sender (Close, after the sender goroutine ended).
func (e *Engine) closeDF() {
	if e.df.sender != nil {
		e.df.sender.Close()
	}
}
