package history

import (
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// counts are the probes that ended in some time span and the RTT quantiles
// of those answered.
type counts struct {
	n, failed uint64
	q         [3]uint8
}

func (c counts) bucket() bucket {
	return bucket{n: encodeCount(c.n), loss: encodeLoss(c.failed, c.n), q: c.q}
}

func failedOf(t *probe.TargetSnapshot) uint64 {
	f := t.Lost
	for _, e := range t.ErrorCounts().ByType {
		f += e
	}
	return f
}

// delta is what t ended since the series' previous snapshot. A target whose
// counters went back (its state was reset) counts from zero.
func (sr *series) delta(t *probe.TargetSnapshot) counts {
	failed := failedOf(t)
	if t.Replies < sr.replies || failed < sr.failed {
		var zero series
		return zero.delta(t)
	}
	c := counts{n: t.Replies - sr.replies + failed - sr.failed, failed: failed - sr.failed}
	h := t.Hist(probe.HistRTT)
	prev := func(i int) uint32 {
		if j := i - int(sr.hoff); j >= 0 && j < len(sr.hist) {
			return sr.hist[j]
		}
		return 0
	}
	cur := func(i int) uint32 {
		if j := i - int(h.Offset); j >= 0 && j < len(h.Buckets) {
			return uint32(h.Buckets[j])
		}
		return 0
	}
	lo, hi := int(h.Offset), int(h.Offset)+len(h.Buckets)
	if len(sr.hist) > 0 {
		lo, hi = min(lo, int(sr.hoff)), max(hi, int(sr.hoff)+len(sr.hist))
	}
	zero := uint64(uint32(h.ZeroCount) - sr.zero)
	var idx [len(Quantiles)]int
	if quantiles(zero, lo, hi, func(i int) uint64 { return uint64(cur(i) - prev(i)) }, Quantiles[:], idx[:]) {
		for k, i := range idx {
			c.q[k] = indexCode(i)
		}
	}
	return c
}

// quantiles sets out[k] to the native index of the bucket that holds the
// qs[k] quantile (qs ascending) of a histogram with zero observations in
// the zero bucket (index minIndex) and count(i) in bucket i for i in
// [lo, hi). It returns false, leaving out alone, when the histogram is
// empty.
func quantiles(zero uint64, lo, hi int, count func(i int) uint64, qs []float64, out []int) bool {
	total := zero
	for i := lo; i < hi; i++ {
		total += count(i)
	}
	if total == 0 {
		return false
	}
	cum, k := zero, 0
	for ; k < len(qs) && cum > 0 && float64(cum) >= qs[k]*float64(total); k++ {
		out[k] = minIndex
	}
	for i := lo; i < hi && k < len(qs); i++ {
		cum += count(i)
		for ; k < len(qs) && cum > 0 && float64(cum) >= qs[k]*float64(total); k++ {
			out[k] = i
		}
	}
	return true
}

// advance makes t the base of the next delta, reusing the series' buffer.
func (sr *series) advance(t *probe.TargetSnapshot) {
	sr.replies, sr.failed = t.Replies, failedOf(t)
	h := t.Hist(probe.HistRTT)
	sr.zero = uint32(h.ZeroCount)
	sr.hoff = h.Offset
	if cap(sr.hist) < len(h.Buckets) {
		sr.hist = make([]uint32, len(h.Buckets))
	}
	sr.hist = sr.hist[:len(h.Buckets)]
	for i, v := range h.Buckets {
		sr.hist[i] = uint32(v)
	}
}

// Point is one time bucket of a target, decoded.
type Point struct {
	Start time.Time
	// Probes ended in the bucket (replies, lost and ICMP errors); exact up
	// to 31, within 3% above.
	Probes int
	// Failed probes (lost or ICMP error); exact while Probes <= 250.
	Failed int
	// RTT holds the Quantiles in seconds, each the middle of its native
	// histogram bucket (within 4.5%); 0 when nothing was answered.
	RTT [3]float64
	// Partial marks the running bucket (counts so far).
	Partial bool
}

// Loss is Failed/Probes, 0 for an empty bucket.
func (p Point) Loss() float64 {
	if p.Probes == 0 {
		return 0
	}
	return float64(p.Failed) / float64(p.Probes)
}

func (b bucket) counts() counts {
	n := decodeCount(b.n)
	c := counts{n: n, failed: decodeFailed(b.loss, n), q: b.q}
	if b.loss > 0 && c.failed == 0 {
		c.failed = 1
	}
	return c
}

func (c counts) point(start time.Time, partial bool) Point {
	p := Point{Start: start, Probes: int(c.n), Failed: int(c.failed), Partial: partial}
	for k, q := range c.q {
		p.RTT[k] = codeValue(q)
	}
	return p
}

// HistogramQuantile is the q-quantile (0 < q <= 1) of a cumulative RTT
// histogram in seconds, at the resolution of Point.RTT; 0 when it is empty.
func HistogramQuantile(h *probe.Histogram, q float64) float64 {
	var idx [1]int
	if !quantiles(h.ZeroCount, int(h.Offset), int(h.Offset)+len(h.Buckets),
		func(i int) uint64 { return h.Buckets[i-int(h.Offset)] }, []float64{q}, idx[:]) {
		return 0
	}
	return codeValue(indexCode(idx[0]))
}
