package history

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// Defaults of Options.
const (
	DefaultBucket     = time.Minute
	DefaultRetention  = 3 * time.Hour
	DefaultMaxTargets = 20000
	// MaxRetention bounds the retention of a group (config checks it).
	MaxRetention = 48 * time.Hour
)

// Options configure a Store.
type Options struct {
	// Bucket is the width of a time bucket; 0 means DefaultBucket.
	Bucket time.Duration
	// Retention is how long the buckets of a target are kept, by group name;
	// groups not in the map get DefaultRetention, groups mapped to 0 keep no
	// history. SetRetention replaces it (on reload).
	Retention map[string]time.Duration
	// MaxTargets turns the history off while the engine probes more targets
	// (pages then show lifetime counters only); 0 means DefaultMaxTargets,
	// a negative value means no limit.
	MaxTargets int
	// Logger receives one line when the history turns off or on; nil discards.
	Logger *slog.Logger
}

// Snapshotter is the engine (probe.Engine) or a fake.
type Snapshotter interface {
	Snapshot(dst *probe.Snapshot) *probe.Snapshot
}

// Store keeps a bounded history of every target of an engine: per time
// bucket the probes that ended, the failed ones and three RTT quantiles. It
// learns the targets from the snapshots it records: a target whose
// probe.TargetSpec.Key is unchanged by a reload keeps its history, others
// start empty, removed targets are forgotten.
//
// Its methods are safe for concurrent use.
type Store struct {
	mu         sync.Mutex
	bucket     time.Duration
	retention  map[string]time.Duration
	maxTargets int
	log        *slog.Logger

	off    bool  // more targets than maxTargets
	prime  bool  // on again after off: the next record only takes the counters as base
	lastB  int64 // number of the last recorded bucket (unix time / bucket); -1 before the first
	lastT  int64 // unix nanoseconds of the snapshot the prev state comes from
	series []series
	slab   []bucket // the rings of all series, series[i].off .. off+size

	// The snapshot series was last synced with (time and length): readers
	// that pass the same snapshot again skip the check of every target.
	syncedAt  time.Time
	syncedLen int
}

// series is the history of one target. Its ring slot for bucket number b is
// b % size.
type series struct {
	spec  *probe.TargetSpec
	off   int32 // first ring slot in Store.slab
	size  int32 // ring length in buckets; 0 keeps no history
	first int64 // number of the first recorded bucket; -1 before it

	// Counters of the previous recorded snapshot, the base of the deltas.
	replies, failed uint64
	zero            uint32 // RTT histogram zero bucket, low 32 bits
	hoff            int32  // native index of hist[0]
	hist            []uint32
}

// New returns an empty Store.
func New(o Options) *Store {
	if o.Bucket <= 0 {
		o.Bucket = DefaultBucket
	}
	if o.MaxTargets == 0 {
		o.MaxTargets = DefaultMaxTargets
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Store{bucket: o.Bucket, retention: o.Retention, maxTargets: o.MaxTargets, log: o.Logger, lastB: -1}
}

// Bucket is the width of a time bucket.
func (s *Store) Bucket() time.Duration { return s.bucket }

// SetRetention replaces the retention by group (see Options.Retention). A
// shorter retention keeps the newest buckets.
func (s *Store) SetRetention(r map[string]time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retention = r
	s.relayout()
}

// Keeps reports whether targets of group have a history: the history is
// on and the group's retention holds at least one bucket.
func (s *Store) Keeps(group string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.off && min(s.retentionOf(group), MaxRetention) >= s.bucket
}

// Enabled reports whether history is kept (false above Options.MaxTargets).
func (s *Store) Enabled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.off
}

// Run records a snapshot of src at every bucket boundary of the wall clock
// until ctx is done. While the history is on (at most MaxTargets targets)
// the snapshot buffer is kept for the next bucket, instead of a new one of
// up to tens of megabytes each time; while it is off, no snapshot is taken
// when src can count its targets (TargetCounter), and none is kept.
func (s *Store) Run(ctx context.Context, src Snapshotter) {
	var snap *probe.Snapshot
	counter, _ := src.(TargetCounter)
	for {
		now := time.Now()
		next := now.Truncate(s.bucket).Add(s.bucket)
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if counter != nil {
			if n := counter.NumTargets(); s.exceeds(n) {
				s.turnOff(n)
				snap = nil
				continue
			}
		}
		snap = src.Snapshot(snap)
		s.Record(snap)
		if !s.Enabled() {
			snap = nil
		}
	}
}

// TargetCounter is implemented by a Snapshotter that can tell how many
// targets a snapshot would hold without taking one (probe.Engine).
type TargetCounter interface {
	NumTargets() int
}

// exceeds reports whether n targets are more than the history keeps.
func (s *Store) exceeds(n int) bool { return s.maxTargets >= 0 && n > s.maxTargets }

// turnOff turns the history off for n targets, logging the change.
func (s *Store) turnOff(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setOff(n)
}

// setOff is turnOff with s.mu held.
func (s *Store) setOff(n int) {
	if !s.off {
		s.log.Warn("history off: more targets than the limit", "targets", n, "limit", s.maxTargets)
	}
	s.off, s.series, s.slab = true, nil, nil
}

func (s *Store) retentionOf(group string) time.Duration {
	if r, ok := s.retention[group]; ok {
		return r
	}
	return DefaultRetention
}

func (s *Store) sizeOf(spec *probe.TargetSpec) int32 {
	return int32(min(s.retentionOf(spec.Group), MaxRetention) / s.bucket)
}

// bucketOf is the number of the bucket that ends closest to t: snapshots
// are taken at bucket boundaries, a little late.
func (s *Store) bucketOf(t time.Time) int64 {
	return (t.UnixNano() - int64(s.bucket)/2) / int64(s.bucket)
}

// Record closes the bucket that ends at snap.Time (rounded to the nearest
// boundary) with the counters of snap. A second snapshot in the same bucket
// is ignored (its counts go into the next one).
func (s *Store) Record(snap *probe.Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.sync(snap) {
		return
	}
	b := s.bucketOf(snap.Time)
	if b <= s.lastB {
		return
	}
	if s.prime {
		// The counters since the history went off are not one bucket's.
		for i := range s.series {
			s.series[i].advance(&snap.Targets[i])
		}
		s.prime = false
		s.lastB, s.lastT = b, snap.Time.UnixNano()
		return
	}
	for i := range s.series {
		sr := &s.series[i]
		t := &snap.Targets[i]
		bk := sr.delta(t).bucket()
		sr.advance(t)
		if sr.size == 0 {
			continue
		}
		ring := s.slab[sr.off : sr.off+sr.size]
		if sr.first < 0 {
			sr.first = b
		} else {
			// Clear the slots of buckets missed since the last record.
			for m := max(s.lastB+1, b-int64(sr.size)+1); m < b; m++ {
				ring[m%int64(sr.size)] = bucket{}
			}
		}
		ring[b%int64(sr.size)] = bk
	}
	s.lastB = b
	s.lastT = snap.Time.UnixNano()
}

// sync makes s.series match snap.Targets index by index, keeping the
// history of targets whose Key is unchanged. It returns false while the
// history is off.
func (s *Store) sync(snap *probe.Snapshot) bool {
	if s.exceeds(len(snap.Targets)) {
		s.setOff(len(snap.Targets))
		return false
	}
	if s.off {
		s.log.Info("history on again", "targets", len(snap.Targets), "limit", s.maxTargets)
		s.off, s.prime = false, true
	}
	if snap.Time.Equal(s.syncedAt) && len(snap.Targets) == s.syncedLen && len(s.series) == s.syncedLen {
		return true
	}
	s.syncedAt, s.syncedLen = snap.Time, len(snap.Targets)
	if len(s.series) == len(snap.Targets) {
		same := true
		for i := range s.series {
			if s.series[i].spec != snap.Targets[i].Spec {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	byKey := make(map[string]int, len(s.series))
	for i := range s.series {
		byKey[s.series[i].spec.Key()] = i
	}
	old := s.series
	s.series = make([]series, len(snap.Targets))
	for i := range snap.Targets {
		spec := snap.Targets[i].Spec
		if j, ok := byKey[spec.Key()]; ok {
			s.series[i] = old[j]
		} else {
			s.series[i] = series{first: -1, off: -1}
		}
		s.series[i].spec = spec
	}
	s.relayout()
	return true
}

// relayout gives every series a ring of its retention in a new slab and
// copies the newest buckets of the old rings into it. Series with off -1
// are new.
func (s *Store) relayout() {
	total := 0
	sizes := make([]int32, len(s.series))
	changed := len(s.slab) == 0
	for i := range s.series {
		sizes[i] = s.sizeOf(s.series[i].spec)
		total += int(sizes[i])
		if sizes[i] != s.series[i].size || s.series[i].off < 0 {
			changed = true
		}
	}
	if !changed && total == len(s.slab) {
		return
	}
	slab := make([]bucket, total)
	off := int32(0)
	for i := range s.series {
		sr := &s.series[i]
		n := sizes[i]
		if sr.off >= 0 && sr.size > 0 && n > 0 && sr.first >= 0 {
			oldRing := s.slab[sr.off : sr.off+sr.size]
			newRing := slab[off : off+n]
			for b := max(sr.first, s.lastB-int64(min(n, sr.size))+1); b <= s.lastB; b++ {
				newRing[b%int64(n)] = oldRing[b%int64(sr.size)]
			}
			sr.first = max(sr.first, s.lastB-int64(n)+1)
		} else if n == 0 || sr.size == 0 {
			sr.first = -1
		}
		sr.off, sr.size = off, n
		off += n
	}
	s.slab = slab
}
