package otlp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

func TestExpBuckets(t *testing.T) {
	tests := []struct {
		name    string
		off     int32
		in      []uint64
		wantOff int32
		want    []uint64
	}{
		{"empty", 5, nil, 0, nil},
		{"all zero", 5, []uint64{0, 0}, 0, nil},
		{"offset minus one", -80, []uint64{3}, -81, []uint64{3}},
		{"trim both ends", -80, []uint64{0, 0, 1, 0, 2, 0}, -79, []uint64{1, 0, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := expBuckets(tt.off, tt.in)
			if got.Offset != tt.wantOff || !reflect.DeepEqual(got.Counts, tt.want) {
				t.Errorf("got offset %d counts %v, want %d %v", got.Offset, got.Counts, tt.wantOff, tt.want)
			}
			if len(tt.in) > 0 && len(got.Counts) > 0 && &got.Counts[0] == &tt.in[0] {
				t.Errorf("counts alias the snapshot buffer")
			}
		})
	}
}

func TestMergeBuckets(t *testing.T) {
	tests := []struct {
		name    string
		accOff  int32
		acc     []uint64
		off     int32
		b       []uint64
		wantOff int32
		want    []uint64
	}{
		{"into empty", 0, nil, 7, []uint64{1, 2}, 7, []uint64{1, 2}},
		{"empty add", 3, []uint64{1}, 9, nil, 3, []uint64{1}},
		{"overlap", 3, []uint64{1, 1, 1}, 4, []uint64{5, 5}, 3, []uint64{1, 6, 6}},
		{"grow left and right", 3, []uint64{1}, 1, []uint64{2, 0, 0, 0, 4}, 1, []uint64{2, 0, 1, 0, 4}},
		{"disjoint right", 0, []uint64{1}, 3, []uint64{2}, 0, []uint64{1, 0, 0, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			off, got := mergeBuckets(tt.accOff, append([]uint64(nil), tt.acc...), tt.off, tt.b)
			if off != tt.wantOff || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %d %v, want %d %v", off, got, tt.wantOff, tt.want)
			}
		})
	}
}

func TestClassicPoint(t *testing.T) {
	p := classicPoint(attribute.NewSet(), time.Time{}, time.Time{}, 10, 1.5, []uint64{2, 2, 7}, []float64{0.001, 0.01, 0.1})
	if want := []uint64{2, 0, 5, 3}; !reflect.DeepEqual(p.BucketCounts, want) || p.Count != 10 || p.Sum != 1.5 {
		t.Errorf("got %v count %d sum %v, want %v 10 1.5", p.BucketCounts, p.Count, p.Sum, want)
	}
}

// produce converts one snapshot of src and returns the metrics by name
// (classic and exponential icmp.rtt both kept, in order).
func produce(t *testing.T, src SnapshotSource) map[string][]metricdata.Metrics {
	t.Helper()
	p := newProducer(src, "test")
	sms, err := p.Produce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]metricdata.Metrics{}
	for _, m := range sms[0].Metrics {
		out[m.Name] = append(out[m.Name], m)
	}
	return out
}

func TestHistogramModes(t *testing.T) {
	src := newFakeSource(6)
	specs := make([]probe.TargetSpec, 6)
	modes := []probe.HistogramSpec{
		{Mode: probe.HistogramNone},
		{Mode: probe.HistogramClassic, Buckets: []float64{0.001, 0.01}},
		{Mode: probe.HistogramBoth},
		{Mode: probe.HistogramNative, Aggregation: probe.AggregateGroup},
		{Mode: probe.HistogramNative, Aggregation: probe.AggregateGroup},
		{Mode: probe.HistogramClassic, Aggregation: probe.AggregateGroup, Buckets: []float64{0.001, 0.01}},
	}
	groups := []string{"none", "classic", "both", "agg", "agg", "aggc"}
	for i := range src.snap.Targets {
		tg := &src.snap.Targets[i]
		specs[i] = *tg.Spec
		specs[i].Group, specs[i].Histogram = groups[i], modes[i]
		tg.Spec = &specs[i]
		tg.RTT = &probe.Histogram{Count: uint64(i + 1), Sum: float64(i), Offset: int32(-80 + i), Buckets: []uint64{uint64(i + 1)}}
		if modes[i].NeedsClassic() {
			tg.RTT.Bounds, tg.RTT.Classic = modes[i].Buckets, []uint64{uint64(i), uint64(i + 1)}
		}
	}
	ms := produce(t, src)
	rtt := ms["icmp.rtt"]
	if len(rtt) != 2 {
		t.Fatalf("icmp.rtt: %d metrics, want exponential and classic", len(rtt))
	}
	exp := rtt[0].Data.(metricdata.ExponentialHistogram[float64]).DataPoints
	cls := rtt[1].Data.(metricdata.Histogram[float64]).DataPoints
	groupOf := func(s attribute.Set) string { v, _ := s.Value(AttrGroup); return v.AsString() }
	var expGroups, clsGroups []string
	for _, p := range exp {
		expGroups = append(expGroups, groupOf(p.Attributes))
	}
	for _, p := range cls {
		clsGroups = append(clsGroups, groupOf(p.Attributes))
	}
	if fmt.Sprint(expGroups) != "[both agg]" || fmt.Sprint(clsGroups) != "[classic aggc]" {
		t.Fatalf("exponential points of groups %v, classic %v; want [both agg] and [classic aggc]", expGroups, clsGroups)
	}
	agg := exp[1]
	if _, ok := agg.Attributes.Value(AttrServerAddress); ok {
		t.Errorf("group aggregate carries server.address: %v", agg.Attributes)
	}
	if v, _ := agg.Attributes.Value("site"); v.AsString() != "fra" {
		t.Errorf("group aggregate lost the user label: %v", agg.Attributes)
	}
	// targets 3 and 4: native offsets -77, -76 with counts 4, 5.
	if agg.Count != 9 || agg.Sum != 7 || agg.PositiveBucket.Offset != -78 || !reflect.DeepEqual(agg.PositiveBucket.Counts, []uint64{4, 5}) {
		t.Errorf("group aggregate = count %d sum %v buckets %+v", agg.Count, agg.Sum, agg.PositiveBucket)
	}
	if c := cls[0]; !reflect.DeepEqual(c.Bounds, []float64{0.001, 0.01}) || !reflect.DeepEqual(c.BucketCounts, []uint64{1, 1, 0}) {
		t.Errorf("classic point = %v %v", c.Bounds, c.BucketCounts)
	}
}

func TestAttributeCache(t *testing.T) {
	src := newFakeSource(3)
	p := newProducer(src, "")
	ctx := context.Background()
	if _, err := p.Produce(ctx); err != nil {
		t.Fatal(err)
	}
	if len(p.attrs) != 3 {
		t.Fatalf("cache has %d entries, want 3", len(p.attrs))
	}
	// Target 0 resolves; target 2 leaves the config.
	src.mu.Lock()
	src.snap.Targets[0].IP = mustAddr("192.0.2.7")
	src.snap.Targets = src.snap.Targets[:2]
	src.mu.Unlock()
	sms, err := p.Produce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.attrs) != 2 {
		t.Errorf("cache has %d entries after a target left, want 2", len(p.attrs))
	}
	up := sms[0].Metrics[0].Data.(metricdata.Gauge[int64]).DataPoints
	if v, ok := up[0].Attributes.Value(AttrPeerAddress); !ok || v.AsString() != "192.0.2.7" {
		t.Errorf("network.peer.address after resolution = %v", v)
	}
}

type nilSource struct{}

func (nilSource) Snapshot(*probe.Snapshot) *probe.Snapshot { return nil }

func TestProduceErrors(t *testing.T) {
	if _, err := newProducer(nilSource{}, "").Produce(context.Background()); err == nil {
		t.Errorf("nil snapshot accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := newProducer(newFakeSource(1), "").Produce(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: err = %v", err)
	}
}

func TestSplitBatches(t *testing.T) {
	src := newFakeSource(37)
	p := newProducer(src, "")
	sms, err := p.Produce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rm := &metricdata.ResourceMetrics{ScopeMetrics: sms}
	total := 0
	var names []string
	for _, m := range sms[0].Metrics {
		total += dataPoints(m.Data)
		names = append(names, m.Name)
	}
	for _, max := range []int{0, 1, 7, 37, 100, total, total + 1} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			batches := splitBatches(rm, max)
			got := 0
			var gotNames []string
			for _, b := range batches {
				n := 0
				for _, sm := range b.ScopeMetrics {
					if sm.Scope.Name != ScopeName {
						t.Errorf("scope lost: %q", sm.Scope.Name)
					}
					for _, m := range sm.Metrics {
						n += dataPoints(m.Data)
						if len(gotNames) == 0 || gotNames[len(gotNames)-1] != m.Name {
							gotNames = append(gotNames, m.Name)
						}
					}
				}
				if max > 0 && n > max {
					t.Errorf("batch of %d points, max %d", n, max)
				}
				got += n
			}
			if got != total {
				t.Errorf("%d points after split, want %d", got, total)
			}
			if strings.Join(dedupe(gotNames), ",") != strings.Join(dedupe(names), ",") {
				t.Errorf("metric order changed:\n%v\n%v", gotNames, names)
			}
			if max > 0 {
				if want := (total + max - 1) / max; len(batches) != want {
					t.Errorf("%d batches, want %d", len(batches), want)
				}
			}
		})
	}
}

// dedupe drops consecutive repeats (icmp.rtt appears twice only when both
// kinds are present, not here).
func dedupe(s []string) []string {
	var out []string
	for _, v := range s {
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}

func TestResourceBuild(t *testing.T) {
	tests := []struct {
		name    string
		res     Resource
		env     map[string]string
		want    map[string]string
		wantErr string
	}{
		{
			name: "defaults",
			res:  Resource{},
			want: map[string]string{"service.name": "icmp_exporter", "telemetry.sdk.language": "go", "telemetry.sdk.name": "opentelemetry"},
		},
		{
			name: "fields",
			res:  Resource{ServiceVersion: "1.0", Source: probe.Source{Name: "fra"}},
			want: map[string]string{"service.name": "icmp_exporter", "service.version": "1.0", "icmp.source": "fra"},
		},
		{
			name: "OTEL_SERVICE_NAME wins over everything",
			res:  Resource{ServiceName: "cfg"},
			env:  map[string]string{"OTEL_SERVICE_NAME": "envname", "OTEL_RESOURCE_ATTRIBUTES": "service.name=attrname"},
			want: map[string]string{"service.name": "envname"},
		},
		{
			name: "resource attributes merged, instance id from env",
			res:  Resource{InstanceID: "cfg-id", Source: probe.Source{Name: "fra"}, Attributes: map[string]string{"k": "cfg"}},
			env:  map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.instance.id=pod-1,k=a%20b,cloud.region=eu"},
			want: map[string]string{"service.instance.id": "pod-1", "k": "a b", "cloud.region": "eu", "icmp.source": "fra"},
		},
		{
			name: "explicit instance id",
			res:  Resource{InstanceID: "x"},
			want: map[string]string{"service.instance.id": "x"},
		},
		{
			name:    "malformed env",
			env:     map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "novalue"},
			wantErr: "OTEL_RESOURCE_ATTRIBUTES",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"} {
				t.Setenv(k, tt.env[k])
			}
			r, err := tt.res.build(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, kv := range r.Attributes() {
				got[string(kv.Key)] = kv.Value.String()
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
			if got["telemetry.sdk.version"] == "" {
				t.Errorf("no telemetry.sdk.version (all: %v)", got)
			}
			if tt.want["service.instance.id"] == "" {
				if id, err := uuid.Parse(got["service.instance.id"]); err != nil || id.Version() != 4 {
					t.Errorf("service.instance.id = %q, want a random UUID", got["service.instance.id"])
				}
			}
		})
	}
	a, _ := Resource{}.build(context.Background())
	b, _ := Resource{}.build(context.Background())
	if ia, ib := a.Set().Encoded(attribute.DefaultEncoder()), b.Set().Encoded(attribute.DefaultEncoder()); ia == ib {
		t.Errorf("two processes would share service.instance.id: %s", ia)
	}
}

func TestSDKDisabled(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want bool
	}{{"true", true}, {"TRUE", true}, {" true ", true}, {"false", false}, {"", false}, {"1", false}} {
		t.Setenv("OTEL_SDK_DISABLED", tc.env)
		if got := sdkDisabled(os.Getenv); got != tc.want {
			t.Errorf("OTEL_SDK_DISABLED=%q: disabled %v, want %v", tc.env, got, tc.want)
		}
	}
	t.Setenv("OTEL_SDK_DISABLED", "true")
	p, err := New(context.Background(), config.OTLP{Enabled: true, Endpoint: "127.0.0.1:1"}, newFakeSource(1), Resource{}, nil)
	if !errors.Is(err, ErrSDKDisabled) || p != nil {
		t.Fatalf("New with OTEL_SDK_DISABLED=true = %v, %v; want nil, ErrSDKDisabled", p, err)
	}
}

func BenchmarkProduce10k(b *testing.B) {
	src := newFakeSource(10000)
	p := newProducer(src, "")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Produce(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOutagePointsOnlyAfterOutage(t *testing.T) {
	src := newFakeSource(3)
	tg := &src.snap.Targets[1]
	tg.Outs = nil
	ms := produce(t, src)
	for _, name := range []string{"icmp.outage.duration", "icmp.last_outage.start_timestamp", "icmp.last_outage.end_timestamp", "icmp.last_outage.duration"} {
		if len(ms[name]) != 1 {
			t.Fatalf("%s missing", name)
		}
		if n := dataPoints(ms[name][0].Data); n != 2 {
			t.Errorf("%s: %d points, want 2 (the target without outages has none)", name, n)
		}
	}
	if n := dataPoints(ms["icmp.outages"][0].Data); n != 3 {
		t.Errorf("icmp.outages: %d points, want 3 (always)", n)
	}
}

// TestExportPerTarget: targets whose spec exports only up have only
// icmp.up data points; with no target exporting a kind, its metrics are
// left out.
func TestExportPerTarget(t *testing.T) {
	src := newFakeSource(4)
	specs := make([]probe.TargetSpec, 4)
	for i := range src.snap.Targets {
		specs[i] = *src.snap.Targets[i].Spec
		if i < 3 {
			specs[i].Export = probe.ExportUp
		}
		src.snap.Targets[i].Spec = &specs[i]
	}
	points := func(ms map[string][]metricdata.Metrics, name string) int {
		n := 0
		for _, m := range ms[name] {
			n += dataPoints(m.Data)
		}
		return n
	}
	ms := produce(t, src)
	if n := points(ms, "icmp.up"); n != 4 {
		t.Errorf("icmp.up: %d points, want 4", n)
	}
	for _, name := range []string{"icmp.probes.sent", "icmp.outages", "icmp.outage.resolution", "icmp.rtt"} {
		if n := points(ms, name); n != 1 {
			t.Errorf("%s: %d points, want 1 (only the target that exports all)", name, n)
		}
	}
	specs[3].Export = probe.ExportUp | probe.ExportCounters
	ms = produce(t, src)
	for _, name := range []string{"icmp.outages", "icmp.outage.resolution", "icmp.rtt", "icmp.last_outage.start_timestamp"} {
		if _, ok := ms[name]; ok {
			t.Errorf("%s written though no target exports it", name)
		}
	}
	if n := points(ms, "icmp.probes.lost"); n != 1 {
		t.Errorf("icmp.probes.lost: %d points, want 1", n)
	}
}

// TestStartTimePerTarget: a target's cumulative points start when it
// started to be probed (TargetSnapshot.Created: a target added by a reload
// has its own start), a snapshot without it and the engine counters start
// at the engine start, and so do group sums.
func TestStartTimePerTarget(t *testing.T) {
	src := newFakeSource(3)
	added := testStart.Add(2 * time.Minute)
	src.snap.Targets[1].Created = added
	src.snap.Targets[2].Created = testStart
	specs := []probe.TargetSpec{*src.snap.Targets[2].Spec}
	specs[0].Histogram = probe.HistogramSpec{Mode: probe.HistogramNative, Aggregation: probe.AggregateGroup}
	src.snap.Targets[2].Spec = &specs[0]
	ms := produce(t, src)
	want := map[string]time.Time{"10.0.0.0": testStart, "10.0.0.1": added}
	starts := func(name string) map[string]time.Time {
		got := map[string]time.Time{}
		add := func(a attribute.Set, st time.Time) {
			v, ok := a.Value(AttrServerAddress)
			if !ok {
				v, _ = a.Value(AttrGroup)
			}
			got[v.AsString()] = st
		}
		for _, m := range ms[name] {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					add(p.Attributes, p.StartTime)
				}
			case metricdata.ExponentialHistogram[float64]:
				for _, p := range d.DataPoints {
					add(p.Attributes, p.StartTime)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					add(p.Attributes, p.StartTime)
				}
			}
		}
		return got
	}
	for _, name := range []string{"icmp.probes.sent", "icmp.errors", "icmp.outages", "icmp.outage.duration"} {
		got := starts(name)
		for target, w := range want {
			if st, ok := got[target]; ok && !st.Equal(w) {
				t.Errorf("%s of %s starts at %v, want %v", name, target, st, w)
			}
		}
		if st := got["10.0.0.1"]; name != "icmp.outage.duration" && !st.Equal(added) {
			t.Errorf("%s of the target added by a reload starts at %v, want %v", name, st, added)
		}
	}
	if st := starts("icmp.rtt")["lan"]; !st.Equal(testStart) {
		t.Errorf("group sum starts at %v, want the engine start %v", st, testStart)
	}
	if st := starts("icmp.engine.packets.sent"); len(st) != 1 || !st[""].Equal(testStart) {
		t.Errorf("engine counter starts %v, want the engine start", st)
	}
}
