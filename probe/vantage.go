package probe

import (
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"
	"time"
)

// Vantage health: is it the targets, or us? The engine's own probes tell.
//
// A scope is the exporter as a whole, or one group. Its vantage is down
// when either rule of its VantageRule holds:
//
//   - correlated failure: at least Share of the scope's members, and at
//     least MinTargets, went down with outage starts inside one window of
//     Window intervals (the longest interval of the scope's targets); it
//     holds until fewer members than that are down;
//   - anchors: every target of the anchor groups is down; it holds until
//     one of them answers again.
//
// A group's vantage is also down while the exporter's is. Members of a
// scope are its targets outside the anchor groups. A target outage that
// starts while its group's vantage is down, or at most one window before
// the vantage outage starts, is caused by the vantage (CauseVantage), any
// other by the target. Everything here runs on state changes of targets,
// never per packet.

// OutageCause says whether an outage was the target's own or the probing
// side's (the vantage).
type OutageCause uint8

// Outage causes.
const (
	CauseTarget  OutageCause = iota // the target (or the path to it) failed on its own
	CauseVantage                    // the vantage was down: the exporter's side failed
)

// String returns "target" or "vantage".
func (c OutageCause) String() string {
	if c == CauseVantage {
		return "vantage"
	}
	return "target"
}

// VantageSpec enables vantage health (see VantageRule). The zero value
// disables it.
type VantageSpec struct {
	Enabled bool
	// Rule is the rule of the exporter as a whole, and of every group not
	// in Groups.
	Rule VantageRule
	// Groups are the rules of groups that have their own.
	Groups map[string]VantageRule
}

// VantageRule says when the vantage of a scope is down.
type VantageRule struct {
	// Share is the fraction of members (0 < Share <= 1) that must go down
	// within one window for the correlated-failure rule.
	Share float64
	// MinTargets is the least number of members that must go down within
	// one window (>= 1).
	MinTargets int
	// Window is the width of the window in intervals (>= 1).
	Window int
	// Anchors names groups whose targets are trusted: when every one of
	// them is down, so is the vantage. Anchor targets are not members.
	Anchors []string
}

// Vantage defaults and limits.
const (
	DefaultVantageShare      = 0.5
	DefaultVantageMinTargets = 3
	DefaultVantageWindow     = 3
	MaxVantageWindow         = 100
)

// Equal reports whether two rules are the same.
func (r VantageRule) Equal(o VantageRule) bool {
	return r.Share == o.Share && r.MinTargets == o.MinTargets && r.Window == o.Window && slices.Equal(r.Anchors, o.Anchors)
}

// MaxVantageMinTargets bounds VantageRule.MinTargets.
const MaxVantageMinTargets = 1 << 24

// VantageFieldError is a value of one field of a VantageRule that the
// engine cannot run with; Field is its configuration key (share,
// min_targets, window).
type VantageFieldError struct {
	Field string
	Msg   string
}

func (e *VantageFieldError) Error() string { return e.Field + ": " + e.Msg }

// Problems returns what is wrong with the rule's values, one error per
// field. Anchors name groups, which only the configuration knows: an
// anchor group without targets (yet) is no error here.
func (r VantageRule) Problems() []*VantageFieldError {
	var ps []*VantageFieldError
	if !(r.Share > 0 && r.Share <= 1) {
		ps = append(ps, &VantageFieldError{"share", fmt.Sprintf("%v is out of range; want the fraction of a scope's targets that fail together, above 0 and at most 1, like 0.5", r.Share)})
	}
	if r.MinTargets < 1 || r.MinTargets > MaxVantageMinTargets {
		ps = append(ps, &VantageFieldError{"min_targets", fmt.Sprintf("%d is out of range; want 1 to %d targets", r.MinTargets, MaxVantageMinTargets)})
	}
	if r.Window < 1 || r.Window > MaxVantageWindow {
		ps = append(ps, &VantageFieldError{"window", fmt.Sprintf("%d is out of range; want 1 to %d intervals", r.Window, MaxVantageWindow)})
	}
	return ps
}

// validate checks every rule.
func (v *VantageSpec) validate() error {
	if !v.Enabled {
		return nil
	}
	if ps := v.Rule.Problems(); len(ps) > 0 {
		return fmt.Errorf("vantage: %w", ps[0])
	}
	for g, r := range v.Groups {
		if ps := r.Problems(); len(ps) > 0 {
			return fmt.Errorf("vantage of group %q: %w", g, ps[0])
		}
	}
	return nil
}

// VantageSnapshot is the vantage state of one scope.
type VantageSnapshot struct {
	// Group is the group of the scope; empty for the exporter as a whole.
	Group string
	Up    bool
	// Members, Anchors and Down count the scope's member targets, its
	// anchor targets, and the members down now.
	Members, Anchors, Down int
	OutagesTotal           uint64
	// OutageDurations is a cumulative histogram of completed vantage outage
	// durations with bounds OutageBuckets; OutageDurationSum in seconds.
	OutageDurations   [len(OutageBuckets)]uint64
	OutageDurationSum float64
	// Last is the last vantage outage (the ongoing one while down), valid
	// when OutagesTotal > 0.
	Last Outage
}

// CompletedOutages is the count of the outage duration histogram.
func (v *VantageSnapshot) CompletedOutages() uint64 {
	n := v.OutagesTotal
	if n > 0 && v.Last.Ongoing {
		n--
	}
	return max(n, v.OutageDurations[len(v.OutageDurations)-1])
}

// vscope is the vantage state of one scope.
type vscope struct {
	group   string // "" for the exporter
	rule    VantageRule
	parent  *vscope // the exporter scope of a group; nil for the exporter
	anchor  map[string]bool
	targets []*target // the group's own targets (nil for the exporter)
	members int
	anchors []*target
	width   int64 // one window bucket: the longest interval of the scope
	ring    vring

	down       int  // members down
	anchorDown int  // anchors down
	share      bool // the correlated-failure rule holds
	isDown     bool // the vantage is down (either rule, or the parent's)
	shareStart int64
	firstOK    int64 // earliest okStart of a target answering again while down; -1 none

	start    int64 // mono start of the ongoing outage
	total    uint64
	dur      [len(OutageBuckets)]uint64 // non-cumulative
	durSum   float64
	last     Outage
	hasLast  bool
	children []*vscope
}

// vring counts member outage starts in buckets one width wide, over the
// last n buckets: how many members went down within a window.
type vring struct {
	idx   []int64 // absolute bucket number held by each slot
	count []int
	first []int64 // earliest start in the slot
}

func newVring(n int) vring {
	r := vring{idx: make([]int64, n), count: make([]int, n), first: make([]int64, n)}
	for i := range r.idx {
		r.idx[i] = -1
	}
	return r
}

func (r *vring) add(b, start int64, d int) {
	k := int(b % int64(len(r.idx)))
	if r.idx[k] != b {
		if d < 0 || r.idx[k] > b {
			return // the start left the window already
		}
		r.idx[k], r.count[k], r.first[k] = b, 0, start
	}
	r.count[k] += d
	r.first[k] = min(r.first[k], start)
}

// sum returns the starts counted in buckets lo..hi and the earliest one.
func (r *vring) sum(lo, hi int64) (int, int64) {
	n, first := 0, int64(math.MaxInt64)
	for k, b := range r.idx {
		if b >= lo && b <= hi && r.count[k] > 0 {
			n += r.count[k]
			first = min(first, r.first[k])
		}
	}
	return n, first
}

// vantage is the vantage state of a core (nil scopes when disabled), and
// the gap detector, which always runs.
type vantage struct {
	all    *vscope
	groups map[string]*vscope
	order  []*vscope // exporter first, then groups by name
	// roles are the scopes the targets of a group count in: as members,
	// or as anchors.
	roles map[string][]vrole

	gapMin   int64 // a wake this late (mono ns) is a gap
	bootOff  int64 // CLOCK_BOOTTIME - CLOCK_MONOTONIC at the last look; -1 unknown
	gaps     []gapSpan
	gapsNext int
}

// vrole is a scope that targets of a group count in, and how.
type vrole struct {
	s      *vscope
	anchor bool
}

// gapSpan is one stall of the prober, in mono time.
type gapSpan struct{ from, to int64 }

// maxGapsKept is how many recent gaps outage ends are checked against.
const maxGapsKept = 16

// minGap is the shortest stall counted as a gap, however short the
// shortest interval.
const minGap = int64(time.Second)

func (c *core) scopeOf(t *target) *vscope {
	if c.vant.groups == nil {
		return nil
	}
	return c.vant.groups[t.spec.Group]
}

// vantageApply rebuilds the scopes for spec at mono time now; scopes of
// groups that stay keep their outage record, and every count is taken
// afresh from the targets' states.
func (c *core) vantageApply(spec *Spec, now int64) {
	v := &c.vant
	shortest := int64(0)
	for i := range spec.Targets {
		if iv := int64(spec.Targets[i].Interval); shortest == 0 || iv < shortest {
			shortest = iv
		}
	}
	v.gapMin = max(minGap, shortest)
	if v.bootOff == 0 {
		v.bootOff = -1
	}
	vs := &spec.Vantage
	if !vs.Enabled {
		v.all, v.groups, v.order, v.roles = nil, nil, nil, nil
		return
	}
	old := map[string]*vscope{}
	for _, s := range v.order {
		old[s.group] = s
	}
	mk := func(group string, rule VantageRule, parent *vscope) *vscope {
		s := old[group]
		if s == nil || (s.parent == nil) != (parent == nil) {
			s = &vscope{group: group, firstOK: -1}
		}
		s.rule, s.parent, s.children, s.targets, s.anchors = rule, parent, nil, nil, nil
		s.anchor = map[string]bool{}
		for _, a := range rule.Anchors {
			s.anchor[a] = true
		}
		s.members, s.down, s.anchorDown, s.width = 0, 0, 0, 0
		return s
	}
	v.all = mk("", vs.Rule, nil)
	v.groups = map[string]*vscope{}
	v.order = []*vscope{v.all}
	for _, t := range c.targets {
		g := t.spec.Group
		if v.groups[g] != nil {
			continue
		}
		rule, ok := vs.Groups[g]
		if !ok {
			rule = vs.Rule
		}
		s := mk(g, rule, v.all)
		v.groups[g] = s
		v.all.children = append(v.all.children, s)
	}
	sort.Slice(v.all.children, func(i, j int) bool { return v.all.children[i].group < v.all.children[j].group })
	v.order = append(v.order, v.all.children...)
	byGroup := map[string][]*target{}
	for _, t := range c.targets {
		byGroup[t.spec.Group] = append(byGroup[t.spec.Group], t)
		v.groups[t.spec.Group].targets = append(v.groups[t.spec.Group].targets, t)
	}
	// A group's targets count in the exporter's scope and their own group's
	// (as members, or as anchors where the rule names the group), and as
	// anchors in every other group whose rule names it; the exporter's
	// scope comes first.
	v.roles = make(map[string][]vrole, len(v.groups))
	for g, s := range v.groups {
		v.roles[g] = append(v.roles[g], vrole{v.all, v.all.anchor[g]}, vrole{s, s.anchor[g]})
	}
	for _, s := range v.all.children {
		for a := range s.anchor {
			if a != s.group && v.groups[a] != nil {
				v.roles[a] = append(v.roles[a], vrole{s, true})
			}
		}
	}
	for _, s := range v.order {
		var mine []*target
		if s.parent == nil {
			mine = c.targets
		} else {
			mine = s.targets
		}
		for _, t := range mine {
			if s.anchor[t.spec.Group] {
				continue
			}
			s.members++
			s.width = max(s.width, int64(t.spec.Interval))
			if t.state == stateDown {
				s.down++
			}
		}
		for a := range s.anchor {
			for _, t := range byGroup[a] {
				s.anchors = append(s.anchors, t)
				s.width = max(s.width, int64(t.spec.Interval))
				if t.state == stateDown {
					s.anchorDown++
				}
			}
		}
		s.width = max(s.width, 1)
		s.ring = newVring(s.rule.Window + 2)
		s.share = s.share && s.down >= s.threshold()
	}
	for _, s := range v.order {
		c.vantageEval(s, now, now)
	}
}

// threshold is the number of members that make a correlated failure.
func (s *vscope) threshold() int {
	return max(s.rule.MinTargets, int(math.Ceil(s.rule.Share*float64(s.members)-1e-9)))
}

func (s *vscope) window() int64 { return int64(s.rule.Window) * s.width }

func (s *vscope) anchorsDown() bool { return len(s.anchors) > 0 && s.anchorDown == len(s.anchors) }

// evalRoles re-evaluates the scopes of roles after their counts changed:
// the exporter's first; when it changed, every group follows it.
func (c *core) evalRoles(roles []vrole, start, end int64) {
	v := &c.vant
	was := v.all.isDown
	c.vantageEval(v.all, start, end)
	if v.all.isDown != was {
		for _, s := range v.all.children {
			c.vantageEval(s, start, end)
		}
		return
	}
	for _, r := range roles {
		if r.s.parent != nil {
			c.vantageEval(r.s, start, end)
		}
	}
}

// vantageDown is called when t went down (its outage record is set up):
// it updates the scopes t counts in, and marks t's outage as caused by the
// vantage when its group's vantage is down.
func (c *core) vantageDown(t *target) {
	if c.vant.all == nil {
		return
	}
	start := t.stateChange
	roles := c.vant.roles[t.spec.Group]
	for _, r := range roles {
		s := r.s
		if r.anchor {
			s.anchorDown++
			continue
		}
		s.down++
		b := start / s.width
		s.ring.add(b, start, 1)
		if n, first := s.ring.sum(b-int64(s.rule.Window), b); n >= s.threshold() && !s.share {
			s.share, s.shareStart = true, first
		}
	}
	c.evalRoles(roles, start, start)
	if s := c.scopeOf(t); s != nil && s.isDown {
		c.markVantage(t)
	}
}

// vantageUp is called when t came up again after an outage; okStart is
// the send time of its first answered probe.
func (c *core) vantageUp(t *target, downStart, okStart int64) {
	if c.vant.all == nil {
		return
	}
	roles := c.vant.roles[t.spec.Group]
	for _, r := range roles {
		s := r.s
		if s.isDown && (s.firstOK < 0 || okStart < s.firstOK) {
			s.firstOK = okStart
		}
		if r.anchor {
			s.anchorDown--
			continue
		}
		s.down--
		s.ring.add(downStart/s.width, downStart, -1)
		if s.share && s.down < s.threshold() {
			s.share = false
		}
	}
	c.evalRoles(roles, okStart, okStart)
}

// vantageEval moves scope s to the state its rules give: start is the
// outage start to use when nothing better is known, end likewise.
func (c *core) vantageEval(s *vscope, start, end int64) {
	want := s.share || s.anchorsDown() || s.parent != nil && s.parent.isDown
	if want == s.isDown {
		return
	}
	if want {
		st := start
		switch {
		case s.parent != nil && s.parent.isDown:
			st = s.parent.start
		case s.share && !s.anchorsDown():
			st = s.shareStart
		case s.anchorsDown():
			st = -1
			for _, a := range s.anchors {
				st = max(st, a.stateChange)
			}
		}
		s.isDown, s.start, s.firstOK = true, st, -1
		s.total++
		s.last, s.hasLast = Outage{Start: c.wall(st), Ongoing: true, Resolution: time.Duration(s.width)}, true
		if c.logger != nil {
			c.logger.Info("vantage outage started", "scope", s.name(), "start", s.last.Start,
				"members", s.members, "members_down", s.down, "anchors", len(s.anchors), "anchors_down", s.anchorDown)
		}
		c.markScope(s)
		return
	}
	en := end
	if s.parent != nil && !s.parent.isDown && s.parent.hasLast && !s.parent.last.Ongoing {
		en = c.mono(s.parent.last.End)
	}
	if s.firstOK >= 0 {
		en = s.firstOK
	}
	en = max(en, s.start)
	s.isDown = false
	o := &s.last
	o.End, o.Ongoing = c.wall(en), false
	d := o.End.Sub(o.Start).Seconds()
	observeOutage(&s.dur, &s.durSum, d)
	if c.logger != nil {
		c.logger.Info("vantage outage ended", "scope", s.name(), "start", o.Start, "end", o.End, "duration_seconds", d)
	}
}

// observeOutage adds an outage of d seconds to a duration histogram
// (non-cumulative counts by OutageBuckets) and its sum.
func observeOutage(dur *[len(OutageBuckets)]uint64, sum *float64, d float64) {
	for i, b := range OutageBuckets {
		if d <= b {
			dur[i]++
			break
		}
	}
	*sum += d
}

func (c *core) mono(t time.Time) int64 { return int64(t.Sub(c.epoch)) }

func (s *vscope) name() string {
	if s.group == "" {
		return "exporter"
	}
	return "group " + s.group
}

// markScope marks the ongoing outages of a scope that just went down as
// caused by the vantage when they started at most one window before it.
func (c *core) markScope(s *vscope) {
	if s.parent == nil {
		return // every group scope follows the exporter's and marks its own
	}
	for _, t := range s.targets {
		if t.state == stateDown && t.stateChange >= s.start-s.window() {
			c.markVantage(t)
		}
	}
}

func (c *core) markVantage(t *target) {
	o := t.outages()
	if o == nil || o.cur.Cause == CauseVantage {
		return
	}
	o.cur.Cause = CauseVantage
	o.vantage++
}

// vantageSnapshot appends the state of every scope to dst.
func (c *core) vantageSnapshot(dst []VantageSnapshot) []VantageSnapshot {
	dst = dst[:0]
	for _, s := range c.vant.order {
		v := VantageSnapshot{Group: s.group, Up: !s.isDown, Members: s.members, Anchors: len(s.anchors),
			Down: s.down, OutagesTotal: s.total, OutageDurationSum: s.durSum}
		var cum uint64
		for i, n := range s.dur {
			cum += n
			v.OutageDurations[i] = cum
		}
		if s.hasLast {
			v.Last = s.last
		}
		dst = append(dst, v)
	}
	return dst
}

// Gaps: a prober that stalled (the process stopped, starved or the host
// suspended) saw nothing for a while. What it could not see is a gap, not
// an outage: probes sent before the stall ended no longer drive any
// target's up/down state machine, runs of failures or replies in progress
// start over, and an outage that a target ends after the gap ends at the
// gap's start (its Resolution covers the rest).

// wakeCheck is called by the sender once per pass with the mono time it
// planned to run at (0: none), the mono time it runs at, and
// CLOCK_BOOTTIME - CLOCK_MONOTONIC (-1 unknown; it grows by the time the
// host was suspended). It reports a gap when the pass is more than gapMin
// late, or the host was suspended that long.
func (c *core) wakeCheck(planned, now, bootOff int64) {
	v := &c.vant
	suspended := int64(0)
	if bootOff >= 0 {
		if v.bootOff >= 0 {
			suspended = bootOff - v.bootOff
		}
		v.bootOff = bootOff
	}
	late := int64(0)
	if planned > 0 {
		late = now - planned
	}
	if stall := max(late, 0) + max(suspended, 0); stall > v.gapMin {
		from := now
		if late > 0 {
			from = planned
		}
		c.gap(from, now, time.Duration(stall))
	}
}

// gap records a stall from..to (mono; equal for a suspend, which the
// monotonic clock does not count) that lasted d.
func (c *core) gap(from, to int64, d time.Duration) {
	c.stats.Gaps++
	c.stats.GapSeconds += d.Seconds()
	v := &c.vant
	if len(v.gaps) < maxGapsKept {
		v.gaps = append(v.gaps, gapSpan{from, to})
	} else {
		v.gaps[v.gapsNext] = gapSpan{from, to}
		v.gapsNext = (v.gapsNext + 1) % maxGapsKept
	}
	for _, t := range c.targets {
		t.lastFSMSend = max(t.lastFSMSend, to)
		t.failRun, t.okRun = 0, 0
	}
	if c.logger != nil {
		c.logger.Warn("prober stalled: a gap, not an outage", "start", c.wall(from), "duration_seconds", d.Seconds(),
			"targets", len(c.targets))
	}
}

// gapEnd returns the end of an outage from start to end (mono): the start
// of the first gap inside it, or end.
func (c *core) gapEnd(start, end int64) int64 {
	for _, g := range c.vant.gaps {
		if g.from > start && g.from < end {
			end = g.from
		}
	}
	return end
}

// vantageLog returns the log attribute of an outage's cause.
func vantageLog(o *Outage) slog.Attr { return slog.String("cause", o.Cause.String()) }
