package probe

import "math"

// Native bucket index limits of RTT histograms: about 1 µs to 64 s. Values
// outside are clamped into the first or last bucket so that one target's
// histogram never holds more than maxBuckets counters.
const (
	minBucketIndex = -160 // 2^(-160/8) s ≈ 0.95 µs
	maxBucketIndex = 48   // 2^(48/8) s = 64 s
	maxBuckets     = maxBucketIndex - minBucketIndex + 1
)

// schemaBounds are the fractions 2^(j/8)/2 for j in [0,8): the upper bounds
// of the 8 native buckets inside one power of two, for math.Frexp fractions.
var schemaBounds = func() [8]float64 {
	var b [8]float64
	for j := range b {
		b[j] = math.Exp2(float64(j)/8) / 2
	}
	return b
}()

// nativeIndex returns the schema-3 native histogram bucket index of v > 0:
// bucket i holds 2^((i-1)/8) < v <= 2^(i/8), as in Prometheus.
func nativeIndex(v float64) int {
	frac, exp := math.Frexp(v)
	j := 0
	for j < 8 && schemaBounds[j] < frac {
		j++
	}
	return j + (exp-1)*8
}

// hist is the engine-side RTT histogram of one target: a dense window of
// native buckets that grows only when an RTT outside the range seen so far
// arrives (so steady state does not allocate), and classic counts when the
// target's mode needs them. Owned by the engine; guarded by Engine.mu.
type hist struct {
	count, zero uint64
	sum         float64
	offset      int32
	buckets     []uint64
	cl          *classicCounts // classic buckets; nil unless the mode needs them (most targets do not)
}

// classicCounts are the classic buckets of a hist.
type classicCounts struct {
	counts []uint64 // non-cumulative, len(bounds)
	bounds []float64
}

func newHist(h HistogramSpec) hist {
	var out hist
	if h.NeedsClassic() {
		b := h.Buckets
		if len(b) == 0 {
			b = DefaultClassicBuckets
		}
		out.cl = &classicCounts{counts: make([]uint64, len(b)), bounds: b}
	}
	return out
}

// classicBounds returns the classic bucket bounds of h; nil without.
func (h *hist) classicBounds() []float64 {
	if h.cl == nil {
		return nil
	}
	return h.cl.bounds
}

func (h *hist) observe(v float64) { h.observeAt(v, 0) }

// observeAt observes v into native buckets of schema NativeSchema-shift:
// fewer, wider buckets (each 2^shift schema-3 buckets) for values that
// spread over many octaves.
func (h *hist) observeAt(v float64, shift uint) {
	h.count++
	h.sum += v
	if cl := h.cl; cl != nil {
		for i, b := range cl.bounds {
			if v <= b {
				cl.counts[i]++
				break
			}
		}
	}
	if v <= NativeZeroThreshold {
		h.zero++
		return
	}
	idx := min(max(nativeIndex(v), minBucketIndex), maxBucketIndex)
	idx = (idx-1)>>shift + 1 // Prometheus' downscaling: bucket ceil(idx/2^shift)
	if len(h.buckets) == 0 {
		h.offset = int32(idx)
		h.buckets = make([]uint64, 1, 4)
	}
	// The window grows to reach the new bucket, with 2 spare at its top,
	// not by doubling: RTTs settle within a few dozen buckets, and 100k
	// targets' worth of unused capacity is megabytes.
	lo, hi := int(h.offset), int(h.offset)+len(h.buckets)-1
	switch {
	case idx < lo:
		nb := make([]uint64, hi-idx+1, hi-idx+3)
		copy(nb[lo-idx:], h.buckets)
		h.buckets, h.offset = nb, int32(idx)
	case idx > hi && idx-lo < cap(h.buckets):
		h.buckets = h.buckets[:idx-lo+1]
	case idx > hi:
		nb := make([]uint64, idx-lo+1, idx-lo+3)
		copy(nb, h.buckets)
		h.buckets = nb
	}
	h.buckets[idx-int(h.offset)]++
}

// copyTo fills dst, reusing its slices.
func (h *hist) copyTo(dst *Histogram) {
	dst.Count, dst.Sum, dst.ZeroCount, dst.Offset = h.count, h.sum, h.zero, h.offset
	dst.Buckets = append(dst.Buckets[:0], h.buckets...)
	dst.Bounds = h.classicBounds()
	dst.Classic = dst.Classic[:0]
	if h.cl == nil {
		return
	}
	var cum uint64
	for _, c := range h.cl.counts {
		cum += c
		dst.Classic = append(dst.Classic, cum)
	}
}
