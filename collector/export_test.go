package collector

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/probe"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// TestExportPerTarget: a group that exports only up and the counters per
// target, with its RTT histogram per group, has exactly those families in
// both exposition paths; the other group keeps every series.
func TestExportPerTarget(t *testing.T) {
	cfg, err := config.Parse([]byte("source: {name: lab}\n"+
		"groups:\n"+
		"  - name: big\n"+
		"    export: {per_target: [up, counters]}\n"+
		"    histogram: {aggregation: group}\n"+
		"    targets: [127.0.0.1, 127.0.0.2]\n"+
		"  - name: small\n"+
		"    path: {enabled: true, mtu: {enabled: true}}\n"+
		"    targets: [127.0.0.3]\n"), "e.yml")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := cfg.Spec()
	s := snapshotOf(spec)
	for i := range s.Targets {
		ts := &s.Targets[i]
		ts.Sent, ts.Replies, ts.LastTTL, ts.EditOutages().Total = 10, 9, 64, 1
		ts.EditErrors().ByType[0] = 1
		if ts.Spec.Path.Enabled {
			ts.Path = &probe.PathSummary{Enabled: true, HopCount: 4, Changes: 1, HasDownHop: true, DownHopTTL: 2,
				DownHop: netip.MustParseAddr("10.0.1.2"), MTU: probe.MTUInfo{MTU: 1400}}
		}
	}
	perTarget := func(text []byte, group string) []string {
		var names []string
		for _, mf := range decodeFamilies(t, text, expfmt.NewFormat(expfmt.TypeTextPlain)) {
			for _, m := range mf.Metric {
				if hasLabel(m, "target") && slices.ContainsFunc(m.Label, func(lp *dto.LabelPair) bool { return lp.GetName() == "group" && lp.GetValue() == group }) {
					names = append(names, mf.GetName())
					break
				}
			}
		}
		return names
	}
	c := New(&fakeSource{snap: s}, Options{})
	for path, text := range map[string][]byte{
		"registry": gatherText(t, c),
		"stream":   streamEncoded(t, c, expfmt.NewFormat(expfmt.TypeTextPlain)),
	} {
		want := []string{"icmp_duplicate_replies_total", "icmp_late_replies_total", "icmp_probes_lost_total", "icmp_probes_sent_total",
			"icmp_probes_skipped_total", "icmp_reordered_replies_total", "icmp_replies_total", "icmp_state_change_timestamp_seconds", "icmp_up"}
		if got := perTarget(text, "big"); !slices.Equal(got, want) {
			t.Errorf("%s: group big exports per target %q, want %q", path, got, want)
		}
		// Every family but DNS errors (an address) and the last outage
		// (no outage history in the snapshot), and the vantage-caused
		// outages (vantage health is off).
		var all []string
		for _, f := range targetFamilies {
			switch f {
			case &famDNS, &famLastStart, &famLastEnd, &famLastDur, &famVantageCaused:
			default:
				all = append(all, f.name)
			}
		}
		slices.Sort(all)
		if got := perTarget(text, "small"); !slices.Equal(got, all) {
			t.Errorf("%s: group small exports per target %q, want %q", path, got, all)
		}
		if !strings.Contains(string(text), `icmp_rtt_seconds_count{group="big",source="lab"} 0`) {
			t.Errorf("%s: no RTT histogram of group big", path)
		}
	}
}
