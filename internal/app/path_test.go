package app

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

type fakePaths map[string]probe.PathInfo

func (f fakePaths) Path(group, name string) (probe.PathInfo, bool) {
	i, ok := f[group+"/"+name]
	return i, ok
}

func TestPathHandler(t *testing.T) {
	down := probe.PathResult{Time: time.Unix(1_800_000_000, 0).UTC(), Reason: probe.PathReasonDown, Probes: 4, Changed: true,
		LastHop: netip.MustParseAddr("10.251.1.2"), LastHopTTL: 2,
		Hops: []probe.PathHop{
			{TTL: 1, Addr: netip.MustParseAddr("10.251.0.2"), RTT: time.Millisecond, Error: probe.ErrTimeExceeded},
			{TTL: 2, Addr: netip.MustParseAddr("10.251.1.2"), RTT: 2 * time.Millisecond, Error: probe.ErrTimeExceeded},
			{TTL: 3}, {TTL: 4},
		}}
	h := NewPathHandler(fakePaths{"g/10.252.0.1": {Last: &down, History: []probe.PathResult{down}, Changes: 1, Snapshots: 1}})
	for _, tt := range []struct {
		query string
		code  int
	}{
		{"", http.StatusBadRequest},
		{"?target=10.252.0.9&group=g", http.StatusNotFound},
		{"?target=10.252.0.1&group=g", http.StatusOK},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", PathPath+tt.query, nil))
		if rec.Code != tt.code {
			t.Fatalf("%q: status %d, want %d: %s", tt.query, rec.Code, tt.code, rec.Body)
		}
		if tt.code != http.StatusOK {
			continue
		}
		var got pathJSON
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		l := got.Last
		if got.Baseline != nil || l == nil || l.LastHop != "10.251.1.2" || l.LastHopTTL != 2 || len(l.Hops) != 4 ||
			l.Hops[1].Answer != "time_exceeded" || *l.Hops[1].RTTSeconds != 0.002 || l.Hops[2].Addr != "" || l.Hops[2].RTTSeconds != nil ||
			len(got.History) != 1 || got.Changes != 1 {
			t.Errorf("body %s", rec.Body)
		}
	}
}
