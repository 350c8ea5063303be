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
	removed  bool
	nextSame *target // next target with the same ip (byAddr chain)

	due     int64 // next send, ns since epoch
	heapIdx int   // position in the schedule heap, -1 when not scheduled

	window []slot
	wpos   int

	sent, replies, lost, late, dups, skipped uint64
	errors                                   [NumErrorTypes]uint64
	dnsErrors                                uint64
	lastTTL                                  int
	lastRTT                                  int64
	rtt                                      hist

	state       int8
	failRun     int
	okRun       int
	failStart   int64 // send time (mono) of the first failed probe of the current run
	okStart     int64 // send time (mono) of the first answered probe of the current run
	stateChange int64 // mono
	lastFSMSend int64 // send time of the newest probe whose result drove the FSM

	// out is allocated at the target's first outage: most targets never
	// have one, and it is a third of the per-target state.
	out *outageState
}

// outageState is the outage record of a target that had an outage.
type outageState struct {
	total    uint64
	dur      [len(OutageBuckets)]uint64 // non-cumulative
	durSum   float64
	history  []Outage // ring of completed outages, cap spec.OutageHistory
	histNext int
	cur      Outage // ongoing outage while state == stateDown
}

// windowSize is the in-flight window of a target: room for every probe in
// flight until its timeout, the grace and the longest wait for a receiver
// that fell behind (maxExpiryDelay); a power of two from 4 to 64.
func windowSize(spec *TargetSpec) int {
	w := 4
	if spec.Interval > 0 {
		for w < 64 && time.Duration(w-2)*spec.Interval < spec.Timeout+spec.Timeout/8+time.Duration(maxExpiryDelay) {
			w *= 2
		}
	}
	return w
}

func newTarget(spec *TargetSpec) *target {
	return &target{
		spec:    spec,
		ip:      spec.Addr,
		heapIdx: -1,
		window:  make([]slot, windowSize(spec)),
		lastTTL: -1,
		rtt:     newHist(spec.Histogram),
	}
}

// respec gives t, kept across a reload (same Key), its new spec while it
// keeps its counters, histograms, state and outages. The target object
// itself stays, so deadlines already queued for its probes stay valid.
func (t *target) respec(spec *TargetSpec) {
	old := t.spec
	t.spec = spec
	t.removed = false
	t.nextSame = nil
	t.heapIdx = -1
	if spec.Histogram.Mode != old.Histogram.Mode || !slices.Equal(spec.Histogram.Buckets, old.Histogram.Buckets) {
		// bucket layout changed: classic counts restart, native buckets stay.
		fresh := newHist(spec.Histogram)
		fresh.count, fresh.sum, fresh.zero, fresh.offset, fresh.buckets = t.rtt.count, t.rtt.sum, t.rtt.zero, t.rtt.offset, t.rtt.buckets
		t.rtt = fresh
	}
	if n := windowSize(spec); n != len(t.window) {
		w := make([]slot, n)
		k := 0
		for _, s := range t.window { // keep the probes still in flight
			if s.state == slotOut && k < n {
				w[k] = s
				k++
			}
		}
		t.window, t.wpos = w, k%n
	}
	if spec.Host == "" {
		t.ip = spec.Addr
	}
}

func (t *target) findSlot(serial uint32) *slot {
	for i := range t.window {
		if s := &t.window[i]; s.serial == serial && s.state != slotFree {
			return s
		}
	}
	return nil
}

// copyTo fills dst with t's state, reusing dst's slices.
func (t *target) copyTo(dst *TargetSnapshot, epoch time.Time) {
	dst.Spec = t.spec
	dst.IP = t.ip
	dst.Up = t.state == stateUp
	dst.StateChange = epoch.Add(time.Duration(t.stateChange))
	dst.Sent, dst.Replies, dst.Lost, dst.Late = t.sent, t.replies, t.lost, t.late
	dst.Duplicates, dst.Skipped, dst.Errors, dst.DNSErrors = t.dups, t.skipped, t.errors, t.dnsErrors
	dst.LastTTL, dst.LastRTT = t.lastTTL, time.Duration(t.lastRTT)
	t.rtt.copyTo(&dst.RTT)
	dst.Outages = dst.Outages[:0]
	o := t.out
	if o == nil {
		dst.OutagesTotal, dst.OutageDurations, dst.OutageDurationSum = 0, [len(OutageBuckets)]uint64{}, 0
		return
	}
	dst.OutagesTotal = o.total
	var cum uint64
	for i, c := range o.dur {
		cum += c
		dst.OutageDurations[i] = cum
	}
	dst.OutageDurationSum = o.durSum
	n := len(o.history)
	for i := range n {
		dst.Outages = append(dst.Outages, o.history[(o.histNext+i)%n])
	}
	if t.state == stateDown {
		dst.Outages = append(dst.Outages, o.cur)
	}
}
