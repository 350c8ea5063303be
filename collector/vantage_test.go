package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/prometheus/common/expfmt"
)

// TestVantageMetrics: the vantage families of each scope, the gap counters
// and the per-target vantage-caused outages, the same in both exposition
// paths.
func TestVantageMetrics(t *testing.T) {
	s := vantageSnapshot()
	want := []string{
		`icmp_engine_gaps_total 2`,
		`icmp_engine_gap_seconds_total 3.5`,
		`icmp_vantage_up{group="",source="lab"} 0`,
		`icmp_vantage_up{group="g",source="lab"} 1`,
		`icmp_vantage_outages_total{group="",source="lab"} 1`,
		`icmp_vantage_outages_total{group="g",source="lab"} 2`,
		`icmp_vantage_outage_duration_seconds_count{group="",source="lab"} 0`,
		`icmp_vantage_outage_duration_seconds_bucket{group="g",source="lab",le="5"} 1`,
		`icmp_vantage_outage_duration_seconds_count{group="g",source="lab"} 2`,
		`icmp_vantage_last_outage_start_timestamp_seconds{group="",source="lab"} 990`,
		`icmp_vantage_last_outage_end_timestamp_seconds{group="",source="lab"} 0`,
		`icmp_vantage_last_outage_duration_seconds{group="",source="lab"} 10`,
		`icmp_vantage_last_outage_duration_seconds{group="g",source="lab"} 10`,
		`icmp_vantage_caused_outages_total{group="g",ip="127.0.0.1",source="lab",target="127.0.0.1"} 2`,
	}
	c := New(&fakeSource{snap: s}, Options{})
	for path, text := range map[string][]byte{
		"registry": gatherText(t, c),
		"stream":   streamEncoded(t, c, expfmt.NewFormat(expfmt.TypeTextPlain)),
	} {
		for _, w := range want {
			if !strings.Contains(string(text), w+"\n") {
				t.Errorf("%s: no line %s", path, w)
			}
		}
	}
	s.Vantage = nil // off: no vantage series, the gap counters stay
	text := string(gatherText(t, c))
	if strings.Contains(text, "icmp_vantage_") || !strings.Contains(text, "icmp_engine_gaps_total 2\n") {
		t.Errorf("vantage off:\n%s", text)
	}
}

// vantageSnapshot is one target of group g with vantage health on: the
// exporter's vantage down, the group's up after two outages.
func vantageSnapshot() *probe.Snapshot {
	cfg, err := config.Parse([]byte("source: {name: lab}\nvantage: {}\ngroups:\n  - name: g\n    targets: [127.0.0.1]\n"), "v.yml")
	if err != nil {
		panic(err)
	}
	spec, _ := cfg.Spec()
	s := snapshotOf(spec)
	s.Time = time.Unix(1000, 0)
	s.Engine.Gaps, s.Engine.GapSeconds = 2, 3.5
	s.Targets[0].EditOutages().Total, s.Targets[0].EditOutages().Vantage = 3, 2
	s.Vantage = []probe.VantageSnapshot{
		{Group: "", Up: false, OutagesTotal: 1, Last: probe.Outage{Start: time.Unix(990, 0), Ongoing: true}},
		{Group: "g", Up: true, OutagesTotal: 2, OutageDurationSum: 12,
			OutageDurations: [len(probe.OutageBuckets)]uint64{0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 2},
			Last:            probe.Outage{Start: time.Unix(900, 0), End: time.Unix(910, 0)}},
	}
	return s
}
