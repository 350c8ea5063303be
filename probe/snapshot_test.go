package probe

import (
	"net/netip"
	"testing"
	"time"
)

func TestTargetSnapshotSeries(t *testing.T) {
	addr := &TargetSpec{Name: "192.0.2.1"}
	host := &TargetSpec{Name: "h.example", Host: "h.example"}
	t0 := time.Unix(1000, 0)
	completed := Outage{Start: t0, End: t0.Add(time.Second)}
	ongoing := Outage{Start: t0.Add(time.Minute), Ongoing: true}
	tests := []struct {
		name                string
		t                   TargetSnapshot
		dns, ttl, durations bool
		completedOutages    uint64
		lastOngoing         *bool
	}{
		{"fresh address", TargetSnapshot{Spec: addr, LastTTL: -1}, false, false, false, 0, nil},
		{"host name", TargetSnapshot{Spec: host, LastTTL: -1}, true, false, false, 0, nil},
		{"TTL kept but no reply counted", TargetSnapshot{Spec: addr, LastTTL: 64}, false, false, false, 0, nil},
		{"answered", TargetSnapshot{Spec: addr, LastTTL: 64, Replies: 1}, false, true, false, 0, nil},
		{"ongoing first outage", TargetSnapshot{Spec: addr, LastTTL: -1, Outs: &OutageRecord{Total: 1, Recent: []Outage{ongoing}}},
			false, false, true, 0, new(true)},
		{"one completed, one ongoing", TargetSnapshot{Spec: addr, LastTTL: -1, Outs: &OutageRecord{Total: 2, Recent: []Outage{completed, ongoing}}},
			false, false, true, 1, new(true)},
		{"history off", TargetSnapshot{Spec: addr, LastTTL: -1, Outs: &OutageRecord{Total: 3}}, false, false, true, 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &tt.t
			if s.HasDNSErrors() != tt.dns || s.HasTTL() != tt.ttl || s.HasOutageDurations() != tt.durations {
				t.Errorf("dns %v ttl %v durations %v, want %v %v %v", s.HasDNSErrors(), s.HasTTL(), s.HasOutageDurations(), tt.dns, tt.ttl, tt.durations)
			}
			if got := s.CompletedOutages(); got != tt.completedOutages {
				t.Errorf("completed outages %d, want %d", got, tt.completedOutages)
			}
			o, ok := s.LastOutage()
			if ok != (tt.lastOngoing != nil) || ok && o.Ongoing != *tt.lastOngoing {
				t.Errorf("last outage %+v %v, want ongoing %v", o, ok, tt.lastOngoing)
			}
			for et := range NumErrorTypes {
				if s.HasError(et) {
					t.Errorf("error series %s without errors", ErrorTypeNames[et])
				}
			}
		})
	}
	long := TargetSnapshot{Spec: addr, Outs: &OutageRecord{Total: 1}}
	long.Outs.Durations[len(long.Outs.Durations)-1] = 2 // counts never below the last bucket
	if got := long.CompletedOutages(); got != 2 {
		t.Errorf("completed outages %d, want 2 (the last cumulative bucket)", got)
	}
}

func TestRTTExport(t *testing.T) {
	tests := []struct {
		mode, agg string
		want      RTTExport
		ok        bool
	}{
		{"", "", RTTExport{Native: true}, true},
		{HistogramNative, AggregateTarget, RTTExport{Native: true}, true},
		{HistogramClassic, "", RTTExport{Classic: true}, true},
		{HistogramBoth, AggregateGroup, RTTExport{Group: true, Native: true, Classic: true}, true},
		{HistogramNone, AggregateGroup, RTTExport{}, false},
	}
	for _, tt := range tests {
		s := TargetSnapshot{Spec: &TargetSpec{Histogram: HistogramSpec{Mode: tt.mode, Aggregation: tt.agg}}}
		if got, ok := s.RTTExport(); got != tt.want || ok != tt.ok {
			t.Errorf("mode %q aggregation %q: got %+v %v, want %+v %v", tt.mode, tt.agg, got, ok, tt.want, tt.ok)
		}
	}
	h := Histogram{Bounds: []float64{0.1, 0.2, 0.3}, Classic: []uint64{1, 2}}
	if b, c := h.ClassicBuckets(); len(b) != 2 || len(c) != 2 {
		t.Errorf("ClassicBuckets cut to %d bounds, %d counts; want 2, 2", len(b), len(c))
	}
}

// TestSnapshotRareParts: a snapshot carries error counters and an outage
// record only for the targets that have them, and a snapshot buffer
// reused for targets in another order (a reload moved them) keeps none of
// the previous occupant's.
func TestSnapshotRareParts(t *testing.T) {
	const iv = 10 * time.Millisecond
	clean, down, failing := simTarget("192.0.2.1", iv, 5*time.Millisecond), simTarget("192.0.2.2", iv, 5*time.Millisecond),
		simTarget("192.0.2.3", iv, 5*time.Millisecond)
	s := newSim(t, Spec{Targets: []TargetSpec{clean, down, failing}})
	s.respond = func(a netip.Addr, _ int64) (time.Duration, bool) {
		return time.Millisecond, a != down.Addr
	}
	s.run(200 * time.Millisecond)
	s.target(clean.Name).extra().late = 5 // rare state without errors
	s.target(failing.Name).extra().byType[ErrSend] = 2
	added := simTarget("192.0.2.4", iv, 5*time.Millisecond)
	s.c.apply(&Spec{Targets: []TargetSpec{clean, down, failing, added}}, s.now)
	check := func(dst []TargetSnapshot) {
		t.Helper()
		for i := range dst {
			ts := &dst[i]
			switch ts.Spec.Name {
			case clean.Name:
				if ts.Errs != nil || ts.Outs != nil || ts.Late != 5 || !ts.Created.Equal(s.c.epoch) {
					t.Errorf("clean target: errs %v outs %v late %d created %v", ts.Errs, ts.Outs, ts.Late, ts.Created)
				}
			case down.Name:
				o := ts.Outs
				if ts.Errs != nil || o == nil || o.Total != 1 || len(o.Recent) != 1 || !o.Recent[0].Ongoing || ts.Up {
					t.Errorf("down target: errs %v outs %+v up %v", ts.Errs, o, ts.Up)
				}
			case failing.Name:
				if ts.Outs != nil || ts.Errs == nil || ts.ErrorCounts().ByType[ErrSend] != 2 || !ts.HasError(ErrSend) {
					t.Errorf("failing target: errs %v outs %v", ts.Errs, ts.Outs)
				}
			case added.Name:
				if ts.Errs != nil || ts.Outs != nil || !ts.Created.Equal(s.c.wall(s.now)) {
					t.Errorf("added target: errs %v outs %v created %v, want %v", ts.Errs, ts.Outs, ts.Created, s.c.wall(s.now))
				}
			}
			if ts.OutageRecord() == nil || ts.ErrorCounts() == nil {
				t.Fatal("nil record from the accessors")
			}
		}
	}
	dst := make([]TargetSnapshot, len(s.c.targets))
	for i, tg := range s.c.targets {
		tg.copyTo(&dst[i], s.c.epoch, false)
	}
	check(dst)
	n := len(dst)
	for k := 1; k < n; k++ { // every rotation of the targets over the same slots
		for i, tg := range s.c.targets {
			tg.copyTo(&dst[(i+k)%n], s.c.epoch, false)
		}
		check(dst)
	}
	if noOutages.Total != 0 || len(noOutages.Recent) != 0 || noErrors != (ErrorCounts{}) {
		t.Error("the shared empty records were written to")
	}
}
