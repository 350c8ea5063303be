package probe

import (
	"slices"
	"unsafe"
)

// Loss shape and delay variation of a target, from the probes it already
// sends:
//
//   - Loss runs: a run is a maximal sequence of consecutive probes (in send
//     order) that were lost; a reply or an error ends it, and its length in
//     probes goes into a histogram then. One lost probe now and then and
//     bursts of several differ here, not in the loss ratio. Results end out
//     of send order (a loss is known at its timeout, after the next probes
//     may have been answered), so probes are accounted in send order from
//     the in-flight window: a cursor follows the oldest probe not accounted
//     yet and moves on as soon as that probe has its result.
//   - IPDV (RFC 3393, RFC 5481 section 1.2): the difference of the RTTs of
//     the replies to two consecutive probes, both answered. The histogram
//     holds its magnitude |IPDV| (the native layout has positive buckets
//     only; the distribution of IPDV is symmetric around 0 over time). A
//     pair whose later reply arrived first yields its sample when the
//     earlier one arrives; pairs further apart in arrival are skipped.
//   - Jitter (RFC 3550 section 6.4.1): J += (|D| - J) / 16 with D the RTT
//     difference of two replies consecutive in arrival order, on every reply
//     after the first. It uses round-trip times where RTP uses one-way
//     transit times; a constant clock offset cancels in both.
//   - Reordering: a reply that arrives after the reply to a probe sent later
//     to the same target.
//
// All of it is updated on the packet path without allocation once the
// histograms exist: they are allocated at a target's first sample, and
// never for groups with histogram mode none.

// IPDVSchema is the native histogram schema of the IPDV histogram: buckets
// grow by 2^(1/2), about 41 %. |IPDV| spreads from the clock's resolution
// to the path's delay variation, often ten octaves and more, where the RTT
// sits in one or two: schema NativeSchema would keep 8 counters an octave
// for every target, IPDVSchema keeps 2.
const IPDVSchema = 1

// LossRunBuckets are the classic bucket bounds (in probes) of the loss run
// histogram; native buckets of schema NativeSchema hold every run length up
// to 10 in a bucket of its own.
var LossRunBuckets = []float64{1, 2, 3, 4, 5, 10, 20, 50, 100, 1000}

// shapeState is the loss-shape state of a target: 56 bytes inline, plus
// shapeHists once the target has a sample.
type shapeState struct {
	next      int32   // ring index of the oldest probe not yet accounted in send order
	run       uint32  // lost probes of the current run
	acc       int64   // send time + 1 of the last probe accounted; 0 before any
	maxSend   int64   // send time of the newest-sent probe answered (valid once replies > 0)
	maxRTT    int64   // its RTT, ns
	jitter    float64 // RFC 3550 J, seconds
	reordered uint64
	h         *shapeHists
}

// shapeHists are a target's |IPDV| and loss run histograms, laid out for
// the spec they were built for. runs is allocated at the first completed
// run: many targets never lose a probe.
type shapeHists struct {
	spec *TargetSpec
	ipdv hist  // |IPDV| in seconds, classic bounds those of the RTT histogram
	runs *hist // run lengths in probes, classic bounds LossRunBuckets
}

// hists returns t's histograms, allocating them at the first sample and
// laying them out again after a reload changed the histogram spec; nil for
// mode none.
func (t *target) hists() *shapeHists {
	h := t.shape.h
	if h != nil && h.spec == t.spec {
		return h
	}
	if t.spec.Histogram.Mode == HistogramNone {
		return nil
	}
	if h == nil {
		h = &shapeHists{ipdv: newHist(t.spec.Histogram)}
		t.shape.h = h
	} else if h.spec == nil || h.spec.Histogram.Mode != t.spec.Histogram.Mode ||
		!slices.Equal(h.spec.Histogram.Buckets, t.spec.Histogram.Buckets) {
		h.ipdv.relayout(t.spec.Histogram)
		if h.runs != nil {
			h.runs.relayout(lossRunSpec(t.spec.Histogram))
		}
	}
	h.spec = t.spec
	return h
}

func lossRunSpec(h HistogramSpec) HistogramSpec {
	h.Buckets = LossRunBuckets
	return h
}

// relayout gives h the classic layout of spec: classic counts restart,
// native buckets, count and sum stay.
func (h *hist) relayout(spec HistogramSpec) {
	fresh := newHist(spec)
	fresh.count, fresh.sum, fresh.zero, fresh.offset, fresh.buckets = h.count, h.sum, h.zero, h.offset, h.buckets
	*h = fresh
}

// shapeReply notes the reply to probe s of t with its RTT, before t.replies
// and t.lastRTT count it; s is already marked replied.
func (c *core) shapeReply(t *target, s *slot, rtt int64) {
	sh := &t.shape
	if t.replies > 0 {
		d := rtt - t.lastRTT
		sh.jitter += (float64(abs(d))/1e9 - sh.jitter) / 16
		i, n := t.slotOf(s), len(t.window)
		if s.sendMono < sh.maxSend {
			sh.reordered++
			// The next probe was answered first: its IPDV is known now.
			if nx := &t.window[(i+1)%n]; nx.state == slotReplied && nx.sendMono == sh.maxSend {
				t.observeIPDV(sh.maxRTT - rtt)
			}
		} else if pv := &t.window[(i+n-1)%n]; pv.state == slotReplied && pv.sendMono == sh.maxSend {
			t.observeIPDV(rtt - sh.maxRTT)
		}
	}
	if t.replies == 0 || s.sendMono >= sh.maxSend {
		sh.maxSend, sh.maxRTT = s.sendMono, rtt
	}
	c.shapeAdvance(t)
}

// slotOf is the ring index of s, an element of t.window, from its address:
// the neighbours of a probe in send order are the slots next to it, and the
// caller found s already (a second binary search would cost more than the
// rest of the loss shape's work).
func (t *target) slotOf(s *slot) int {
	return int((uintptr(unsafe.Pointer(s)) - uintptr(unsafe.Pointer(&t.window[0]))) / unsafe.Sizeof(slot{}))
}

func (t *target) observeIPDV(d int64) {
	if h := t.hists(); h != nil {
		h.ipdv.observeAt(float64(abs(d))/1e9, NativeSchema-IPDVSchema)
	}
}

// shapeAdvance accounts the probes of t that have their result, oldest
// first, up to the first one still in flight. Every result calls it, so the
// probe at the cursor is in flight (or none is pending) between calls, and
// collect fails a probe in flight before it reuses its slot: no probe is
// overwritten before it was accounted.
func (c *core) shapeAdvance(t *target) {
	sh := &t.shape
	n := len(t.window)
	for range n {
		s := &t.window[sh.next]
		if s.state == slotFree || s.state == slotOut || s.sendMono < sh.acc {
			return
		}
		sh.acc = s.sendMono + 1
		sh.next = int32((int(sh.next) + 1) % n)
		if s.state == slotLost {
			sh.run++
			continue
		}
		if sh.run > 0 {
			if h := t.hists(); h != nil {
				if h.runs == nil {
					r := newHist(lossRunSpec(t.spec.Histogram))
					h.runs = &r
				}
				h.runs.observe(float64(sh.run))
			}
			sh.run = 0
		}
	}
}

func abs(d int64) int64 {
	if d < 0 {
		return -d
	}
	return d
}

// copyHist copies t's histogram of kind k into dst, reusing dst's slices.
func (t *target) copyHist(k HistKind, dst *Histogram) {
	if k == HistRTT {
		t.rtt.copyTo(dst)
		return
	}
	var h *shapeHists
	if t.shape.h != nil {
		h = t.hists() // laid out again if a reload changed the mode; nil for none
	}
	// Without a histogram: empty, laid out like the RTT histogram.
	if k == HistIPDV {
		if h == nil {
			dst.reset(t.rtt.classicBounds())
		} else {
			h.ipdv.copyTo(dst)
		}
		return
	}
	if h == nil || h.runs == nil {
		var runBounds []float64
		if t.rtt.cl != nil {
			runBounds = LossRunBuckets
		}
		dst.reset(runBounds)
	} else {
		h.runs.copyTo(dst)
	}
}

// reset empties h with classic bounds (zero counts), keeping its slices'
// memory.
func (h *Histogram) reset(bounds []float64) {
	*h = Histogram{Buckets: h.Buckets[:0], Classic: h.Classic[:0], Bounds: bounds}
	for range bounds {
		h.Classic = append(h.Classic, 0)
	}
}
