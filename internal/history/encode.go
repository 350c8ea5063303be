package history

import (
	"math"
	"math/bits"
)

// Quantiles are the RTT quantiles kept per bucket, in the order of
// Point.RTT: the lower edge of the smoke, the median, the upper edge.
var Quantiles = [3]float64{0.1, 0.5, 0.9}

// Native histogram index range of the stored quantiles. It matches the
// engine's (probe's RTT histograms clamp to about 1 µs .. 64 s): an index i
// is stored as the code i-minIndex+1, and 0 means "no reply in the bucket".
const (
	minIndex = -160 // 2^(-160/8) s ≈ 0.95 µs
	maxIndex = 48   // 2^(48/8) s = 64 s
)

// bucket is one time bucket of one target: 5 bytes, no pointers, so that a
// target's ring of 180 buckets (3 h of minutes) takes 900 bytes.
type bucket struct {
	n    uint8    // probes that ended in the bucket (reply, lost or error), encodeCount
	loss uint8    // failed/n in steps of 1/lossSteps, at least 1 when any failed
	q    [3]uint8 // Quantiles as native bucket codes; 0 = none
}

// lossSteps is the resolution of bucket.loss. Failed counts decode exactly
// while a bucket holds at most lossSteps probes (one probe per 240 ms or
// slower with one-minute buckets).
const lossSteps = 250

// encodeCount packs v into a byte: a floating point number with a 4-bit
// exponent and a 4-bit mantissa. 0..31 are exact; above, the relative error
// is at most 1/32; the largest value is 31<<14 = 507904.
func encodeCount(v uint64) uint8 {
	if v < 32 {
		return uint8(v)
	}
	e := bits.Len64(v) - 5 // v>>e has 5 bits: 16..31
	m := (v + 1<<(e-1)) >> e
	if m == 32 { // rounding carried into the next power of two
		m, e = 16, e+1
	}
	if e > 14 {
		return 0xff
	}
	return uint8((e+1)<<4 | int(m-16))
}

// decodeCount is the inverse of encodeCount.
func decodeCount(c uint8) uint64 {
	e, m := int(c>>4), uint64(c&0xf)
	if e <= 1 {
		return uint64(c)
	}
	return (16 + m) << (e - 1)
}

// encodeLoss is failed/n in lossSteps, never 0 when failed > 0 and never
// lossSteps unless every probe failed.
func encodeLoss(failed, n uint64) uint8 {
	if n == 0 || failed == 0 {
		return 0
	}
	if failed >= n {
		return lossSteps
	}
	v := (failed*lossSteps + n/2) / n
	return uint8(min(max(v, 1), lossSteps-1))
}

// decodeFailed is the number of failed probes out of n for a loss code.
func decodeFailed(loss uint8, n uint64) uint64 {
	return (uint64(loss)*n + lossSteps/2) / lossSteps
}

// codeValue is the RTT in seconds a quantile code stands for: the
// geometric middle of its native bucket 2^((i-1)/8) .. 2^(i/8), within 4.5%
// of every value in the bucket. Code 0 is 0.
func codeValue(c uint8) float64 {
	if c == 0 {
		return 0
	}
	i := int(c) - 1 + minIndex
	return math.Exp2((float64(i) - 0.5) / 8)
}

func indexCode(i int) uint8 {
	return uint8(min(max(i, minIndex), maxIndex) - minIndex + 1)
}
