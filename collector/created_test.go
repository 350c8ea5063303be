package collector

import (
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
)

// TestCreatedTimestamps decodes the protobuf exposition of both paths
// (WriteMetrics and the registry): counters and histograms of a target
// carry the time it started to be probed, engine counters the engine
// start; gauges, group sums and targets without a start carry none.
func TestCreatedTimestamps(t *testing.T) {
	src := newFixture()
	f := expfmt.NewFormat(expfmt.TypeProtoDelim)
	reloaded := t0.Add(90*time.Second + 500*time.Millisecond) // fixture: www.example.test
	for _, path := range []struct {
		name string
		b    []byte
	}{
		{"stream", streamEncoded(t, New(src, Options{}), f)},
		{"registry", gatherEncoded(t, New(src, Options{}), f)},
	} {
		t.Run(path.name, func(t *testing.T) {
			found := map[string]bool{}
			for _, mf := range decodeFamilies(t, path.b, f) {
				for _, m := range mf.Metric {
					var target, group string
					for _, l := range m.Label {
						switch l.GetName() {
						case "target":
							target = l.GetValue()
						case "group":
							group = l.GetValue()
						}
					}
					ct := m.GetCounter().GetCreatedTimestamp()
					if ct == nil {
						ct = m.GetHistogram().GetCreatedTimestamp()
					}
					var want time.Time
					switch {
					case m.Gauge != nil:
					case target == "" && group == "": // engine counter
						want = t0
					case target == "10.0.0.1":
						want = t0
					case target == "www.example.test":
						want = reloaded
					}
					key := mf.GetName() + "/" + target
					if want.IsZero() {
						if ct != nil {
							t.Errorf("%s %v has created timestamp %v, want none", mf.GetName(), m.Label, ct.AsTime())
						}
						continue
					}
					if ct == nil || !ct.AsTime().Equal(want) {
						t.Errorf("%s %v: created timestamp %v, want %v", mf.GetName(), m.Label, ct, want)
					}
					found[key] = true
				}
			}
			for _, k := range []string{"icmp_probes_sent_total/10.0.0.1", "icmp_errors_total/10.0.0.1", "icmp_rtt_seconds/10.0.0.1",
				"icmp_probes_sent_total/www.example.test", "icmp_rtt_seconds/www.example.test", "icmp_outage_duration_seconds/www.example.test",
				"icmp_engine_packets_sent_total/", "icmp_engine_replies_total/"} {
				if !found[k] {
					t.Errorf("no created timestamp checked for %s", k)
				}
			}
		})
	}
}
