package probe

import (
	"net/netip"
	"slices"
	"time"
)

type slotState uint8

const (
	slotFree slotState = iota
	slotOut            // sent, waiting for a reply
	slotReplied
	slotLost
	slotError
)

// slot is one probe in a target's in-flight window.
type slot struct {
	serial   uint32
	state    slotState
	sendMono int64 // ns since the engine epoch (schedule, timeouts, userspace RTT)
	sendWall int64 // Unix ns read just before the send batch (kernel_rx RTT)
	txStamp  int64 // kernel TX stamp, Unix ns; 0 when none
}

// fsm states of a target.
const (
	stateUnknown int8 = iota
	stateUp
	stateDown
)

// target is the engine-side state of one TargetSpec. All fields are guarded
// by Engine.mu and written only by the engine's goroutines.
type target struct {
	spec     *TargetSpec
	ip       netip.Addr
	nextSame *target // next target with the same ip (byAddr chain)

	due       int64  // next send, ns since epoch
	schedGen  uint32 // generation of its schedule heap entry (schedHeap)
	scheduled bool   // in the schedule heap
	removed   bool
	state     int8

	window  []slot
	wpos    int32
	lastTTL int32

	sent, replies, lost, skipped uint64
	// rare is allocated at the target's first error, late or duplicate
	// reply, outage or path snapshot, or when a reload adds it: most
	// targets never need it.
	rare    *targetRare
	lastRTT int64
	rtt     hist

	failRun     int32
	okRun       int32
	failStart   int64 // send time (mono) of the first failed probe of the current run
	okStart     int64 // send time (mono) of the first answered probe of the current run
	stateChange int64 // mono
	lastFSMSend int64 // send time of the newest probe whose result drove the FSM
	// failPrevSend and okPrevSend are the send times of the probes sent
	// just before failStart and okStart (-1 when unknown): the true start
	// of an outage lies after failPrevSend, its true end after okPrevSend
	// (see Outage.Resolution). They are read off the window when a run
	// starts, because with a timeout longer than the interval the probes
	// around an edge end out of send order.
	failPrevSend, okPrevSend int64

	shape shapeState // loss runs, IPDV, jitter, reordering (lossshape.go)
}

// targetRare is the part of a target's state that most targets never
// need; apart it keeps a target within 320 bytes.
type targetRare struct {
	byType     [NumErrorTypes]uint64 // errors
	dns        uint64                // failed resolutions of its host name
	late, dups uint64                // late and duplicate replies
	// created is the mono time a reload added the target (its key new); 0
	// for a target of the engine start.
	created int64
	// out is the outage record, from the target's first outage.
	out *outageState
	// path is allocated with the target's first path snapshot (path_engine.go).
	path *pathTarget
}

// extra returns t's rare state, allocating it on first use.
func (t *target) extra() *targetRare {
	if t.rare == nil {
		t.rare = new(targetRare)
	}
	return t.rare
}

// outages returns t's outage record; nil before its first outage.
func (t *target) outages() *outageState {
	if t.rare == nil {
		return nil
	}
	return t.rare.out
}

// paths returns t's path state; nil before its first path snapshot.
func (t *target) paths() *pathTarget {
	if t.rare == nil {
		return nil
	}
	return t.rare.path
}

// outageState is the outage record of a target that had an outage.
type outageState struct {
	total    uint64
	dur      [len(OutageBuckets)]uint64 // non-cumulative
	durSum   float64
	history  []Outage // ring of completed outages, cap spec.OutageHistory
	histNext int
	cur      Outage        // ongoing outage while state == stateDown
	res      time.Duration // Resolution of the last outage
	vantage  uint64        // outages caused by the vantage (vantage.go)
}

// windowSize is the in-flight window of a target: room for every probe in
// flight until its timeout, the grace and the longest wait for a receiver
// that fell behind (maxExpiryDelay), at least 4. Spec validation keeps it at
// most MaxWindow (TimeoutLimit). The window is allocated when the target is
// created or its timing changes, never per probe.
func windowSize(spec *TargetSpec) int {
	if spec.Interval <= 0 {
		return 4
	}
	need := spec.Timeout + spec.Timeout/8 + time.Duration(maxExpiryDelay)
	return max(4, int((need+spec.Interval-1)/spec.Interval)+2)
}

// MaxWindow is the most probes one target may have in flight (32 bytes
// each): TimeoutLimit keeps every accepted timeout within it.
const MaxWindow = 4096

// TimeoutLimit is the longest timeout accepted for a target probed every
// interval: at most 10 intervals or 1 minute, whichever is longer, and no
// more than the in-flight window holds (MaxWindow probes, see windowSize).
func TimeoutLimit(interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	lim := max(10*interval, time.Minute)
	// (MaxWindow-2) intervals must cover timeout*9/8 + maxExpiryDelay.
	room := time.Duration(MaxWindow-2)*interval - time.Duration(maxExpiryDelay)
	if room <= 0 {
		return 0
	}
	lim = min(lim, room/9*8).Truncate(time.Millisecond)
	for lim > 0 && windowSize(&TargetSpec{Interval: interval, Timeout: lim}) > MaxWindow {
		lim -= time.Millisecond
	}
	return lim
}

func newTarget(spec *TargetSpec) *target {
	return &target{
		spec:         spec,
		ip:           spec.Addr,
		window:       make([]slot, windowSize(spec)),
		lastTTL:      -1,
		failPrevSend: -1, okPrevSend: -1,
		rtt: newHist(spec.Histogram),
	}
}

// respec gives t, kept across a reload (same Key), its new spec while it
// keeps its counters, histograms, state and outages. The target object
// itself stays, so deadlines already queued for its probes stay valid, and
// so does its place in the schedule heap and the address index (the Key
// fixes its address).
func (t *target) respec(spec *TargetSpec) {
	old := t.spec
	t.spec = spec
	t.removed = false
	if spec.Histogram.Mode != old.Histogram.Mode || !slices.Equal(spec.Histogram.Buckets, old.Histogram.Buckets) {
		// bucket layout changed: classic counts restart, native buckets stay.
		t.rtt.relayout(spec.Histogram)
	}
	if n := windowSize(spec); n != len(t.window) {
		// Keep every probe still in flight, in send order (findSlot relies
		// on it): a window that shrinks below them grows to hold them, so
		// each still ends as exactly one of reply, loss or error. Probes
		// that already ended stay too while there is room, newest first: a
		// duplicate of a reply that came just before the reload is still
		// a duplicate, not a late reply.
		var keep []slot
		for i := range t.window {
			if s := t.window[(int(t.wpos)+i)%len(t.window)]; s.state != slotFree {
				keep = append(keep, s)
			}
		}
		for len(keep) > n-1 && keep[0].state != slotOut {
			keep = keep[1:]
		}
		w := make([]slot, max(n, len(keep)+1))
		copy(w, keep)
		t.window, t.wpos = w, int32(len(keep))
		// The loss shape's cursor: the oldest kept probe it has not
		// accounted yet, or the next slot to be sent when it has them all.
		t.shape.next = int32(len(keep))
		for i := range keep {
			if keep[i].sendMono >= t.shape.acc {
				t.shape.next = int32(i)
				break
			}
		}
	}
	if spec.Host == "" {
		t.ip = spec.Addr
	}
}

// sendBefore returns the send time of the newest probe in the window sent
// before mono, or -1. It scans the window: call it on state edges only.
func (t *target) sendBefore(mono int64) int64 {
	best := int64(-1)
	for i := range t.window {
		if s := &t.window[i]; s.state != slotFree && s.sendMono < mono && s.sendMono > best {
			best = s.sendMono
		}
	}
	return best
}

// findSlot returns the slot of the probe with serial, or nil. Slots are
// written in send order around the ring from wpos (the oldest) and serials
// grow with every send (modulo 2^32, compared as a signed difference), so
// a binary search finds it; never-used slots sort first.
func (t *target) findSlot(serial uint32) *slot {
	n := len(t.window)
	lo, hi := 0, n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		s := &t.window[(int(t.wpos)+mid)%n]
		if s.state == slotFree || int32(s.serial-serial) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < n {
		if s := &t.window[(int(t.wpos)+lo)%n]; s.serial == serial && s.state != slotFree {
			return s
		}
	}
	return nil
}

// copyTo fills dst with t's state, reusing dst's slices; with hists false
// it leaves dst's histograms nil (a deferred snapshot).
func (t *target) copyTo(dst *TargetSnapshot, epoch time.Time, hists bool) {
	dst.Spec = t.spec
	dst.IP = t.ip
	dst.Up = t.state == stateUp
	dst.StateChange = epoch.Add(time.Duration(t.stateChange))
	dst.Sent, dst.Replies, dst.Lost, dst.Skipped = t.sent, t.replies, t.lost, t.skipped
	r := t.rare
	var created int64
	dst.Late, dst.Duplicates = 0, 0
	if r != nil {
		created, dst.Late, dst.Duplicates = r.created, r.late, r.dups
	}
	dst.Created = epoch.Add(time.Duration(created))
	if r == nil || r.byType == [NumErrorTypes]uint64{} && r.dns == 0 {
		dst.Errs = nil
	} else {
		if dst.Errs == nil {
			dst.Errs = new(ErrorCounts)
		}
		*dst.Errs = ErrorCounts{ByType: r.byType, DNS: r.dns}
	}
	dst.LastTTL, dst.LastRTT = int(t.lastTTL), time.Duration(t.lastRTT)
	dst.Jitter, dst.Reordered = t.shape.jitter, t.shape.reordered
	if hists {
		for k := range numHistKinds {
			h := dst.histField(k)
			if *h == nil {
				*h = new(Histogram)
			}
			t.copyHist(k, *h)
		}
	} else {
		dst.RTT, dst.IPDV, dst.LossRuns = nil, nil, nil
	}
	t.copyPath(dst)
	o := t.outages()
	if o == nil {
		dst.Outs = nil
		return
	}
	if dst.Outs == nil {
		dst.Outs = new(OutageRecord)
	}
	rec := dst.Outs
	rec.Resolution, rec.Total, rec.Vantage = o.res, o.total, o.vantage
	var cum uint64
	for i, c := range o.dur {
		cum += c
		rec.Durations[i] = cum
	}
	rec.DurationSum = o.durSum
	rec.Recent = rec.Recent[:0]
	n := len(o.history)
	for i := range n {
		rec.Recent = append(rec.Recent, o.history[(o.histNext+i)%n])
	}
	if t.state == stateDown {
		rec.Recent = append(rec.Recent, o.cur)
	}
}

// OutageResolution is the bound on the error of the target's outage start
// and end times: the Resolution of its outage record, or the probing
// interval before any outage (or in a snapshot built by hand).
func (t *TargetSnapshot) OutageResolution() time.Duration {
	if r := t.OutageRecord().Resolution; r > 0 {
		return r
	}
	return t.Spec.Interval
}
