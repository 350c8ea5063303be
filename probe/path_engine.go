package probe

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// The path snapshot machinery of the core. Guarded by Engine.mu like the
// rest of the core; it does no I/O and reads no clock. Regular probes never
// pass through it: it is reached only for packets no target window holds,
// for state edges, and once per sender pass (a few comparisons when idle).

// PathStats are engine-wide counters of path snapshots.
type PathStats struct {
	ProbesSent uint64 // TTL-limited probes built (path MTU probes not included)
	Snapshots  uint64 // snapshots finished
	Late       uint64 // answers to path probes of snapshots already finished
	Queued     int    // snapshots waiting to start (queued or in cooldown)
	Active     int    // snapshots sending or waiting for answers
}

// PathSummary is the part of a target's path state every Snapshot copies.
type PathSummary struct {
	// Enabled says the target takes path snapshots (TargetSpec.Path).
	Enabled bool
	// HopCount is the hop count of the baseline (the newest snapshot that
	// reached the target); 0 before one.
	HopCount  int
	Changes   uint64 // see PathInfo.Changes
	Snapshots uint64
	// DownHop is the farthest address that answered the newest snapshot
	// taken while the target was down, DownHopTTL its TTL; set only while
	// the target is down and such a snapshot exists (invalid when nothing
	// answered it).
	DownHop    netip.Addr
	DownHopTTL int
	HasDownHop bool
	MTU        MTUInfo
}

// pathTarget is the path state of one target, allocated with its first
// snapshot request.
type pathTarget struct {
	queued    bool   // waiting in pathState.queue or .deferred
	reason    string // of the queued request
	notBefore int64  // deferred until (mono)
	started   bool
	lastStart int64
	run       *pathRun
	last      *PathResult
	base      *PathResult
	down      *PathResult // newest snapshot taken while down
	history   []PathResult
	histNext  int
	changes   uint64
	snapshots uint64
	mtu       *mtuTarget
}

// pathRun is one snapshot in progress.
type pathRun struct {
	t         *target
	reason    string
	start     int64
	nextTTL   int // next TTL to send
	maxTTL    int // last TTL to send
	reached   int // smallest TTL the target answered; 0 when none
	inflight  int
	deadline  int64 // last send + timeout + grace
	probes    int
	extending bool // in pathState.extended
	serials   [MaxPathHops]uint32
	sendMono  [MaxPathHops]int64
	sendWall  [MaxPathHops]int64
	hops      [MaxPathHops]PathHop
}

type pathProbe struct {
	run *pathRun
	ttl int
}

// pathMinWake is the shortest wait of the sender for path tokens.
const pathMinWake = int64(time.Millisecond)

// pathRecent is how many unanswered path probe serials are remembered.
const pathRecent = 4096

// pathState is the core's path snapshot scheduler: a FIFO of targets
// waiting for a snapshot, the runs in progress, and the probes in flight.
type pathState struct {
	pps      int
	tokens   float64
	lastFill int64
	queue    []*target
	qhead    int
	deferred []*target
	nextDef  int64
	cur      *pathRun   // the run sending now
	extended []*pathRun // runs that must send more TTLs (path longer than the baseline)
	active   []*pathRun
	free     []*pathRun
	flight   map[uint32]pathProbe
	// recent holds the serials of the last pathRecent path probes that
	// ended unanswered, so that a late answer counts as late, not foreign,
	// and a regular probe's late reply is not taken for one.
	recent     map[uint32]struct{}
	recentRing [pathRecent]uint32
	recentNext int
	nextDead   int64
	wakeAt     int64 // when collectPath has something to send again; -1 none
	stats      PathStats

	autoBaseline bool
	minBaseline  int64
	cursor       int
	cursorAcc    float64
	cursorLast   int64
	mtu          mtuState
}

// pathApply configures the path machinery for spec (from apply).
func (c *core) pathApply(spec *Spec, now int64) {
	n, mtu := 0, false
	for i := range spec.Targets {
		if spec.Targets[i].Path.Enabled {
			n++
		}
		mtu = mtu || spec.Targets[i].Path.MTU.Enabled
	}
	if n == 0 && !mtu && c.path == nil {
		return
	}
	p := c.path
	if p == nil {
		p = &pathState{flight: map[uint32]pathProbe{}, recent: map[uint32]struct{}{}, wakeAt: -1, lastFill: now, cursorLast: now}
		c.path = p
	}
	p.pps = PathPPSFor(spec.Engine)
	p.autoBaseline = n <= PathBaselineAutoTargets
	p.minBaseline = 0
	for i := range spec.Targets {
		if b := p.baseline(&spec.Targets[i]); b > 0 && (p.minBaseline == 0 || b < p.minBaseline) {
			p.minBaseline = b
		}
	}
	c.mtuApply(spec, now)
}

// baseline returns the baseline cycle of a target in ns, 0 when off.
func (p *pathState) baseline(ts *TargetSpec) int64 {
	if !ts.Path.Enabled {
		return 0
	}
	switch b := ts.Path.Baseline; {
	case b > 0:
		return int64(b)
	case b == 0 && p.autoBaseline:
		return int64(DefaultPathBaseline)
	}
	return 0
}

func (t *target) pathState() *pathTarget {
	r := t.extra()
	if r.path == nil {
		r.path = &pathTarget{}
	}
	return r.path
}

// pathRequest asks for a snapshot of t. A target already waiting keeps
// its place (a down or up request replaces a baseline one's reason); a
// target in its cooldown waits until it is over (trace requests do not).
func (c *core) pathRequest(t *target, reason string, now int64) {
	p := c.path
	if p == nil || !t.spec.Path.Enabled || t.removed || !t.ip.IsValid() {
		return
	}
	pt := t.pathState()
	if pt.queued {
		if reason != PathReasonBaseline {
			pt.reason = reason
		}
		return
	}
	pt.queued, pt.reason = true, reason
	p.queue = append(p.queue, t)
	p.wakeAt = now
}

// pathOnDown and pathOnUp are called on the state edges of t.
func (c *core) pathOnDown(t *target, now int64) {
	if c.path != nil {
		if pt := t.paths(); pt != nil {
			pt.down = nil
		}
		c.pathRequest(t, PathReasonDown, now)
	}
}

func (c *core) pathOnUp(t *target, wasDown bool, now int64) {
	p := c.path
	if p == nil || !t.spec.Path.Enabled {
		return
	}
	if wasDown {
		c.pathRequest(t, PathReasonUp, now)
	} else if pt := t.paths(); (pt == nil || !pt.started) && p.baseline(t.spec) > 0 {
		c.pathRequest(t, PathReasonBaseline, now) // the first baseline
	}
}

// pathTick moves deferred snapshots whose cooldown is over into the queue
// and walks the baseline cycle: the cursor visits every target twice per
// shortest baseline period.
func (c *core) pathTick(now int64) {
	p := c.path
	if len(p.deferred) > 0 && now >= p.nextDef {
		keep := p.deferred[:0]
		p.nextDef = -1
		for _, t := range p.deferred {
			nb := t.paths().notBefore
			if nb <= now {
				p.queue = append(p.queue, t)
				continue
			}
			keep = append(keep, t)
			if p.nextDef < 0 || nb < p.nextDef {
				p.nextDef = nb
			}
		}
		clear(p.deferred[len(keep):])
		p.deferred = keep
	}
	if p.minBaseline <= 0 || len(c.targets) == 0 {
		p.cursorLast = now
		return
	}
	// Two passes per period: a target is taken again between one and one
	// and a half of its baseline periods after its last snapshot.
	p.cursorAcc += float64(now-p.cursorLast) * float64(2*len(c.targets)) / float64(p.minBaseline)
	p.cursorLast = now
	for ; p.cursorAcc >= 1; p.cursorAcc-- {
		p.cursor = (p.cursor + 1) % len(c.targets)
		t := c.targets[p.cursor]
		b := p.baseline(t.spec)
		if b <= 0 || t.state != stateUp {
			continue
		}
		if pt := t.paths(); pt == nil || !pt.queued && pt.run == nil && (!pt.started || now-pt.lastStart >= b) {
			c.pathRequest(t, PathReasonBaseline, now)
		}
	}
	p.cursorAcc = min(p.cursorAcc, float64(len(c.targets)))
}

// pathNextRun returns the run that sends next, starting queued snapshots
// as needed; nil when none may send.
func (c *core) pathNextRun(now int64) *pathRun {
	p := c.path
	for len(p.extended) > 0 {
		r := p.extended[0]
		if r.nextTTL <= r.maxTTL {
			return r
		}
		r.extending = false
		p.extended = p.extended[1:]
	}
	if r := p.cur; r != nil && r.nextTTL <= r.maxTTL {
		return r
	}
	p.cur = nil
	for p.qhead < len(p.queue) {
		t := p.queue[p.qhead]
		p.queue[p.qhead] = nil
		p.qhead++
		if p.qhead == len(p.queue) {
			p.queue, p.qhead = p.queue[:0], 0
		} else if p.qhead > 1024 && p.qhead*2 > len(p.queue) {
			n := copy(p.queue, p.queue[p.qhead:])
			clear(p.queue[n:])
			p.queue, p.qhead = p.queue[:n], 0
		}
		pt := t.paths()
		if t.removed || !t.ip.IsValid() || !t.spec.Path.Enabled {
			pt.queued = false
			continue
		}
		nb := int64(-1)
		if pt.run != nil {
			nb = pt.run.deadline
		}
		if pt.started && pt.reason != PathReasonTrace {
			nb = max(nb, pt.lastStart+int64(t.spec.Path.Cooldown))
		}
		if nb > now {
			pt.notBefore = nb
			p.deferred = append(p.deferred, t)
			if p.nextDef < 0 || len(p.deferred) == 1 || nb < p.nextDef {
				p.nextDef = nb
			}
			continue
		}
		pt.queued = false
		p.cur = c.pathStart(t, pt, now)
		return p.cur
	}
	return nil
}

func (c *core) pathStart(t *target, pt *pathTarget, now int64) *pathRun {
	p := c.path
	var r *pathRun
	if n := len(p.free); n > 0 {
		r, p.free = p.free[n-1], p.free[:n-1]
		*r = pathRun{}
	} else {
		r = &pathRun{}
	}
	r.t, r.reason, r.start, r.nextTTL = t, pt.reason, now, 1
	r.maxTTL = t.spec.Path.MaxHops
	if pt.base != nil && pt.base.HopCount > 0 {
		// The baseline's hop count is enough: a longer path shows as a
		// time exceeded at the last TTL, which extends the run.
		r.maxTTL = min(r.maxTTL, pt.base.HopCount)
	}
	pt.run, pt.started, pt.lastStart = r, true, now
	p.active = append(p.active, r)
	return r
}

// collectPath appends path probes to pkts while the path budget and the
// max_pps bucket (after the regular probes) allow.
func (c *core) collectPath(now, wall int64, pkts []Packet, buf []byte) ([]Packet, []byte) {
	p := c.path
	if p == nil {
		return pkts, buf
	}
	c.pathTick(now)
	pkts, buf = c.collectMTU(now, wall, pkts, buf)
	if p.qhead == len(p.queue) && len(p.extended) == 0 && (p.cur == nil || p.cur.nextTTL > p.cur.maxTTL) {
		p.wakeAt = -1
		return pkts, buf
	}
	p.fill(now)
	for len(pkts) < cap(pkts) && p.tokens >= 1 && (c.maxPPS <= 0 || c.tokens >= 1) {
		r := c.pathNextRun(now)
		if r == nil {
			break
		}
		t := r.t
		ttl := r.nextTTL
		r.nextTTL++
		c.serial++
		_, _, id := c.echoKind(t.ip.Is6())
		start := len(buf)
		buf = AppendEcho(buf, c.tagger, t.ip, id, c.serial, now, MinPayload)
		pkts = append(pkts, Packet{Dst: t.ip, TTL: ttl, TOS: t.spec.TOS, Buf: buf[start:len(buf):len(buf)]})
		r.serials[ttl-1], r.sendMono[ttl-1], r.sendWall[ttl-1] = c.serial, now, wall
		r.hops[ttl-1] = PathHop{TTL: ttl}
		p.flight[c.serial] = pathProbe{run: r, ttl: ttl}
		r.inflight++
		r.probes++
		r.deadline = now + int64(t.spec.Timeout) + grace(t.spec.Timeout)
		if p.nextDead <= 0 || r.deadline < p.nextDead {
			p.nextDead = r.deadline
		}
		p.tokens--
		if c.maxPPS > 0 {
			c.tokens--
		}
		p.stats.ProbesSent++
	}
	// Wake again when the next path token is there, but not sooner than
	// pathMinWake: with max_pps exhausted by the regular probes, waking
	// for every single token would spin the sender.
	p.wakeAt = now + max(int64(max(1-p.tokens, 0)*1e9/float64(p.pps)), pathMinWake)
	return pkts, buf
}

func (p *pathState) fill(now int64) {
	p.tokens += float64(now-p.lastFill) * float64(p.pps) / 1e9
	p.tokens = min(p.tokens, float64(max(p.pps/100, 1)))
	p.lastFill = now
}

// pathNextWake folds the path machinery's next deadline into next.
func (c *core) pathNextWake(next int64) int64 {
	p := c.path
	if p == nil {
		return next
	}
	for _, w := range [...]int64{p.wakeAt, p.nextDead, p.nextDef, p.mtu.wakeAt} {
		if w > 0 && (next < 0 || w < next) {
			next = w
		}
	}
	return next
}

// pathFind returns the path probe an echo reply or a quoted echo request
// e to dst belongs to. A quote of only the 8-byte header (RFC 792's
// minimum) is matched by its low serial bits and its checksum, which
// covers the tag.
func (c *core) pathFind(e *Echo, dst netip.Addr, quoted []byte) (uint32, pathProbe, bool) {
	p := c.path
	if e.Full {
		pp, ok := p.flight[e.Serial]
		if !ok || pp.run.t.ip.WithZone("") != dst {
			return 0, pathProbe{}, false
		}
		return e.Serial, pp, true
	}
	if len(quoted) < 4 {
		return 0, pathProbe{}, false
	}
	cand := c.serial - uint32(uint16(uint16(c.serial)-uint16(e.Serial)))
	for range 3 {
		if pp, ok := p.flight[cand]; ok && pp.run.t.ip.WithZone("") == dst {
			_, _, id := c.echoKind(false)
			if binary.BigEndian.Uint16(quoted[2:]) == echoChecksum(c.tagger, pp.run.t.ip, id, cand, pp.run.sendMono[pp.ttl-1], MinPayload) {
				return cand, pp, true
			}
		}
		cand -= 1 << 16
	}
	return 0, pathProbe{}, false
}

// pathReply handles a tag-verified echo reply from src that no target
// window holds; false when it is no path probe either.
func (c *core) pathReply(src netip.Addr, e *Echo, r *Received, now int64) bool {
	if c.path == nil {
		return false
	}
	if c.mtuReply(src, e, r, now) {
		return true
	}
	serial, pp, ok := c.pathFind(e, src, nil)
	if !ok {
		return c.pathLate(e)
	}
	c.pathAnswer(serial, pp, src, 0, true, r.KernelStamp, now)
	return true
}

// pathError handles an ICMP error from src quoting a probe to dst that no
// target window holds (the tag, when quoted, verified); false when it is
// no path probe either.
func (c *core) pathError(et ErrorType, src, dst netip.Addr, e *Echo, quoted []byte, kstamp, now int64) bool {
	if c.path == nil {
		return false
	}
	if c.mtuError(et, src, dst, e, quoted, now) {
		return true
	}
	serial, pp, ok := c.pathFind(e, dst, quoted)
	if !ok {
		return e.Full && c.pathLate(e)
	}
	c.pathAnswer(serial, pp, src, et, false, kstamp, now)
	return true
}

// pathLate counts a verified answer to a path probe of a finished
// snapshot: ours, not foreign.
func (c *core) pathLate(e *Echo) bool {
	if _, ok := c.path.recent[e.Serial]; !ok || !e.Full {
		return false
	}
	c.path.stats.Late++
	return true
}

// pathForget moves the serial of an unanswered path probe from the
// flight to the recent ones.
func (p *pathState) pathForget(serial uint32) {
	delete(p.flight, serial)
	old := p.recentRing[p.recentNext]
	if old != 0 {
		delete(p.recent, old)
	}
	p.recentRing[p.recentNext] = serial
	p.recentNext = (p.recentNext + 1) % pathRecent
	p.recent[serial] = struct{}{}
}

func (c *core) pathAnswer(serial uint32, pp pathProbe, from netip.Addr, et ErrorType, reply bool, kstamp, now int64) {
	p := c.path
	delete(p.flight, serial)
	r, i := pp.run, pp.ttl-1
	r.inflight--
	rtt := now - r.sendMono[i]
	if kstamp != 0 {
		if d := kstamp - r.sendWall[i]; d > 0 && d < rtt+int64(time.Millisecond) {
			rtt = d
		}
	}
	r.hops[i] = PathHop{TTL: pp.ttl, Addr: from, RTT: time.Duration(rtt), Error: et, Reply: reply}
	switch {
	case reply:
		if r.reached == 0 || pp.ttl < r.reached {
			r.reached = pp.ttl
		}
		r.maxTTL = min(r.maxTTL, max(r.reached, r.nextTTL-1))
	case et == ErrTimeExceeded && pp.ttl == r.maxTTL && r.reached == 0 && r.maxTTL < r.t.spec.Path.MaxHops:
		// The path is longer than the baseline's: probe on.
		r.maxTTL = r.t.spec.Path.MaxHops
		if r != p.cur && !r.extending {
			r.extending = true
			p.extended = append(p.extended, r)
		}
		p.wakeAt = now
	}
	if r.inflight == 0 && r.nextTTL > r.maxTTL {
		c.pathFinish(r, now)
	}
}

// pathExpire finishes the runs whose last probe timed out.
func (c *core) pathExpire(now int64) {
	p := c.path
	if p == nil {
		return
	}
	c.mtuExpire(now)
	if p.nextDead <= 0 || now < p.nextDead {
		return
	}
	p.nextDead = 0
	for i := 0; i < len(p.active); i++ {
		r := p.active[i]
		if r.nextTTL > r.maxTTL && now >= r.deadline {
			c.pathFinish(r, now)
			i-- // pathFinish swapped the last run into i
			continue
		}
		if p.nextDead <= 0 || r.deadline < p.nextDead {
			p.nextDead = r.deadline
		}
	}
}

// pathFinish turns run r into a PathResult, updates the target's path
// state and reports it.
func (c *core) pathFinish(r *pathRun, now int64) {
	p := c.path
	for i := range r.nextTTL - 1 {
		if !r.hops[i].Answered() {
			p.pathForget(r.serials[i])
		}
	}
	p.active = swapRemove(p.active, r)
	if p.cur == r {
		p.cur = nil
	}
	t := r.t
	pt := t.paths()
	n := r.nextTTL - 1
	if r.reached > 0 {
		n = r.reached
	}
	res := PathResult{Time: c.wall(r.start), Reason: r.reason, Hops: make([]PathHop, n),
		Reached: r.reached > 0, HopCount: r.reached, Probes: r.probes}
	copy(res.Hops, r.hops[:n])
	for i := n - 1; i >= 0; i-- {
		if res.Hops[i].Answered() {
			res.LastHop, res.LastHopTTL = res.Hops[i].Addr, res.Hops[i].TTL
			break
		}
	}
	res.Changed = pt.base != nil && res.Differs(pt.base)
	if pt.last != nil && res.Differs(pt.last) {
		pt.changes++
	}
	pt.snapshots++
	p.stats.Snapshots++
	last := &res
	pt.last = last
	if res.Reached && t.state != stateDown {
		pt.base = last
	}
	if t.state == stateDown {
		pt.down = last
	}
	if len(pt.history) < pathHistory {
		pt.history = append(pt.history, res)
	} else {
		pt.history[pt.histNext] = res
		pt.histNext = (pt.histNext + 1) % pathHistory
	}
	pt.run = nil
	r.t = nil
	p.free = append(p.free, r)
	if c.logger != nil && (res.Reason != PathReasonBaseline || res.Changed) {
		args := []any{"group", t.spec.Group, "target", t.spec.Name, "ip", t.ip.String(), "reason", res.Reason,
			"reached", res.Reached, "hop_count", res.HopCount, "last_hop", addrString(res.LastHop),
			"last_hop_ttl", res.LastHopTTL, "changed", res.Changed, "path", res.String()}
		if o := t.outages(); t.state == stateDown && o != nil {
			args = append(args, "outage_start", o.cur.Start)
		}
		c.logger.Info("path snapshot", args...)
	}
	if c.onPath != nil {
		c.onPath(PathEvent{Target: t.spec, Result: res})
	}
}

// swapRemove removes x from s, moving the last element into its place.
func swapRemove[T comparable](s []T, x T) []T {
	for i, a := range s {
		if a == x {
			var zero T
			s[i] = s[len(s)-1]
			s[len(s)-1] = zero
			return s[:len(s)-1]
		}
	}
	return s
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// pathLogValue is the path attribute of a target's outage log events: the
// newest snapshot taken while it was down.
func (t *target) pathLogValue() string {
	pt := t.paths()
	if pt == nil || pt.down == nil {
		return ""
	}
	return pt.down.String()
}

// copyPath fills dst.Path (from copyTo), reusing dst's summary.
func (t *target) copyPath(dst *TargetSnapshot) {
	if !t.spec.Path.Enabled && !t.spec.Path.MTU.Enabled {
		dst.Path = nil
		return
	}
	s := PathSummary{Enabled: t.spec.Path.Enabled}
	if pt := t.paths(); pt != nil {
		s.Changes, s.Snapshots = pt.changes, pt.snapshots
		if pt.base != nil {
			s.HopCount = pt.base.HopCount
		}
		if t.state == stateDown && pt.down != nil {
			s.DownHop, s.DownHopTTL, s.HasDownHop = pt.down.LastHop, pt.down.LastHopTTL, true
		}
		if pt.mtu != nil {
			s.MTU = pt.mtu.info
		}
	}
	if dst.Path == nil {
		dst.Path = new(PathSummary)
	}
	*dst.Path = s
}

// pathInfo copies the full path state of t.
func (t *target) pathInfo() PathInfo {
	pt := t.paths()
	if pt == nil {
		return PathInfo{}
	}
	info := PathInfo{Changes: pt.changes, Snapshots: pt.snapshots}
	clone := func(r *PathResult) *PathResult {
		if r == nil {
			return nil
		}
		c := *r
		c.Hops = append([]PathHop(nil), r.Hops...)
		return &c
	}
	info.Last, info.Baseline = clone(pt.last), clone(pt.base)
	n := len(pt.history)
	for i := range n {
		h := pt.history[(pt.histNext+i)%n]
		h.Hops = append([]PathHop(nil), h.Hops...)
		info.History = append(info.History, h)
	}
	if pt.mtu != nil {
		info.MTU = pt.mtu.info
	}
	return info
}

// pathStats fills the engine-wide path counters.
func (c *core) pathStats() PathStats {
	p := c.path
	if p == nil {
		return PathStats{}
	}
	s := p.stats
	s.Queued = len(p.queue) - p.qhead + len(p.deferred)
	s.Active = len(p.active)
	return s
}
