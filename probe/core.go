package probe

import (
	"encoding/binary"
	"log/slog"
	"net/netip"
	"time"
)

// core is the deterministic heart of the engine: schedule, in-flight
// windows, timeouts, reply matching, FSM and outages. It performs no I/O
// and reads no clock: callers pass the time. Guarded by Engine.mu.
type core struct {
	epoch    time.Time // engine start; mono = time since epoch
	tagger   *Tagger
	id4, id6 uint16
	serial   uint32
	targets  []*target
	byAddr   map[netip.Addr]*target
	// inflight maps the low bits of a probe's serial to the target it was
	// sent to, so that a reply finds its target without hashing its
	// address. Only a hint: a later probe may have taken the entry, and
	// path probes are not in it; a miss falls back to byAddr.
	inflight  []*target
	sched     schedHeap
	fifos     []timeoutFIFO
	fifoIndex map[time.Duration]int
	stats     EngineStats
	maxPPS    int
	tokens    float64
	lastFill  int64
	errp      errParser
	lagStart  int64
	lagCur    time.Duration
	lagPrev   time.Duration
	logger    *slog.Logger
	onResult  func(Result)
	onOutage  func(OutageEvent)
	vant      vantage // vantage health and gaps (vantage.go)
	onPath    func(PathEvent)
	path      *pathState // path snapshots and MTU searches (path_engine.go); nil when no target takes them
}

func (c *core) wall(mono int64) time.Time { return c.epoch.Add(time.Duration(mono)) }

// apply installs a new set of targets; targets with an unchanged Key keep
// their state. now is the current mono time. Engine.Apply runs the two
// halves apart, plan without the engine lock (see apply.go).
func (c *core) apply(spec *Spec, now int64) {
	p := c.plan(spec)
	c.install(p, spec, now)
	c.repoint(p, spec, 0, len(p.targets), now)
	c.vantageApply(spec, now)
	c.pathApply(spec, now)
}

func (c *core) rebuildAddrs() {
	c.byAddr = make(map[netip.Addr]*target, len(c.targets))
	for i := len(c.targets) - 1; i >= 0; i-- {
		t := c.targets[i]
		t.nextSame = nil
		if !t.ip.IsValid() {
			continue
		}
		// Keyed without the zone: packets never carry one. Targets of one
		// link-local address on two links share a chain; the serial tells
		// their probes apart.
		k := t.ip.WithZone("")
		t.nextSame = c.byAddr[k]
		c.byAddr[k] = t
	}
}

// setIP changes the address of a host-name target after resolution.
func (c *core) setIP(t *target, ip netip.Addr, now int64) {
	if t.removed || t.ip == ip {
		return
	}
	had := t.ip.IsValid()
	t.ip = ip
	c.rebuildAddrs()
	if !had && !t.scheduled {
		t.due = now
		c.sched.push(t)
	}
}

// sendAhead is how early a probe may leave to share a send batch (one
// wake-up and one sendmmsg) with probes due just after it. Its send time is
// the real one, so RTTs and outage times are unaffected; only the phase
// moves by at most this much.
const sendAhead = int64(500 * time.Microsecond)

// nextWake returns when the sender must run next (mono ns), or -1.
// sendDue reports whether a probe is due at now (collect would send it
// but for max_pps).
func (c *core) sendDue(now int64) bool {
	t, due := c.sched.top()
	return t != nil && due <= now+sendAhead
}

func (c *core) nextWake() int64 {
	next := int64(-1)
	if t, due := c.sched.top(); t != nil {
		next = due - sendAhead
	}
	for i := range c.fifos {
		f := &c.fifos[i]
		if f.head < len(f.q) {
			if d := f.q[f.head].at; next < 0 || d < next {
				next = d
			}
		}
	}
	return c.pathNextWake(next)
}

// collect builds the packets due at now into pkts (up to cap(pkts)),
// appending their bytes to buf. wall is the real-time clock at now.
func (c *core) collect(now, wall int64, pkts []Packet, buf []byte) ([]Packet, []byte) {
	pkts = pkts[:0]
	if c.maxPPS > 0 {
		c.tokens += float64(now-c.lastFill) * float64(c.maxPPS) / 1e9
		c.tokens = min(c.tokens, float64(max(cap(pkts), 1)))
		c.lastFill = now
	}
	for len(pkts) < cap(pkts) {
		t, due := c.sched.top()
		if t == nil || due > now+sendAhead || c.maxPPS > 0 && c.tokens < 1 {
			break
		}
		iv := int64(t.spec.Interval)
		if lag := now - t.due; lag > iv {
			n := lag / iv
			t.skipped += uint64(n)
			c.stats.Skipped += uint64(n)
			t.due += n * iv
		}
		if len(pkts) == 0 {
			c.noteLag(time.Duration(max(now-t.due, 0)), now)
		}
		t.due += iv
		c.sched.advance()
		if t.removed || !t.ip.IsValid() {
			continue
		}
		c.serial++
		serial := c.serial
		c.inflight[serial&uint32(len(c.inflight)-1)] = t
		_, _, id := c.echoKind(t.ip.Is6())
		start := len(buf)
		buf = AppendEcho(buf, c.tagger, t.ip, id, serial, now, t.spec.PayloadSize)
		pkts = append(pkts, Packet{Dst: t.ip, TTL: t.spec.TTL, TOS: t.spec.TOS, Buf: buf[start:len(buf):len(buf)]})
		s := &t.window[t.wpos]
		if s.state == slotOut { // window wrapped before the timeout: lost
			t.lost++
			c.fail(t, s, now, slotLost)
		}
		*s = slot{serial: serial, state: slotOut, sendMono: now, sendWall: wall}
		t.wpos = int32((int(t.wpos) + 1) % len(t.window))
		t.sent++
		f := &c.fifos[c.fifoIndex[t.spec.Timeout]]
		f.push(deadline{at: now + int64(t.spec.Timeout) + grace(t.spec.Timeout), t: t, serial: serial})
		if c.maxPPS > 0 {
			c.tokens--
		}
	}
	return c.collectPath(now, wall, pkts, buf)
}

// lagWindow is the width of each of the two windows the maximum schedule
// lag is kept over: MaxScheduleLag is the largest lag of the last 5 to 10 s,
// the same for every reader (scrapes and OTLP pushes do not reset it).
const lagWindow = int64(5 * time.Second)

func (c *core) noteLag(lag time.Duration, now int64) {
	if gap := now - c.lagStart; gap >= lagWindow {
		c.lagPrev, c.lagCur, c.lagStart = c.lagCur, 0, now
		if gap >= 2*lagWindow { // no send for a whole window: nothing to remember
			c.lagPrev = 0
		}
	}
	c.lagCur = max(c.lagCur, lag)
	c.stats.ScheduleLag = lag
	c.stats.MaxScheduleLag = max(c.lagCur, c.lagPrev)
}

// skipDue skips (counts, reschedules, does not send) up to limit probes due
// at now: the engine is overloaded and must not add to its backlog.
func (c *core) skipDue(now int64, limit int) {
	for range limit {
		t, due := c.sched.top()
		if t == nil || due > now {
			return
		}
		iv := int64(t.spec.Interval)
		n := (now-t.due)/iv + 1
		t.skipped += uint64(n)
		c.stats.Skipped += uint64(n)
		t.due += n * iv
		c.sched.advance()
	}
}

// sent records the outcome of a Send of pkts built by collect at now.
func (c *core) sent(pkts []Packet, now int64) {
	for i := range pkts {
		p := &pkts[i]
		if !p.Failed {
			c.stats.PacketsSent++
			continue
		}
		_, serial, ok := echoSerial(p.Buf)
		if !ok {
			continue
		}
		t, s := c.lookup(p.Dst.WithZone(""), serial)
		if t == nil || s.state != slotOut {
			continue
		}
		c.stats.SendErrors++
		t.extra().byType[ErrSend]++
		c.fail(t, s, now, slotError)
		if c.onResult != nil {
			c.onResult(Result{Target: t.spec, IP: t.ip.As16(), Kind: ResultError, Sent: c.wall(s.sendMono), Error: ErrSend})
		}
	}
}

func echoSerial(b []byte) (uint16, uint32, bool) {
	var e Echo
	if ParseEcho(b, b[0], &e) != nil || !e.Full {
		return 0, 0, false
	}
	return e.ID, e.Serial, true
}

// echoKind returns the echo request and reply types and our echo id for
// one address family.
func (c *core) echoKind(v6 bool) (request, reply byte, id uint16) {
	if v6 {
		return icmpv6Echo, icmpv6EchoReply, c.id6
	}
	return icmpv4Echo, icmpv4EchoReply, c.id4
}

// handle processes one received packet at mono time now.
func (c *core) handle(r *Received, now int64) {
	src := r.Src.Unmap()
	if r.TxStamp { // our own request seen leaving, not a received packet
		c.txStamp(src, r)
		return
	}
	c.stats.PacketsReceived++
	if r.FromErrQueue {
		et, ok := classifyError(r.ErrType, r.V6)
		if !ok {
			if !advisory(r.ErrType, r.V6) {
				c.stats.Invalid++
			}
			return
		}
		c.handleError(refineUnreach(et, r.V6, r.ErrCode), src, r.QuotedDst.Unmap(), r.Buf, r.V6, r.KernelStamp, now)
		return
	}
	if len(r.Buf) < icmpHeaderLen {
		c.stats.Invalid++
		return
	}
	_, reply, id := c.echoKind(r.V6)
	if advisory(r.Buf[0], r.V6) {
		return
	}
	if r.Buf[0] != reply {
		et, dst, quoted, err := c.errp.parse(r.Buf, r.V6)
		switch {
		case err == errTruncated:
			c.stats.Invalid++
		case err != nil:
			c.stats.Foreign++
		default:
			c.handleError(et, src, dst.Unmap(), quoted, r.V6, r.KernelStamp, now)
		}
		return
	}
	var e Echo
	if err := ParseEcho(r.Buf, reply, &e); err != nil || !e.Full {
		c.stats.Invalid++
		return
	}
	if e.ID != id || c.tagger.Tag(src, e.ID, e.Serial, e.Sent) != e.Tag {
		c.stats.Foreign++
		return
	}
	if t, s := c.lookup(src, e.Serial); t != nil {
		c.reply(t, s, r, now)
		return
	}
	if c.pathReply(src, &e, r, now) {
		return
	}
	// Ours (the tag verified) but no longer in any window: a very late reply.
	if t := c.byAddr[src]; t != nil {
		t.extra().late++
	}
}

// txStamp attaches a kernel transmit timestamp to the probe it belongs to.
func (c *core) txStamp(dst netip.Addr, r *Received) {
	request, _, _ := c.echoKind(r.V6)
	var e Echo
	if ParseEcho(r.Buf, request, &e) != nil || !e.Full {
		return
	}
	if _, s := c.lookup(dst, e.Serial); s != nil && s.sendMono == e.Sent {
		s.txStamp = r.KernelStamp
	}
}

// lookup returns the target at address a (without zone) whose window holds
// the probe with serial, and its slot; nil when none does.
func (c *core) lookup(a netip.Addr, serial uint32) (*target, *slot) {
	if len(c.inflight) > 0 {
		t := c.inflight[serial&uint32(len(c.inflight)-1)]
		if t != nil && !t.removed && t.ip.WithZone("") == a {
			if s := t.findSlot(serial); s != nil {
				return t, s
			}
		}
	}
	for t := c.byAddr[a]; t != nil; t = t.nextSame {
		if s := t.findSlot(serial); s != nil {
			return t, s
		}
	}
	return nil, nil
}

// inflightSize is the size of core.inflight for spec: a power of two at
// least twice the probes in flight at their timeouts.
func inflightSize(spec *Spec) int {
	var n float64
	for i := range spec.Targets {
		ts := &spec.Targets[i]
		n += float64(int64(ts.Timeout)+grace(ts.Timeout)) / float64(ts.Interval)
	}
	size := 1024
	for float64(size) < 2*n && size < 1<<22 {
		size <<= 1
	}
	return size
}

func (c *core) reply(t *target, s *slot, r *Received, now int64) {
	switch s.state {
	case slotReplied:
		t.extra().dups++
		return
	case slotLost, slotError:
		t.extra().late++
		return
	}
	rtt, src := now-s.sendMono, 2
	if r.KernelStamp != 0 {
		if s.txStamp != 0 {
			if d := r.KernelStamp - s.txStamp; d > 0 && d < rtt+int64(time.Millisecond) {
				rtt, src = d, 0
			}
		}
		if src != 0 {
			// Never mix clocks: both stamps are CLOCK_REALTIME. A clock step
			// between them shows as an impossible value; then fall back.
			if d := r.KernelStamp - s.sendWall; d > 0 && d < rtt+int64(time.Millisecond) {
				rtt, src = d, 1
			}
		}
		if src == 2 {
			c.stats.ClockSteps++
		}
	}
	if rtt > int64(t.spec.Timeout) {
		t.extra().late++
		t.lost++
		c.fail(t, s, now, slotLost)
		return
	}
	c.stats.RepliesByTimestamp[src]++
	s.state = slotReplied
	c.shapeReply(t, s, rtt)
	t.replies++
	t.lastRTT = rtt
	if r.TTL >= 0 {
		t.lastTTL = int32(r.TTL)
	}
	t.rtt.observe(float64(rtt) / 1e9)
	c.succeed(t, s.sendMono)
	if c.onResult != nil {
		c.onResult(Result{Target: t.spec, IP: t.ip.As16(), Kind: ResultReply, Sent: c.wall(s.sendMono), RTT: time.Duration(rtt)})
	}
}

func (c *core) handleError(et ErrorType, src, dst netip.Addr, quoted []byte, v6 bool, kstamp, now int64) {
	request, _, id := c.echoKind(v6)
	var e Echo
	if err := ParseEcho(quoted, request, &e); err != nil || e.ID != id {
		c.stats.Foreign++
		return
	}
	if e.Full && c.tagger.Tag(dst, e.ID, e.Serial, e.Sent) != e.Tag {
		c.stats.Foreign++
		return
	}
	if !e.Full && v6 {
		// RFC 4443 has ICMPv6 errors quote as much as fits in 1280 bytes:
		// a quote without the tag is not from a conforming router.
		c.stats.Foreign++
		return
	}
	for t := c.byAddr[dst]; t != nil; t = t.nextSame {
		for i := range t.window {
			s := &t.window[i]
			match := s.serial == e.Serial
			if !e.Full {
				// Only the 8-byte header was quoted (RFC 792's minimum): id
				// and low serial bits are guessable, so the quoted checksum,
				// which covers the tag, must be the probe's too.
				match = uint16(s.serial) == uint16(e.Serial) && s.state == slotOut &&
					binary.BigEndian.Uint16(quoted[2:]) == echoChecksum(c.tagger, t.ip, id, s.serial, s.sendMono, t.spec.PayloadSize)
			}
			if !match || s.state != slotOut {
				continue
			}
			t.extra().byType[et]++
			c.fail(t, s, now, slotError)
			if c.onResult != nil {
				c.onResult(Result{Target: t.spec, IP: t.ip.As16(), Kind: ResultError, Sent: c.wall(s.sendMono), Error: et})
			}
			return
		}
	}
	if c.pathError(et, src, dst, &e, quoted, kstamp, now) {
		return
	}
	c.stats.Foreign++
}

// fail ends probe s of t as lost or error and drives the FSM.
func (c *core) fail(t *target, s *slot, now int64, st slotState) {
	s.state = st
	c.shapeAdvance(t)
	if st == slotLost && c.onResult != nil {
		c.onResult(Result{Target: t.spec, IP: t.ip.As16(), Kind: ResultLost, Sent: c.wall(s.sendMono)})
	}
	// Results reach the FSM in completion order; a probe that ends after a
	// later probe already ended (a loss whose timeout fires after the next
	// probes were answered) is counted but cannot start or extend a run.
	if s.sendMono < t.lastFSMSend {
		return
	}
	t.lastFSMSend = s.sendMono
	t.okRun = 0
	if t.failRun == 0 || s.sendMono < t.failStart {
		t.failStart = s.sendMono
		t.failPrevSend = t.sendBefore(s.sendMono)
	}
	t.failRun++
	if t.state == stateDown {
		t.rare.out.cur.ProbesLost++
		return
	}
	if int(t.failRun) < t.spec.DownAfter {
		return
	}
	t.state = stateDown
	t.stateChange = t.failStart
	r := t.extra()
	if r.out == nil {
		r.out = &outageState{}
	}
	o := r.out
	o.total++
	// The outage began after the probe before failStart left: with probes
	// skipped (overload, max_pps) that is more than one interval before.
	res := t.spec.Interval
	if t.failPrevSend >= 0 {
		res = max(res, time.Duration(t.failStart-t.failPrevSend))
	}
	o.cur = Outage{Start: c.wall(t.failStart), Ongoing: true, Resolution: res, ProbesLost: uint64(t.failRun)}
	o.res = res
	c.vantageDown(t)
	c.pathOnDown(t, now)
	if c.logger != nil {
		c.logger.Info("outage started", "group", t.spec.Group, "target", t.spec.Name, "ip", t.ip.String(),
			"start", o.cur.Start, "resolution_seconds", res.Seconds(), "probes_lost", o.cur.ProbesLost, vantageLog(&o.cur))
	}
	if c.onOutage != nil {
		c.onOutage(OutageEvent{Target: t.spec, Outage: o.cur})
	}
}

// succeed drives the FSM for an answered probe sent at sendMono.
func (c *core) succeed(t *target, sendMono int64) {
	if sendMono < t.lastFSMSend { // see fail
		return
	}
	t.lastFSMSend = sendMono
	t.failRun = 0
	if t.state == stateUp {
		return
	}
	if t.okRun == 0 {
		t.okStart = sendMono
		t.okPrevSend = t.sendBefore(sendMono)
	}
	t.okRun++
	if int(t.okRun) < t.spec.UpAfter {
		return
	}
	wasDown := t.state == stateDown
	t.state = stateUp
	t.stateChange = t.okStart
	c.pathOnUp(t, wasDown, t.okStart)
	if !wasDown {
		return
	}
	st := t.rare.out
	o := st.cur
	c.vantageUp(t, c.mono(o.Start), t.okStart)
	o.End, o.Ongoing = c.wall(c.gapEnd(c.mono(o.Start), t.okStart)), false
	if t.okPrevSend >= 0 { // the outage ended after the probe before okStart left
		o.Resolution = max(o.Resolution, time.Duration(t.okStart-t.okPrevSend))
	}
	st.res = o.Resolution
	d := o.End.Sub(o.Start).Seconds()
	observeOutage(&st.dur, &st.durSum, d)
	if keep := t.spec.OutageHistory; keep > 0 {
		if len(st.history) > keep { // a reload shortened the history: keep the newest
			ordered := append(append([]Outage(nil), st.history[st.histNext:]...), st.history[:st.histNext]...)
			st.history, st.histNext = ordered[len(ordered)-keep:], 0
		}
		if len(st.history) < keep {
			st.history = append(st.history, o)
		} else {
			st.history[st.histNext] = o
			st.histNext = (st.histNext + 1) % keep
		}
	}
	st.cur = Outage{}
	if c.logger != nil {
		c.logger.Info("outage ended", "group", t.spec.Group, "target", t.spec.Name, "ip", t.ip.String(),
			"start", o.Start, "end", o.End, "duration_seconds", d, "resolution_seconds", o.Resolution.Seconds(),
			"probes_lost", o.ProbesLost, vantageLog(&o), "path", t.pathLogValue())
	}
	if c.onOutage != nil {
		c.onOutage(OutageEvent{Target: t.spec, Outage: o})
	}
}
