package probe

import (
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
