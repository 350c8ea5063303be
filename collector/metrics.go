package collector

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The metric types below implement prometheus.Metric over values carved from
// a per-scrape arena. Write only stores pointers to the element's own fields
// (set up before the metric is sent), so it is cheap, idempotent and does
// not allocate; the registry may keep the written dto.Metric as long as it
// likes because the arena is never reused.

type counterMetric struct {
	desc    *prometheus.Desc
	labels  []*dto.LabelPair
	value   float64
	created timestamppb.Timestamp
	dto     dto.Counter
}

func (m *counterMetric) Desc() *prometheus.Desc { return m.desc }

func (m *counterMetric) Write(out *dto.Metric) error {
	out.Label = m.labels
	out.Counter = &m.dto
	return nil
}

type gaugeMetric struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	value  float64
	dto    dto.Gauge
}

func (m *gaugeMetric) Desc() *prometheus.Desc { return m.desc }

func (m *gaugeMetric) Write(out *dto.Metric) error {
	out.Label = m.labels
	out.Gauge = &m.dto
	return nil
}

type histMetric struct {
	desc      *prometheus.Desc
	labels    []*dto.LabelPair
	count     uint64
	sum       float64
	zeroCount uint64
	created   timestamppb.Timestamp
	dto       dto.Histogram
}

func (m *histMetric) Desc() *prometheus.Desc { return m.desc }

func (m *histMetric) Write(out *dto.Metric) error {
	out.Label = m.labels
	out.Histogram = &m.dto
	return nil
}

// bucketBox is a classic bucket and its cumulative count.
type bucketBox struct {
	cum uint64
	b   dto.Bucket
}

// spanBox is a native histogram span and its offset and length.
type spanBox struct {
	offset int32
	length uint32
	s      dto.BucketSpan
}

// chunk sizes of the arena, in elements.
const (
	metricChunk = 4096
	smallChunk  = 16384
)

// arena hands out the values of one scrape. Elements are carved from chunks
// that are never reallocated, so pointers to them stay valid; a new arena is
// used for every scrape.
type arena struct {
	counters   []counterMetric
	gauges     []gaugeMetric
	hists      []histMetric
	buckets    []bucketBox
	bucketPtrs []*dto.Bucket
	spans      []spanBox
	spanPtrs   []*dto.BucketSpan
	deltas     []int64
	// spanTmp and deltaTmp hold the layout of the histogram being built.
	spanTmp  []span
	deltaTmp []int64
}

// carve returns n fresh elements from *chunk (capacity n, so appends cannot
// run into the next carving), allocating a new chunk of max(n, size)
// elements when the current one is too small.
func carve[T any](chunk *[]T, n, size int) []T {
	if len(*chunk) < n {
		*chunk = make([]T, max(n, size))
	}
	s := (*chunk)[:n:n]
	*chunk = (*chunk)[n:]
	return s
}

// counter returns a counter metric; created is its created timestamp (none
// when zero).
func (a *arena) counter(d *prometheus.Desc, labels []*dto.LabelPair, v float64, created time.Time) *counterMetric {
	m := &carve(&a.counters, 1, metricChunk)[0]
	m.desc, m.labels, m.value = d, labels, v
	m.dto.Value = &m.value
	m.dto.CreatedTimestamp = setTimestamp(&m.created, created)
	return m
}

// setTimestamp sets *ts to t and returns ts, or returns nil when t is zero.
func setTimestamp(ts *timestamppb.Timestamp, t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	ts.Seconds, ts.Nanos = t.Unix(), int32(t.Nanosecond())
	return ts
}

func (a *arena) gauge(d *prometheus.Desc, labels []*dto.LabelPair, v float64) *gaugeMetric {
	m := &carve(&a.gauges, 1, metricChunk)[0]
	m.desc, m.labels, m.value = d, labels, v
	m.dto.Value = &m.value
	return m
}

// hist returns a histogram metric with count, sum and created timestamp
// (none when zero) set and no buckets.
func (a *arena) hist(d *prometheus.Desc, labels []*dto.LabelPair, count uint64, sum float64, created time.Time) *histMetric {
	m := &carve(&a.hists, 1, metricChunk)[0]
	m.desc, m.labels, m.count, m.sum = d, labels, count, sum
	m.dto.SampleCount = &m.count
	m.dto.SampleSum = &m.sum
	m.dto.CreatedTimestamp = setTimestamp(&m.created, created)
	return m
}

// classic sets the classic buckets of m: cumulative counts cum[i] for upper
// bounds bounds[i] (which must stay unchanged afterwards). The +Inf bucket is
// implied by the sample count.
func (a *arena) classic(m *histMetric, bounds []float64, cum []uint64) {
	n := min(len(bounds), len(cum))
	if n == 0 {
		return
	}
	boxes := carve(&a.buckets, n, smallChunk)
	ptrs := carve(&a.bucketPtrs, n, smallChunk)
	for i := range n {
		b := &boxes[i]
		b.cum = cum[i]
		b.b.CumulativeCount = &b.cum
		b.b.UpperBound = &bounds[i]
		ptrs[i] = &b.b
	}
	m.dto.Bucket = ptrs
}

// native makes m a native histogram with the given schema, zero bucket and
// positive buckets: buckets[i] is the count of bucket index offset+i; zero
// counts are allowed anywhere. schema and zeroThreshold must point to values
// that never change.
//
// Spans and deltas are laid out by nativeLayout. Because the zero threshold
// is positive, a histogram without observations is still recognised as
// native and needs no empty span.
func (a *arena) native(m *histMetric, schema *int32, zeroThreshold *float64, zero uint64, offset int32, buckets []uint64) {
	m.zeroCount = zero
	m.dto.Schema = schema
	m.dto.ZeroThreshold = zeroThreshold
	m.dto.ZeroCount = &m.zeroCount

	a.spanTmp, a.deltaTmp = nativeLayout(a.spanTmp[:0], a.deltaTmp[:0], offset, buckets)
	if len(a.spanTmp) == 0 {
		return
	}
	spans := carve(&a.spans, len(a.spanTmp), smallChunk)
	spanPtrs := carve(&a.spanPtrs, len(a.spanTmp), smallChunk)
	deltas := carve(&a.deltas, len(a.deltaTmp), smallChunk)
	copy(deltas, a.deltaTmp)
	for i := range spans {
		s := &spans[i]
		s.offset, s.length = a.spanTmp[i].offset, a.spanTmp[i].length
		s.s.Offset = &s.offset
		s.s.Length = &s.length
		spanPtrs[i] = &s.s
	}
	m.dto.PositiveSpan = spanPtrs
	m.dto.PositiveDelta = deltas
}
