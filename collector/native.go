package collector

// span is a run of native histogram buckets: offset is the gap in bucket
// indices before it (from index 0 for the first span, else from the end of
// the previous span), length the number of buckets.
type span struct {
	offset int32
	length uint32
}

// nativeLayout appends the positive spans and deltas of the native buckets
// (buckets[i] counts index offset+i) laid out like client_golang: a gap of
// one or two empty buckets becomes zero deltas inside a span, a longer gap
// starts a new span.
func nativeLayout(spans []span, deltas []int64, offset int32, buckets []uint64) ([]span, []int64) {
	var prev int64
	next, first := 0, true
	for i, c := range buckets {
		if c == 0 {
			continue
		}
		idx := int(offset) + i
		if gap := idx - next; first || gap > 2 {
			spans = append(spans, span{offset: int32(gap)})
		} else {
			for range gap {
				deltas = append(deltas, -prev)
				prev = 0
				spans[len(spans)-1].length++
			}
		}
		deltas = append(deltas, int64(c)-prev)
		prev = int64(c)
		spans[len(spans)-1].length++
		next, first = idx+1, false
	}
	return spans, deltas
}
