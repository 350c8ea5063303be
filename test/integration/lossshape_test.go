//go:build linux

package integration

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// shapePlan is what the userspace responder does to the probes of the loss
// shape test: "pattern" targets lose probe 3 and probes 8 to 10 of every 20
// (one isolated loss and one burst of 3) and answer the others after 10 ms
// (even probes) or 30 ms (odd ones), so consecutive replies differ by 20 ms;
// "reorder" targets answer even probes after 150 ms and odd ones at once,
// so every even reply arrives after the reply to the next probe (sent
// 100 ms later).
func shapePlan(pattern map[netip.Addr]bool) lab.Plan {
	return func(r lab.Request) []lab.Action {
		if !pattern[r.Dst] {
			if r.N%2 == 0 {
				return []lab.Action{{Delay: 150 * time.Millisecond}}
			}
			return []lab.Action{{}}
		}
		switch k := r.N % 20; {
		case k == 3, k >= 8 && k <= 10:
			return nil
		case r.N%2 == 0:
			return []lab.Action{{Delay: 10 * time.Millisecond}}
		default:
			return []lab.Action{{Delay: 30 * time.Millisecond}}
		}
	}
}

// TestLossShapeOnTheWire runs the exporter against the responder over both
// datapaths, IPv4 and IPv6, and checks the loss run histogram, IPDV,
// jitter and reordering on /metrics against the pattern the responder
// applied. Bounds on delays are generous (a loaded 2-core machine); the
// loss runs are exact.
func TestLossShapeOnTheWire(t *testing.T) {
	bin := lab.BuildExporter(t)
	for _, dp := range []string{"icmp", "afpacket"} {
		t.Run(dp, func(t *testing.T) {
			l := lab.New(t, lab.Options{})
			nth := func(p netip.Prefix, n int) netip.Addr {
				a := p.Addr()
				for range n {
					a = a.Next()
				}
				return a
			}
			pattern := map[netip.Addr]bool{nth(lab.ResponderPrefix4, 1): true, nth(lab.ResponderPrefix6, 1): true}
			reorder := []netip.Addr{nth(lab.ResponderPrefix4, 2), nth(lab.ResponderPrefix6, 2)}
			resp := l.StartResponder(shapePlan(pattern))
			addrs := append([]netip.Addr{nth(lab.ResponderPrefix4, 1), nth(lab.ResponderPrefix6, 1)}, reorder...)
			cfg := lab.WriteConfig(t, lab.ExporterConfig{
				Source: "lab", Datapath: dp,
				Defaults: lab.ConfigSettings{Interval: 100 * time.Millisecond, Timeout: time.Second,
					DownAfter: 20, UpAfter: 1, Histogram: "both"},
				Groups: []lab.ConfigGroup{{Name: "shape", Targets: addrs}},
			})
			x := l.StartExporter(context.Background(), lab.ExporterOptions{Binary: bin, Config: cfg})
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()

			var mfs map[string]*dto.MetricFamily
			lab.WaitFor(t, 2*time.Minute, 500*time.Millisecond, "150 probes sent to every target", func() (bool, string) {
				var err error
				if mfs, err = x.Metrics(ctx); err != nil {
					return false, err.Error()
				}
				for _, a := range addrs {
					if s := value(mfs, "icmp_probes_sent_total", a); s < 150 {
						return false, fmt.Sprintf("%s: %v sent", a, s)
					}
				}
				return true, ""
			})
			if err := resp.Err(); err != nil {
				t.Fatal(err)
			}
			for a := range pattern {
				checkPattern(t, mfs, a)
			}
			for _, a := range reorder {
				replies, reordered := value(mfs, "icmp_replies_total", a), value(mfs, "icmp_reordered_replies_total", a)
				if reordered < 0.35*replies || reordered > 0.55*replies {
					t.Errorf("%s: %v of %v replies reordered, want about half", a, reordered, replies)
				}
				if h := histOf(mfs, "icmp_loss_run_length", a); h.GetSampleCount() != 0 {
					t.Errorf("%s: loss runs %v without loss", a, h)
				}
				// Every reply differs from the one before by about 150 ms.
				if j := value(mfs, "icmp_jitter_seconds", a); j < 0.1 || j > 0.3 {
					t.Errorf("%s: jitter %.4f s, want about 150 ms", a, j)
				}
				t.Logf("%s: %v of %v replies reordered, jitter %.1f ms", a, reordered, replies, 1e3*value(mfs, "icmp_jitter_seconds", a))
			}
		})
	}
}

// checkPattern checks a "pattern" target of shapePlan.
func checkPattern(t *testing.T, mfs map[string]*dto.MetricFamily, a netip.Addr) {
	t.Helper()
	sent, lost := value(mfs, "icmp_probes_sent_total", a), value(mfs, "icmp_probes_lost_total", a)
	runs := histOf(mfs, "icmp_loss_run_length", a)
	n, sum := float64(runs.GetSampleCount()), runs.GetSampleSum()
	le1, le2, le3 := bucket(runs, 1), bucket(runs, 2), bucket(runs, 3)
	// Every 20 probes: one run of 1 and one of 3, alternating; the probes of
	// the last second may still be in flight.
	cycles := math.Floor(sent / 20)
	if n < 2*cycles-3 || n > 2*cycles+2 || le2 != le1 || le3 != n || math.Abs(2*le1-n) > 1 || sum != le1+3*(n-le1) {
		t.Errorf("%s: %v probes sent: loss runs count %v sum %v, le=1 %v, le=2 %v, le=3 %v; want runs of 1 and 3 alternating, 2 per 20 probes",
			a, sent, n, sum, le1, le2, le3)
	}
	if lost < sum || lost > sum+3 {
		t.Errorf("%s: %v probes lost, %v in completed runs", a, lost, sum)
	}
	// 14 of every 20 probes and the one before them were both answered; the
	// RTTs of such pairs differ by 20 ms. A loaded machine delays a few
	// replies by much more (which moves the mean and the jitter a lot), so
	// most samples, not all, must be near 20 ms, and the jitter (about 17 ms:
	// 20 ms between replies of opposite parity, 0 across a loss) is only
	// bounded.
	ipdv := histOf(mfs, "icmp_ipdv_seconds", a)
	n20 := bucket(ipdv, 0.025) - bucket(ipdv, 0.01)
	mean := ipdv.GetSampleSum() / float64(ipdv.GetSampleCount())
	if float64(ipdv.GetSampleCount()) < 0.6*sent || n20 < 0.7*float64(ipdv.GetSampleCount()) {
		t.Errorf("%s: IPDV count %d (of %v probes), %v of them in (10 ms, 25 ms], mean %.4f s; want about 14 per 20 probes, most near 20 ms",
			a, ipdv.GetSampleCount(), sent, n20, mean)
	}
	if j := value(mfs, "icmp_jitter_seconds", a); j < 0.005 || j > 0.1 {
		t.Errorf("%s: jitter %.4f s, want about 17 ms", a, j)
	}
	if r := value(mfs, "icmp_reordered_replies_total", a); r > 2 {
		t.Errorf("%s: %v reordered replies, want none (delays 10 and 30 ms at 100 ms intervals)", a, r)
	}
	t.Logf("%s: %v sent, %v lost; runs %v (le=1 %v, sum %v); IPDV %d, %v in (10 ms, 25 ms], mean %.1f ms; jitter %.1f ms",
		a, sent, lost, n, le1, sum, ipdv.GetSampleCount(), n20, 1e3*mean, 1e3*value(mfs, "icmp_jitter_seconds", a))
}

// series returns the series of family name for target a, or nil.
func series(mfs map[string]*dto.MetricFamily, name string, a netip.Addr) *dto.Metric {
	for _, m := range mfs[name].GetMetric() {
		if lab.Label(m, "ip") == a.String() {
			return m
		}
	}
	return nil
}

// value is the counter or gauge value of family name for target a; -1
// when the series is missing.
func value(mfs map[string]*dto.MetricFamily, name string, a netip.Addr) float64 {
	m := series(mfs, name, a)
	switch {
	case m == nil:
		return -1
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

func histOf(mfs map[string]*dto.MetricFamily, name string, a netip.Addr) *dto.Histogram {
	return series(mfs, name, a).GetHistogram()
}

// bucket is the cumulative count of the classic bucket with upper bound le.
func bucket(h *dto.Histogram, le float64) float64 {
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == le {
			return float64(b.GetCumulativeCount())
		}
	}
	return -1
}
