package otlp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// testConfig is a config with an interval long enough that only explicit
// ForceFlush / Shutdown calls export during a test.
func testConfig(protocol, endpoint string) config.OTLP {
	return config.OTLP{
		Enabled: true, Protocol: protocol, Endpoint: endpoint, Insecure: true,
		Interval: time.Hour, Timeout: 20 * time.Second,
		Headers: map[string]config.Secret{"authorization": "Bearer topsecret"},
	}
}

func startPusher(t *testing.T, cfg config.OTLP, src SnapshotSource, logger *slog.Logger, opts ...Option) *Pusher {
	t.Helper()
	p, err := New(context.Background(), cfg, src, Resource{ServiceVersion: "1.2.3", Source: probe.Source{Name: "fra1", HasLocation: true, Latitude: 50.1, Longitude: 8.7}}, logger, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	})
	return p
}

// snapshotLoop takes a snapshot of src about every millisecond on a
// goroutine of its own, as the engine side (/metrics scrapes) would while a
// push runs, and counts the snapshots taken in loops. stop ends the loop and
// waits for it; the loop is bounded (ten million snapshots) in any case.
func snapshotLoop(src SnapshotSource) (loops *atomic.Int64, stop func()) {
	loops = new(atomic.Int64)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var s *probe.Snapshot
		for i := 0; i < 10_000_000; i++ { // bounded
			select {
			case <-quit:
				return
			default:
			}
			s = src.Snapshot(s)
			loops.Add(1)
			time.Sleep(time.Millisecond)
		}
	}()
	return loops, func() { close(quit); <-done }
}

func TestPushContent(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
	for _, tc := range []struct {
		name     string
		protocol string
		gzip     bool
	}{
		{"grpc", "grpc", false},
		{"grpc gzip", "grpc", true},
		{"http", "http", false},
		{"http gzip", "http", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rc *receiver
			if tc.protocol == "grpc" {
				rc = newGRPCReceiver(t, "127.0.0.1:0")
			} else {
				rc = newHTTPReceiver(t)
			}
			cfg := testConfig(tc.protocol, rc.endpoint)
			if tc.gzip {
				cfg.Compression = "gzip"
			}
			src := newFakeSource(6)
			p := startPusher(t, cfg, src, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := p.ForceFlush(ctx); err != nil {
				t.Fatalf("ForceFlush: %v", err)
			}
			reqs := rc.requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			rc.mu.Lock()
			h := rc.headers[0]
			rc.mu.Unlock()
			if got := h["authorization"] + h["Authorization"]; got != "Bearer topsecret" {
				t.Errorf("authorization header = %q", got)
			}
			if tc.protocol == "http" {
				want := ""
				if tc.gzip {
					want = "gzip"
				}
				if h["content-encoding"] != want {
					t.Errorf("content-encoding = %q, want %q", h["content-encoding"], want)
				}
			}
			checkContent(t, flatten(reqs))
		})
	}
}

func checkContent(t *testing.T, r received) {
	t.Helper()
	// Resource.
	for k, want := range map[string]string{
		"service.name": "icmp_exporter", "service.version": "1.2.3", "icmp.source": "fra1",
		"geo.location.lat": "50.1", "geo.location.lon": "8.7", "deployment.environment.name": "test",
	} {
		if got := r.resource[k]; got != want {
			t.Errorf("resource %s = %q, want %q", k, got, want)
		}
	}
	if id, err := uuid.Parse(r.resource["service.instance.id"]); err != nil || id.Version() != 4 {
		t.Errorf("service.instance.id = %q, want a random UUID (%v)", r.resource["service.instance.id"], err)
	}
	for _, k := range []string{"telemetry.sdk.name", "telemetry.sdk.language", "telemetry.sdk.version"} {
		if r.resource[k] == "" {
			t.Errorf("resource lacks %s (all: %v)", k, r.resource)
		}
	}
	if !r.scopes[ScopeName] || len(r.scopes) != 1 {
		t.Errorf("scopes = %v, want only %s", r.scopes, ScopeName)
	}

	// Names, kinds and units.
	want := map[string][2]string{
		"icmp.up":                          {"gauge", ""},
		"icmp.probes.sent":                 {"sum", "{probe}"},
		"icmp.replies":                     {"sum", "{reply}"},
		"icmp.probes.lost":                 {"sum", "{probe}"},
		"icmp.replies.late":                {"sum", "{reply}"},
		"icmp.replies.duplicate":           {"sum", "{reply}"},
		"icmp.probes.skipped":              {"sum", "{probe}"},
		"icmp.errors":                      {"sum", "{error}"},
		"icmp.dns.errors":                  {"sum", "{error}"},
		"icmp.rtt":                         {"exponential_histogram", "s"},
		"icmp.reply.ttl":                   {"gauge", "{hop}"},
		"icmp.outages":                     {"sum", "{outage}"},
		"icmp.outage.duration":             {"histogram", "s"},
		"icmp.last_outage.start_timestamp": {"gauge", "s"},
		"icmp.last_outage.end_timestamp":   {"gauge", "s"},
		"icmp.last_outage.duration":        {"gauge", "s"},
		"icmp.outage.resolution":           {"gauge", "s"},
		"icmp.state_change.timestamp":      {"gauge", "s"},
		"icmp.engine.info":                 {"gauge", ""},
		"icmp.engine.packets.sent":         {"sum", "{packet}"},
		"icmp.engine.packets.received":     {"sum", "{packet}"},
		"icmp.engine.foreign_replies":      {"sum", "{reply}"},
		"icmp.engine.invalid_packets":      {"sum", "{packet}"},
		"icmp.engine.send_errors":          {"sum", "{error}"},
		"icmp.engine.kernel_drops":         {"sum", "{packet}"},
		"icmp.engine.probes.skipped":       {"sum", "{probe}"},
		"icmp.engine.replies":              {"sum", "{reply}"},
		"icmp.engine.clock_step_replies":   {"sum", "{reply}"},
		"icmp.engine.schedule_lag":         {"gauge", "s"},
		"icmp.engine.targets":              {"gauge", "{target}"},
		"icmp.engine.gaps":                 {"sum", "{gap}"},
		"icmp.engine.gap":                  {"sum", "s"},
		"icmp.vantage.up":                  {"gauge", ""},
		"icmp.vantage.outages":             {"sum", "{outage}"},
		"icmp.ipdv":                        {"exponential_histogram", "s"},
		"icmp.loss_run.length":             {"exponential_histogram", "{probe}"},
		"icmp.jitter":                      {"gauge", "s"},
		"icmp.reordered_replies":           {"sum", "{reply}"},
	}
	for name, w := range want {
		_, kind, unit := r.points(name)
		if kind != w[0] || unit != w[1] {
			t.Errorf("%s: kind %q unit %q, want %q %q", name, kind, unit, w[0], w[1])
		}
	}
	for _, name := range sortedKeys(r.metrics) {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected metric %s", name)
		}
		if strings.HasSuffix(name, "_total") || strings.HasSuffix(name, "seconds") {
			t.Errorf("%s: unit or _total suffix in an OTel name", name)
		}
	}

	// Attributes and values per target.
	up, _, _ := r.points("icmp.up")
	if len(up) != 6 {
		t.Fatalf("icmp.up: %d points, want 6", len(up))
	}
	ups := byTarget(up)
	host := ups["gw.example.test"]
	if _, ok := host.attrs["network.peer.address"]; ok {
		t.Errorf("unresolved host name has network.peer.address: %v", host.attrs)
	}
	p1 := ups["10.0.0.1"]
	wantAttrs := map[string]string{"server.address": "10.0.0.1", "network.peer.address": "10.0.0.1", "icmp.group": "lan", "site": "fra"}
	if fmt.Sprint(p1.attrs) != fmt.Sprint(wantAttrs) {
		t.Errorf("attributes = %v, want %v", p1.attrs, wantAttrs)
	}
	if p1.value != 1 || ups["10.0.0.3"].value != 0 {
		t.Errorf("icmp.up values: 10.0.0.1=%v (want 1) 10.0.0.3=%v (want 0)", p1.value, ups["10.0.0.3"].value)
	}
	sent, _, _ := r.points("icmp.probes.sent")
	if v := byTarget(sent)["10.0.0.5"].value; v != 105 {
		t.Errorf("icmp.probes.sent 10.0.0.5 = %v, want 105", v)
	}
	errs, _, _ := r.points("icmp.errors")
	if len(errs) != 6 || byTarget(errs)["10.0.0.2/destination_unreachable"].value != 4 {
		t.Errorf("icmp.errors: %d points, want 6 with destination_unreachable=4: %v", len(errs), errs)
	}
	dns, _, _ := r.points("icmp.dns.errors")
	if len(dns) != 1 || dns[0].value != 2 {
		t.Errorf("icmp.dns.errors: want one point (host name target) of 2, got %v", dns)
	}
	ends, _, _ := r.points("icmp.last_outage.end_timestamp")
	endsBy := byTarget(ends)
	if endsBy["10.0.0.3"].value != 0 || endsBy["10.0.0.1"].value != float64(testStart.Add(67*time.Second).Unix()) {
		t.Errorf("last outage end: ongoing %v (want 0), completed %v", endsBy["10.0.0.3"].value, endsBy["10.0.0.1"].value)
	}
	durs, _, _ := r.points("icmp.last_outage.duration")
	if v := byTarget(durs)["10.0.0.3"].value; v != 30 {
		t.Errorf("ongoing outage duration = %v, want 30 (now - start)", v)
	}
	vup, _, _ := r.points("icmp.vantage.up")
	if len(vup) != 2 || byGroup(vup)[""] != 1 || byGroup(vup)["lan"] != 0 {
		t.Errorf("icmp.vantage.up: %v, want the exporter up and group lan down", vup)
	}
	if gaps, _, _ := r.points("icmp.engine.gap"); len(gaps) != 1 || gaps[0].value != 2.5 {
		t.Errorf("icmp.engine.gap: %v, want 2.5", gaps)
	}
	jit, _, _ := r.points("icmp.jitter")
	reo, _, _ := r.points("icmp.reordered_replies")
	if byTarget(jit)["10.0.0.1"].value != 0.0005 || byTarget(reo)["10.0.0.1"].value != 3 || len(jit) != 6 {
		t.Errorf("icmp.jitter %v, icmp.reordered_replies %v: want 0.0005 and 3 for 10.0.0.1", jit, reo)
	}
	ipdv, _, _ := r.points("icmp.ipdv")
	if e := byTarget(ipdv)["10.0.0.1"].exp; e.GetScale() != probe.IPDVSchema || e.GetPositive().GetOffset() != -20 || e.GetCount() != 1 {
		t.Errorf("icmp.ipdv of 10.0.0.1 = %v, want scale %d, one observation in bucket -20", e, probe.IPDVSchema)
	}
	runs, _, _ := r.points("icmp.loss_run.length")
	if e := byTarget(runs)["10.0.0.1"].exp; e.GetCount() != 3 || e.GetSum() != 4 || e.GetScale() != probe.NativeSchema ||
		e.GetPositive().GetOffset() != int32(nativeIdx(1))-1 || e.GetPositive().GetBucketCounts()[0] != 2 {
		t.Errorf("icmp.loss_run.length of 10.0.0.1 = %v, want runs 1, 1, 2", e)
	}
	ts, _, _ := r.points("icmp.engine.replies")
	if len(ts) != probe.NumTimestampSources {
		t.Errorf("icmp.engine.replies: %d points, want one per timestamp source", len(ts))
	}

	// Outage duration histogram: completed outages only.
	od, _, _ := r.points("icmp.outage.duration")
	odBy := byTarget(od)
	if h := odBy["10.0.0.3"].hist; h.GetCount() != 0 {
		t.Errorf("ongoing outage counted as completed: %v", h)
	}
	h := odBy["10.0.0.1"].hist
	if h.GetCount() != 1 || h.GetSum() != 7 || len(h.BucketCounts) != len(probe.OutageBuckets)+1 {
		t.Fatalf("outage duration histogram = %v", h)
	}
	for i, b := range h.ExplicitBounds {
		var want uint64
		if b == 10 { // 7 s falls in (5, 10]
			want = 1
		}
		if h.BucketCounts[i] != want {
			t.Errorf("outage bucket le=%v: %d, want %d", b, h.BucketCounts[i], want)
		}
	}

	// RTT exponential histogram: base 2^(1/8), 3 x 1 ms and 1 x 2 ms in the
	// buckets that contain those values, one zero.
	rtt, _, _ := r.points("icmp.rtt")
	if len(rtt) != 6 {
		t.Fatalf("icmp.rtt: %d points, want 6", len(rtt))
	}
	e := byTarget(rtt)["gw.example.test"].exp
	if e.Scale != probe.NativeSchema || e.Count != 5 || e.Sum == nil || *e.Sum != 0.005 || e.ZeroCount != 1 || e.ZeroThreshold != probe.NativeZeroThreshold {
		t.Fatalf("rtt point = %v", e)
	}
	base := math.Exp2(math.Exp2(-float64(e.Scale)))
	var total uint64
	for i, c := range e.Positive.BucketCounts {
		if c == 0 {
			continue
		}
		total += c
		idx := int(e.Positive.Offset) + i
		lo, hi := math.Pow(base, float64(idx)), math.Pow(base, float64(idx+1))
		var v float64
		switch c {
		case 3:
			v = 0.001
		case 1:
			v = 0.002
		default:
			t.Fatalf("unexpected count %d", c)
		}
		if !(lo < v && v <= hi*(1+1e-12)) {
			t.Errorf("OTel bucket %d (%g, %g] holds count %d, but its value %g lies outside", idx, lo, hi, c, v)
		}
	}
	if total+e.ZeroCount != e.Count {
		t.Errorf("bucket counts %d + zero %d != count %d", total, e.ZeroCount, e.Count)
	}
	if n := len(e.Positive.BucketCounts); e.Positive.BucketCounts[0] == 0 || e.Positive.BucketCounts[n-1] == 0 {
		t.Errorf("empty edge buckets not trimmed: %v", e.Positive.BucketCounts)
	}
	if empty := byTarget(rtt)["10.0.0.1"].exp; empty.Count != 0 || len(empty.Positive.GetBucketCounts()) != 0 {
		t.Errorf("empty histogram = %v", empty)
	}
}

// TestTenThousandTargets checks that no series is folded away by a
// cardinality limit and that the export is split into requests a default
// gRPC server accepts.
func TestTenThousandTargets(t *testing.T) {
	const n = 10000
	rc := newGRPCReceiver(t, "127.0.0.1:0")
	cfg := testConfig("grpc", rc.endpoint)
	// Generous: with -race on a loaded 2-core machine one export of 86
	// requests (each decoded by the in-process receiver) took 42 s.
	cfg.Interval, cfg.Timeout = time.Hour, 5*time.Minute
	p := startPusher(t, cfg, newFakeSource(n), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	if err := p.ForceFlush(ctx); err != nil {
		t.Fatalf("ForceFlush: %v", err)
	}
	took := time.Since(start)
	reqs := rc.requests()
	r := flatten(reqs)
	for _, name := range []string{"icmp.up", "icmp.probes.sent", "icmp.rtt", "icmp.outage.duration"} {
		pts, _, _ := r.points(name)
		seen := make(map[string]bool, len(pts))
		for _, pt := range pts {
			if _, over := pt.attrs["otel.metric.overflow"]; over {
				t.Fatalf("%s: overflow series present", name)
			}
			seen[pt.attrs["server.address"]] = true
		}
		if len(pts) != n || len(seen) != n {
			t.Errorf("%s: %d points, %d distinct targets; want %d", name, len(pts), len(seen), n)
		}
	}
	rc.mu.Lock()
	maxSize := 0
	for _, s := range rc.sizes {
		maxSize = max(maxSize, s)
	}
	rc.mu.Unlock()
	st := p.Stats()
	if st.LastDataPoints < 15*n {
		t.Errorf("data points = %d, want >= %d", st.LastDataPoints, 15*n)
	}
	if len(reqs) < st.LastDataPoints/DefaultMaxBatchPoints {
		t.Errorf("%d requests for %d points; want batches of at most %d", len(reqs), st.LastDataPoints, DefaultMaxBatchPoints)
	}
	t.Logf("%d targets: %d data points in %d requests, largest %d bytes, export took %s", n, st.LastDataPoints, len(reqs), maxSize, took)
}

// TestCollectorDown covers a refused connection and a collector slower
// than the timeout: exports fail within the timeout, are counted, logged
// once per state change, and never block a concurrent snapshot loop.
func TestCollectorDown(t *testing.T) {
	for _, tc := range []struct {
		name string
		slow bool
	}{
		{"refused", false},
		{"slow", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var endpoint string
			var rc *receiver
			if tc.slow {
				rc = newGRPCReceiver(t, "127.0.0.1:0")
				rc.delay = time.Hour
				endpoint = rc.endpoint
			} else {
				lis, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				endpoint = lis.Addr().String()
				lis.Close() // nothing listens there now
			}
			logs := &lab.SyncBuffer{}
			logger := slog.New(slog.NewTextHandler(logs, nil))
			cfg := testConfig("grpc", endpoint)
			cfg.Timeout = 1500 * time.Millisecond
			src := newFakeSource(50)
			p := startPusher(t, cfg, src, logger)

			// The engine side: a loop taking snapshots as /metrics would.
			loops, stopLoop := snapshotLoop(src)
			defer stopLoop()

			for i := range 2 {
				before := loops.Load()
				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				err := p.ForceFlush(ctx)
				cancel()
				took := time.Since(start)
				during := loops.Load() - before
				if err == nil {
					t.Fatalf("export %d to a dead collector succeeded", i)
				}
				if took > cfg.Timeout+20*time.Second {
					t.Errorf("export %d took %s, not bounded by the %s timeout", i, took, cfg.Timeout)
				}
				if during == 0 {
					t.Errorf("snapshot loop made no progress during a %s failed export: blocked", took)
				}
				t.Logf("export %d failed after %s (%v); snapshot loop ran %d times meanwhile", i, took, err, during)
			}
			st := p.Stats()
			if st.Failures != 2 || st.Exports != 2 || !st.Failing {
				t.Errorf("stats = %+v, want 2 failures of 2 exports, failing", st)
			}
			if n := strings.Count(logs.String(), "OTLP export failing"); n != 1 {
				t.Errorf("failure logged %d times, want once per state change:\n%s", n, logs)
			}
			if strings.Contains(logs.String(), "topsecret") {
				t.Errorf("log leaks a header value:\n%s", logs)
			}
			// /metrics view of the failures.
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(p)
			if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP icmp_exporter_otlp_exports_failed_total OTLP export cycles that failed after retries.
# TYPE icmp_exporter_otlp_exports_failed_total counter
icmp_exporter_otlp_exports_failed_total 2
# HELP icmp_exporter_otlp_exports_total OTLP export cycles attempted (each may send several requests).
# TYPE icmp_exporter_otlp_exports_total counter
icmp_exporter_otlp_exports_total 2
`), "icmp_exporter_otlp_exports_failed_total", "icmp_exporter_otlp_exports_total"); err != nil {
				t.Error(err)
			}

			// Recovery: the collector comes back (same port for "refused").
			if tc.slow {
				rc.mu.Lock()
				rc.delay = 0
				rc.mu.Unlock()
			} else {
				rc = newGRPCReceiver(t, endpoint)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var err error
			for range 20 { // the gRPC connection may still be in back-off
				if err = p.ForceFlush(ctx); err == nil {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("export after recovery: %v", err)
			}
			if n := strings.Count(logs.String(), "OTLP export recovered"); n != 1 {
				t.Errorf("recovery logged %d times, want 1:\n%s", n, logs)
			}
			if len(rc.requests()) == 0 {
				t.Errorf("recovered collector received nothing")
			}
		})
	}
}

func TestShutdownUnreachable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + lis.Addr().String() + "/v1/metrics"
	lis.Close()
	cfg := testConfig("http", endpoint)
	cfg.Timeout = time.Second
	p, err := New(context.Background(), cfg, newFakeSource(3), Resource{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown with an unreachable collector returned nil")
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("Shutdown took %s despite the 1s timeout", took)
	}
	if err2 := p.Shutdown(ctx); err2 == nil {
		t.Errorf("second Shutdown lost the error")
	}
	if err := p.ForceFlush(ctx); err == nil {
		t.Errorf("ForceFlush after Shutdown succeeded")
	}
	if st := p.Stats(); st.Failures != 1 {
		t.Errorf("failures = %d, want 1", st.Failures)
	}
}

// TestPeriodicExport checks the ticker path: with a short interval the
// receiver gets exports without ForceFlush.
func TestPeriodicExport(t *testing.T) {
	rc := newGRPCReceiver(t, "127.0.0.1:0")
	cfg := testConfig("grpc", rc.endpoint)
	cfg.Interval, cfg.Timeout = 200*time.Millisecond, 200*time.Millisecond
	src := newFakeSource(2)
	startPusher(t, cfg, src, nil)
	deadline := time.Now().Add(60 * time.Second)
	for len(rc.requests()) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(rc.requests()); n < 2 {
		t.Fatalf("got %d periodic exports, want >= 2", n)
	}
	if src.callCount() < 2 {
		t.Errorf("snapshot taken %d times", src.callCount())
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  config.OTLP
		msg  string
	}{
		{"protocol", config.OTLP{Protocol: "udp"}, "otlp.protocol"},
		{"http without URL", config.OTLP{Protocol: "http", Endpoint: "c:4318"}, "otlp.endpoint"},
		{"missing CA file", config.OTLP{Endpoint: "c:4317", TLS: config.OTLPTLS{CAFile: "/nonexistent/ca.pem"}}, "read otlp ca_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(context.Background(), tc.cfg, newFakeSource(1), Resource{}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.msg)
			}
		})
	}
}

// BenchmarkExport10k measures the sending side of one export of 10k
// targets (snapshot conversion, OTLP transform, protobuf, HTTP) against a
// server that discards the body.
func BenchmarkExport10k(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	cfg := testConfig("http", srv.URL+"/v1/metrics")
	cfg.Timeout = time.Minute
	p, err := New(context.Background(), cfg, newFakeSource(10000), Resource{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := p.ForceFlush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(p.Stats().LastDataPoints), "points/op")
}
