package otlp

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sort"
	"sync"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// receiver is an in-process OTLP metrics receiver (gRPC or HTTP) that
// records every request it accepts.
type receiver struct {
	mu       sync.Mutex
	reqs     []*colmetricpb.ExportMetricsServiceRequest
	sizes    []int
	headers  []map[string]string
	delay    time.Duration // block each request this long (slow collector)
	endpoint string        // host:port for gRPC, URL for HTTP
	close    func()
}

type grpcService struct {
	colmetricpb.UnimplementedMetricsServiceServer
	r *receiver
}

func (s grpcService) Export(ctx context.Context, req *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	h := map[string]string{}
	for k, v := range md {
		h[k] = v[0]
	}
	if err := s.r.wait(ctx); err != nil {
		return nil, err
	}
	s.r.add(req, proto.Size(req), h)
	return &colmetricpb.ExportMetricsServiceResponse{}, nil
}

func (r *receiver) wait(ctx context.Context) error {
	r.mu.Lock()
	d := r.delay
	r.mu.Unlock()
	if d == 0 {
		return nil
	}
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *receiver) add(req *colmetricpb.ExportMetricsServiceRequest, size int, h map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	r.sizes = append(r.sizes, size)
	r.headers = append(r.headers, h)
}

// newGRPCReceiver serves on addr ("127.0.0.1:0" for a free port).
func newGRPCReceiver(t *testing.T, addr string, opts ...grpc.ServerOption) *receiver {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	r := &receiver{endpoint: lis.Addr().String()}
	srv := grpc.NewServer(opts...)
	colmetricpb.RegisterMetricsServiceServer(srv, grpcService{r: r})
	go func() { _ = srv.Serve(lis) }()
	var once sync.Once
	r.close = func() { once.Do(srv.Stop) }
	t.Cleanup(r.close)
	return r
}

func newHTTPReceiver(t *testing.T) *receiver {
	t.Helper()
	r, srv := newHTTPReceiverUnstarted(t)
	srv.Start()
	r.endpoint = srv.URL + "/v1/metrics"
	return r
}

// newHTTPReceiverUnstarted returns a receiver whose server the caller
// starts (Start or StartTLS) and whose endpoint the caller sets.
func newHTTPReceiverUnstarted(t *testing.T) (*receiver, *httptest.Server) {
	t.Helper()
	r := &receiver{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/metrics" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want POST /v1/metrics with protobuf", http.StatusNotFound)
			return
		}
		var body io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(req.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var m colmetricpb.ExportMetricsServiceRequest
		if err := proto.Unmarshal(b, &m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := r.wait(req.Context()); err != nil {
			return
		}
		h := map[string]string{}
		for k := range req.Header {
			h[http.CanonicalHeaderKey(k)] = req.Header.Get(k)
		}
		h["content-encoding"] = req.Header.Get("Content-Encoding")
		r.add(&m, len(b), h)
		out, _ := proto.Marshal(&colmetricpb.ExportMetricsServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	r.close = srv.Close
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) requests() []*colmetricpb.ExportMetricsServiceRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*colmetricpb.ExportMetricsServiceRequest(nil), r.reqs...)
}

// received is the flattened content of all requests: metric name → metrics
// (one per request part), plus the resource attributes of the first.
type received struct {
	metrics  map[string][]*metricpb.Metric
	resource map[string]string
	scopes   map[string]bool
}

func flatten(reqs []*colmetricpb.ExportMetricsServiceRequest) received {
	out := received{metrics: map[string][]*metricpb.Metric{}, resource: map[string]string{}, scopes: map[string]bool{}}
	for _, req := range reqs {
		for _, rm := range req.ResourceMetrics {
			if len(out.resource) == 0 {
				for _, kv := range rm.Resource.GetAttributes() {
					out.resource[kv.Key] = anyString(kv.Value)
				}
			}
			for _, sm := range rm.ScopeMetrics {
				out.scopes[sm.Scope.GetName()] = true
				for _, m := range sm.Metrics {
					out.metrics[m.Name] = append(out.metrics[m.Name], m)
				}
			}
		}
	}
	return out
}

func anyString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_DoubleValue:
		return fmt.Sprint(x.DoubleValue)
	case *commonpb.AnyValue_IntValue:
		return fmt.Sprint(x.IntValue)
	case *commonpb.AnyValue_BoolValue:
		return fmt.Sprint(x.BoolValue)
	}
	return v.String()
}

func attrMap(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = anyString(kv.Value)
	}
	return m
}

// point is one data point of any kind, flattened for assertions.
type point struct {
	attrs map[string]string
	value float64 // gauge / sum value
	hist  *metricpb.HistogramDataPoint
	exp   *metricpb.ExponentialHistogramDataPoint
}

// points returns every data point of the metric name across requests and
// its kind ("gauge", "sum", "histogram", "exponential_histogram").
func (r received) points(name string) ([]point, string, string) {
	var pts []point
	kind, unit := "", ""
	for _, m := range r.metrics[name] {
		unit = m.Unit
		switch d := m.Data.(type) {
		case *metricpb.Metric_Gauge:
			kind = "gauge"
			for _, p := range d.Gauge.DataPoints {
				pts = append(pts, point{attrs: attrMap(p.Attributes), value: numValue(p)})
			}
		case *metricpb.Metric_Sum:
			kind = "sum"
			if !d.Sum.IsMonotonic || d.Sum.AggregationTemporality != metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE {
				kind = "sum(non-monotonic or delta)"
			}
			for _, p := range d.Sum.DataPoints {
				pts = append(pts, point{attrs: attrMap(p.Attributes), value: numValue(p)})
			}
		case *metricpb.Metric_Histogram:
			kind = "histogram"
			for _, p := range d.Histogram.DataPoints {
				pts = append(pts, point{attrs: attrMap(p.Attributes), hist: p})
			}
		case *metricpb.Metric_ExponentialHistogram:
			kind = "exponential_histogram"
			for _, p := range d.ExponentialHistogram.DataPoints {
				pts = append(pts, point{attrs: attrMap(p.Attributes), exp: p})
			}
		}
	}
	return pts, kind, unit
}

func numValue(p *metricpb.NumberDataPoint) float64 {
	switch v := p.Value.(type) {
	case *metricpb.NumberDataPoint_AsInt:
		return float64(v.AsInt)
	case *metricpb.NumberDataPoint_AsDouble:
		return v.AsDouble
	}
	return -1
}

// byTarget indexes points by server.address (plus error.type when set).
func byTarget(pts []point) map[string]point {
	m := make(map[string]point, len(pts))
	for _, p := range pts {
		k := p.attrs["server.address"]
		if et := p.attrs["error.type"]; et != "" {
			k += "/" + et
		}
		m[k] = p
	}
	return m
}

// fakeSource is a SnapshotSource with a fixed set of targets whose
// counters move on every Snapshot call. Safe for concurrent use.
type fakeSource struct {
	mu    sync.Mutex
	calls int
	snap  probe.Snapshot
}

func (f *fakeSource) Snapshot(dst *probe.Snapshot) *probe.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if dst == nil {
		dst = &probe.Snapshot{}
	}
	targets := dst.Targets[:0]
	*dst = f.snap
	dst.Targets = append(targets, f.snap.Targets...)
	for i := range dst.Targets {
		t := &dst.Targets[i]
		t.RTT, t.IPDV, t.LossRuns = t.RTT.Clone(), t.IPDV.Clone(), t.LossRuns.Clone()
		t.Outs = t.Outs.Clone()
		if t.Errs != nil {
			e := *t.Errs
			t.Errs = &e
		}
	}
	return dst
}

func (f *fakeSource) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

var (
	testStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	testNow   = testStart.Add(time.Hour)
)

// newFakeSource builds n targets 10.x.y.z in group "lan" with a user label,
// every third one down with an ongoing outage, the others with one
// completed outage; target 0 is a host name with RTT histogram samples.
func newFakeSource(n int) *fakeSource {
	f := &fakeSource{}
	f.snap = probe.Snapshot{
		Time:   testNow,
		Source: probe.Source{Name: "fra1"},
		Engine: probe.EngineStats{
			Datapath: "fake", TimestampSource: probe.TimestampKernelRX, PacketsSent: 1000, PacketsReceived: 990,
			Foreign: 3, Invalid: 2, SendErrors: 1, KernelDrops: 4, Skipped: 5, MaxScheduleLag: 2 * time.Millisecond,
			RepliesByTimestamp: [probe.NumTimestampSources]uint64{0, 980, 10}, Targets: n, StartTime: testStart,
			Gaps: 1, GapSeconds: 2.5,
		},
		Vantage: []probe.VantageSnapshot{{Group: "", Up: true}, {Group: "lan", Up: false, OutagesTotal: 1}},
	}
	specs := make([]probe.TargetSpec, n)
	for i := range n {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		specs[i] = probe.TargetSpec{
			Group: "lan", Name: ip.String(), Addr: ip, Interval: time.Second, Timeout: time.Second,
			Labels: []probe.Label{{Name: "site", Value: "fra"}},
		}
		ts := probe.TargetSnapshot{
			Spec: &specs[i], IP: ip, Up: i%3 != 0, StateChange: testStart.Add(time.Minute),
			Sent: 100 + uint64(i), Replies: 90, Lost: 10, Late: 1, Duplicates: 2, Skipped: 3, LastTTL: 64,
			Outs: &probe.OutageRecord{Total: 1},
		}
		ts.EditErrors().ByType[probe.ErrDestUnreachable] = 4
		if i%3 == 0 { // down: ongoing outage
			ts.EditOutages().Recent = []probe.Outage{{Start: testNow.Add(-30 * time.Second), Ongoing: true, Resolution: time.Second}}
		} else { // one completed outage of 7 s
			ts.EditOutages().Recent = []probe.Outage{{Start: testStart.Add(time.Minute), End: testStart.Add(time.Minute + 7*time.Second), Resolution: time.Second}}
			for j, b := range probe.OutageBuckets {
				if b >= 7 {
					ts.EditOutages().Durations[j] = 1
				}
			}
			ts.EditOutages().DurationSum = 7
		}
		f.snap.Targets = append(f.snap.Targets, ts)
	}
	if n > 0 {
		t := &f.snap.Targets[0]
		specs[0].Name, specs[0].Host, specs[0].Addr = "gw.example.test", "gw.example.test", netip.Addr{}
		t.IP = netip.Addr{}
		t.EditErrors().DNS = 2
		// RTTs 1 ms (x3) and 2 ms (x1): native schema-3 indexes of 0.001 and 0.002.
		i1, i2 := nativeIdx(0.001), nativeIdx(0.002)
		t.RTT = &probe.Histogram{Count: 5, Sum: 0.005, ZeroCount: 1, Offset: int32(i1), Buckets: make([]uint64, i2-i1+1)}
		t.RTT.Buckets[0] = 3
		t.RTT.Buckets[i2-i1] = 1
	}
	if n > 1 { // loss runs of 1 (x2) and 2 probes; one IPDV of 1 ms
		t := &f.snap.Targets[1]
		t.Jitter, t.Reordered = 0.0005, 3
		r1, r2 := nativeIdx(1), nativeIdx(2)
		t.LossRuns = &probe.Histogram{Count: 3, Sum: 4, Offset: int32(r1), Buckets: make([]uint64, r2-r1+1)}
		t.LossRuns.Buckets[0], t.LossRuns.Buckets[r2-r1] = 2, 1
		t.IPDV = &probe.Histogram{Count: 1, Sum: 0.001, Offset: -19, Buckets: []uint64{1}} // schema 1: (2^-10, 2^-9.5]
	}
	return f
}

// nativeIdx is the Prometheus schema-3 bucket index of v: the smallest i
// with v <= 2^(i/8), computed independently of the code under test.
func nativeIdx(v float64) int {
	i := -400
	for pow(i) < v {
		i++
	}
	return i
}

func pow(i int) float64 { return math.Exp2(float64(i) / 8) }

func sortedKeys(m map[string][]*metricpb.Metric) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
