package collector

import (
	"bytes"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/probe/probetest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

var _ SnapshotSource = (*probe.Engine)(nil)

// TestWithEngine runs the real engine on the in-memory fake network
// (probetest: no packets leave the process) with one answering and one
// silent target, and checks the collector's view of it.
func TestWithEngine(t *testing.T) {
	alive, dead := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	// dead answers for 200 ms, then never again: it goes up, then down
	// into an ongoing outage (a target that never answered has no outage).
	silence := probetest.Window(time.Now().Add(200*time.Millisecond), time.Now().Add(time.Hour), 2*time.Millisecond)
	network := &probetest.Network{Respond: func(dst netip.Addr, sent time.Time) (time.Duration, bool) {
		if dst == dead {
			return silence(dst, sent)
		}
		return 2 * time.Millisecond, true
	}}
	target := func(addr netip.Addr, mode string) probe.TargetSpec {
		return probe.TargetSpec{
			Group: "lab", Name: addr.String(), Addr: addr, Labels: []probe.Label{{Name: "site", Value: "mem"}},
			Interval: 10 * time.Millisecond, Timeout: 50 * time.Millisecond, PayloadSize: probe.MinPayload,
			DownAfter: 3, UpAfter: 1, OutageHistory: 5,
			Histogram: probe.HistogramSpec{Mode: mode, Buckets: probe.DefaultClassicBuckets},
		}
	}
	eng, err := probe.New(probe.Spec{
		Source:  probe.Source{Name: "test"},
		Targets: []probe.TargetSpec{target(alive, probe.HistogramBoth), target(dead, probe.HistogramNative)},
	}, probe.Options{Datapath: network})
	if err != nil {
		t.Fatalf("start engine: %v", err)
	}
	defer eng.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(New(eng, Options{}))
	series := func() map[string]*dto.Metric {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatalf("gather: %v", err)
		}
		out := map[string]*dto.Metric{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				key := mf.GetName()
				for _, lp := range m.GetLabel() {
					if lp.GetName() == "target" {
						key += "/" + lp.GetValue()
					}
				}
				out[key] = m
			}
		}
		return out
	}
	// Wait (generously: the machine may be loaded) until the silent target
	// is down and the other has answered a few probes.
	var s map[string]*dto.Metric
	deadline := time.Now().Add(60 * time.Second)
	for {
		s = series()
		up, down := s["icmp_up/192.0.2.1"], s["icmp_up/192.0.2.2"]
		rep, outages := s["icmp_replies_total/192.0.2.1"], s["icmp_outages_total/192.0.2.2"]
		if up != nil && down != nil && rep != nil && outages != nil && up.GetGauge().GetValue() == 1 &&
			down.GetGauge().GetValue() == 0 && rep.GetCounter().GetValue() >= 5 && outages.GetCounter().GetValue() >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine did not reach the expected state in 60s: up=%v down=%v replies=%v outages=%v", up, down, rep, outages)
		}
		time.Sleep(20 * time.Millisecond)
	}

	h := s["icmp_rtt_seconds/192.0.2.1"].GetHistogram()
	if h.GetSchema() != probe.NativeSchema || len(h.GetBucket()) != len(probe.DefaultClassicBuckets) {
		t.Errorf("mode both: schema %d and %d classic buckets, want %d and %d",
			h.GetSchema(), len(h.GetBucket()), probe.NativeSchema, len(probe.DefaultClassicBuckets))
	}
	var native, cur int64
	for _, d := range h.GetPositiveDelta() {
		cur += d
		native += cur
	}
	if uint64(native)+h.GetZeroCount() != h.GetSampleCount() || h.GetSampleCount() == 0 {
		t.Errorf("native buckets hold %d + zero %d, sample count %d", native, h.GetZeroCount(), h.GetSampleCount())
	}
	if last := h.GetBucket()[len(h.GetBucket())-1].GetCumulativeCount(); last > h.GetSampleCount() {
		t.Errorf("classic cumulative count %d above sample count %d", last, h.GetSampleCount())
	}
	if ttl := s["icmp_reply_ttl/192.0.2.1"].GetGauge().GetValue(); ttl != 64 {
		t.Errorf("reply ttl %g, want 64 (the fake network's)", ttl)
	}
	if end := s["icmp_last_outage_end_timestamp_seconds/192.0.2.2"]; end == nil || end.GetGauge().GetValue() != 0 {
		t.Errorf("silent target: last outage end %v, want 0 (ongoing)", end)
	}
	dh := s["icmp_rtt_seconds/192.0.2.2"].GetHistogram()
	if dh.GetSchema() != probe.NativeSchema || len(dh.GetBucket()) != 0 {
		t.Errorf("mode native: schema %d, %d classic buckets", dh.GetSchema(), len(dh.GetBucket()))
	}
	if r := s["icmp_replies_total/192.0.2.2"].GetCounter().GetValue(); float64(dh.GetSampleCount()) != r {
		t.Errorf("silent target: %d RTT observations, %g replies", dh.GetSampleCount(), r)
	}
	if info := s["icmp_engine_info"]; info == nil {
		t.Errorf("no icmp_engine_info")
	} else {
		for _, lp := range info.GetLabel() {
			if lp.GetName() == "datapath" && lp.GetValue() != eng.Info().Name {
				t.Errorf("icmp_engine_info datapath %q, want %q", lp.GetValue(), eng.Info().Name)
			}
		}
	}
}

// TestProtobufOfLiveEngine scrapes a busy engine in the protobuf format
// many times: its histograms are read while their families are written
// (deferred snapshot histograms), so each family must be written from one
// reading; every scrape must decode, and every RTT histogram must hold as
// many native observations as its count.
func TestProtobufOfLiveEngine(t *testing.T) {
	var spec probe.Spec
	for i := range 2000 {
		a := netip.AddrFrom4([4]byte{10, 8, byte(i >> 8), byte(i)})
		spec.Targets = append(spec.Targets, probe.TargetSpec{Group: "g", Name: a.String(), Addr: a,
			Interval: 5 * time.Millisecond, Timeout: 50 * time.Millisecond, PayloadSize: probe.MinPayload,
			DownAfter: 3, UpAfter: 1, OutageHistory: 2, Histogram: probe.HistogramSpec{Mode: probe.HistogramNative}})
	}
	// RTTs spread over many buckets, different on every probe.
	network := &probetest.Network{Respond: func(dst netip.Addr, sent time.Time) (time.Duration, bool) {
		return time.Duration(100+sent.UnixNano()%3000) * time.Microsecond, true
	}}
	eng, err := probe.New(spec, probe.Options{Datapath: network})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	c := New(eng, Options{})
	format := expfmt.NewFormat(expfmt.TypeProtoDelim)
	var hists int
	for round := range 40 {
		var buf bytes.Buffer
		if err := c.WriteMetrics(&buf, format, nil); err != nil {
			t.Fatal(err)
		}
		dec := expfmt.NewDecoder(&buf, format)
		for {
			var mf dto.MetricFamily
			if err := dec.Decode(&mf); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("scrape %d: decode: %v", round, err)
			}
			if mf.GetName() != "icmp_rtt_seconds" {
				continue
			}
			for _, m := range mf.GetMetric() {
				h := m.GetHistogram()
				var native, cur int64
				for _, d := range h.GetPositiveDelta() {
					cur += d
					native += cur
				}
				if uint64(native)+h.GetZeroCount() != h.GetSampleCount() {
					t.Fatalf("scrape %d: native buckets hold %d + zero %d, sample count %d", round, native, h.GetZeroCount(), h.GetSampleCount())
				}
				hists++
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if hists == 0 {
		t.Fatal("no RTT histograms scraped")
	}
}
