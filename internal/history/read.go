package history

import (
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// Agg sums the buckets of a time span.
type Agg struct {
	Probes, Failed int
	// P50 and P90 are RTTs in seconds (0 when nothing was answered). Over
	// more than one bucket they are the reply-weighted median of the
	// buckets' medians and the reply-weighted 90th percentile of their 90th
	// percentiles: an estimate, not the quantile of all replies.
	P50, P90 float64
}

// Loss is Failed/Probes, 0 without probes.
func (a Agg) Loss() float64 {
	if a.Probes == 0 {
		return 0
	}
	return float64(a.Failed) / float64(a.Probes)
}

// Summary is the recent history of one target.
type Summary struct {
	// Now is the last complete bucket, or the running one before the
	// first bucket of the target completed.
	Now Agg
	// Window covers the complete buckets of the span asked for (the
	// running one before the first bucket completed).
	Window Agg
	// OK is false when the store has no history for the target (history
	// off, retention 0, or a snapshot older than the store's last record
	// that no longer matches it).
	OK bool
}

// prepare syncs the store with snap when snap is at least as new as the
// last record. It returns false while the history is off.
func (s *Store) prepare(snap *probe.Snapshot) bool {
	if snap.Time.UnixNano() >= s.lastT {
		return s.sync(snap)
	}
	return !s.off
}

// match reports whether series i holds the history of snap.Targets[i].
func (s *Store) match(snap *probe.Snapshot, i int) bool {
	return i < len(s.series) && s.series[i].spec == snap.Targets[i].Spec && s.series[i].size > 0
}

// Points appends to dst the buckets of snap.Targets[i] that start at or
// after since, oldest first (empty buckets included), then the running
// bucket counted up to snap.Time (Point.Partial) unless snap is older than
// the last record.
func (s *Store) Points(snap *probe.Snapshot, i int, since time.Time, dst []Point) []Point {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.prepare(snap) || !s.match(snap, i) {
		return dst
	}
	sr := &s.series[i]
	s.eachBucket(sr, since, func(start time.Time, c counts) { dst = append(dst, c.point(start, false)) })
	if snap.Time.UnixNano() < s.lastT {
		return dst // recorded after snap: the running bucket is not in snap
	}
	return append(dst, sr.delta(&snap.Targets[i]).point(s.runningStart(snap.Time), true))
}

// runningStart is the start of the bucket after the last recorded one, or
// before the first record the start of the bucket that holds now.
func (s *Store) runningStart(now time.Time) time.Time {
	if s.lastB < 0 {
		return now.Truncate(s.bucket)
	}
	return time.Unix(0, (s.lastB+1)*int64(s.bucket))
}

// eachBucket calls fn for the recorded buckets of sr that start at or
// after since, oldest first.
func (s *Store) eachBucket(sr *series, since time.Time, fn func(start time.Time, c counts)) {
	if sr.first < 0 || sr.size == 0 {
		return
	}
	ring := s.slab[sr.off : sr.off+sr.size]
	from := max(sr.first, s.lastB-int64(sr.size)+1, (since.UnixNano()+int64(s.bucket)-1)/int64(s.bucket))
	for b := from; b <= s.lastB; b++ {
		fn(time.Unix(0, b*int64(s.bucket)), ring[b%int64(sr.size)].counts())
	}
}

// addBuckets adds the recorded buckets of sr that start at or after since
// to w and returns the last one.
func (s *Store) addBuckets(sr *series, since time.Time, w *weighted) (last counts, ok bool) {
	if sr.first < 0 || sr.size == 0 {
		return last, false
	}
	ring := s.slab[sr.off : sr.off+sr.size]
	from := max(sr.first, s.lastB-int64(sr.size)+1, (since.UnixNano()+int64(s.bucket)-1)/int64(s.bucket))
	j := int(from % int64(sr.size))
	for b := from; b <= s.lastB; b++ {
		last, ok = ring[j].counts(), true
		w.add(last)
		if j++; j == len(ring) {
			j = 0
		}
	}
	return last, ok
}

// Summaries returns one Summary per target of snap (reusing dst); the
// window covers the buckets that start within span before snap.Time.
func (s *Store) Summaries(snap *probe.Snapshot, span time.Duration, dst []Summary) []Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	dst = append(dst[:0], make([]Summary, len(snap.Targets))...)
	if !s.prepare(snap) {
		return dst
	}
	var w weighted
	for i := range snap.Targets {
		dst[i] = s.summary(snap, i, span, &w)
	}
	return dst
}

// Summary is Summaries for snap.Targets[i] alone.
func (s *Store) Summary(snap *probe.Snapshot, i int, span time.Duration) Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.prepare(snap) {
		return Summary{}
	}
	var w weighted
	return s.summary(snap, i, span, &w)
}

func (s *Store) summary(snap *probe.Snapshot, i int, span time.Duration, w *weighted) Summary {
	if !s.match(snap, i) {
		return Summary{}
	}
	sr := &s.series[i]
	last, recorded := s.addBuckets(sr, snap.Time.Add(-span), w)
	if !recorded && snap.Time.UnixNano() >= s.lastT {
		// Before the first bucket of the target completes: the running one.
		last = sr.delta(&snap.Targets[i])
		w.add(last)
	}
	sum := Summary{OK: true, Window: w.agg()}
	w.add(last)
	sum.Now = w.agg()
	return sum
}

// weighted accumulates counts into an Agg; its zero value is ready.
type weighted struct {
	a        Agg
	lo, hi   uint8
	replies  uint64
	w50, w90 [256]uint64 // replies by quantile code
}

func (w *weighted) add(c counts) {
	w.a.Probes += int(c.n)
	w.a.Failed += int(c.failed)
	r := c.n - min(c.failed, c.n)
	if r == 0 || c.q[1] == 0 {
		return
	}
	if w.replies == 0 {
		w.lo, w.hi = 255, 0
	}
	w.w50[c.q[1]] += r
	w.w90[c.q[2]] += r
	w.lo, w.hi = min(w.lo, c.q[1], c.q[2]), max(w.hi, c.q[1], c.q[2])
	w.replies += r
}

// agg returns the Agg of what was added and resets w.
func (w *weighted) agg() Agg {
	a := w.a
	if w.replies > 0 {
		var c50, c90 [1]int
		lo, hi := int(w.lo), int(w.hi)+1
		quantiles(0, lo, hi, func(c int) uint64 { return w.w50[c] }, []float64{0.5}, c50[:])
		quantiles(0, lo, hi, func(c int) uint64 { return w.w90[c] }, []float64{0.9}, c90[:])
		a.P50, a.P90 = codeValue(uint8(c50[0])), codeValue(uint8(c90[0]))
		for c := lo; c < hi; c++ {
			w.w50[c], w.w90[c] = 0, 0
		}
	}
	w.a, w.replies = Agg{}, 0
	return a
}
