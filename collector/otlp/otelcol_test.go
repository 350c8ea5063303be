package otlp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

func freePort(t *testing.T) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().(*net.TCPAddr).Port
}

// otelcol is a running collector with the OTLP receiver and the debug
// exporter (detailed) whose output is captured.
type otelcol struct {
	cmd        *exec.Cmd
	out        *lab.SyncBuffer
	grpc, http string
	exited     chan struct{}
}

func startOtelcol(t *testing.T) *otelcol {
	t.Helper()
	bin := lab.Tool(t, "otelcol-icmp") // built by scripts/deps.d/40-otelcol.sh
	c := &otelcol{out: &lab.SyncBuffer{}, exited: make(chan struct{})}
	var err error
	for attempt := 0; attempt < 5; attempt++ { // a free port may be taken meanwhile by a concurrent test
		c.grpc = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		c.http = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg := fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
exporters:
  debug:
    verbosity: detailed
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [debug]
`, c.grpc, c.http)
		path := filepath.Join(t.TempDir(), "otelcol.yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		c.out = &lab.SyncBuffer{}
		c.exited = make(chan struct{})
		c.cmd = exec.Command(bin, "--config=file:"+path)
		c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
		c.cmd.Env = []string{"PATH=/usr/bin:/bin"} // no OTEL_* from the test environment
		if err = c.cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", bin, err)
		}
		go func(cmd *exec.Cmd, ch chan struct{}) { _ = cmd.Wait(); close(ch) }(c.cmd, c.exited)
		cmd, ch := c.cmd, c.exited
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-ch
		})
		err = c.waitFor("Everything is ready", 90*time.Second)
		if err == nil {
			return c
		}
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	t.Fatalf("collector did not start: %v\n%s", err, c.out)
	return nil
}

// waitFor polls the collector output for s (bounded).
func (c *otelcol) waitFor(s string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if strings.Contains(c.out.String(), s) {
			return nil
		}
		select {
		case <-c.exited:
			if strings.Contains(c.out.String(), s) {
				return nil
			}
			return errors.New("collector exited")
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%q not in the collector output after %s", s, d)
}

func (c *otelcol) stop(t *testing.T) {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

var dataPointsRE = regexp.MustCompile(`"data points": (\d+)`)

// dataPointsLogged sums the "data points" of the debug exporter's summary
// lines whose record mentions marker (the service.instance.id).
func (c *otelcol) dataPointsLogged() int {
	n := 0
	for _, m := range dataPointsRE.FindAllStringSubmatch(c.out.String(), -1) {
		v, _ := strconv.Atoi(m[1])
		n += v
	}
	return n
}

// TestRealCollector pushes to a real OpenTelemetry Collector over gRPC and
// HTTP, reads what its debug exporter printed, then stops the collector
// while the pusher runs and checks that exports fail without stalling a
// concurrent snapshot loop.
func TestRealCollector(t *testing.T) {
	col := startOtelcol(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	total := 0
	for _, proto := range []struct{ name, endpoint string }{
		{"grpc", col.grpc},
		{"http", "http://" + col.http + "/v1/metrics"},
	} {
		cfg := testConfig(proto.name, proto.endpoint)
		src := newFakeSource(4)
		id := "itest-" + proto.name
		p, err := New(ctx, cfg, src, Resource{InstanceID: id, ServiceVersion: "9.9.9", Source: probe.Source{Name: "lab"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.ForceFlush(ctx); err != nil {
			t.Fatalf("%s: push to the collector: %v\n%s", proto.name, err, col.out)
		}
		total += p.Stats().LastDataPoints
		for _, want := range []string{
			"service.instance.id: Str(" + id + ")",
			"icmp.source: Str(lab)",
			"-> Name: icmp.rtt",
			"-> DataType: ExponentialHistogram",
			"-> Name: icmp.probes.sent",
			"-> Unit: {probe}",
			"-> server.address: Str(gw.example.test)",
			"-> network.peer.address: Str(10.0.0.3)",
			"-> error.type: Str(destination_unreachable)",
		} {
			if err := col.waitFor(want, 60*time.Second); err != nil {
				t.Errorf("%s: %v", proto.name, err)
			}
		}
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("%s: Shutdown: %v", proto.name, err)
		}
		total += p.Stats().LastDataPoints // the final export of Shutdown
	}
	deadline := time.Now().Add(60 * time.Second)
	for col.dataPointsLogged() < total && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if got := col.dataPointsLogged(); got != total {
		t.Errorf("collector logged %d data points, pusher sent %d", got, total)
	}
	if t.Failed() || os.Getenv("OTELCOL_DUMP") != "" {
		t.Logf("collector output:\n%s", col.out)
		return
	}

	// Stop the collector mid-run.
	cfg := testConfig("grpc", col.grpc)
	cfg.Interval, cfg.Timeout = 300*time.Millisecond, 300*time.Millisecond
	src := newFakeSource(20)
	p, err := New(ctx, cfg, src, Resource{InstanceID: "itest-stop"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Shutdown(context.Background()) }()
	if err := col.waitFor("itest-stop", 60*time.Second); err != nil {
		t.Fatalf("periodic export did not arrive: %v", err)
	}
	loops, stopLoop := snapshotLoop(src)
	defer stopLoop()

	col.stop(t)
	failedBefore := p.Stats().Failures
	before := loops.Load()
	if err := p.ForceFlush(ctx); err == nil {
		t.Errorf("export to a stopped collector succeeded")
	}
	if loops.Load() == before {
		t.Errorf("snapshot loop stalled during a failed export")
	}
	// The periodic loop keeps failing without stalling anything.
	deadline = time.Now().Add(60 * time.Second)
	for p.Stats().Failures < failedBefore+3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	st := p.Stats()
	if st.Failures < failedBefore+3 || !st.Failing {
		t.Errorf("stats after the collector stopped: %+v (failures before %d)", st, failedBefore)
	}
	mid := loops.Load()
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	if err := p.Shutdown(sctx); err == nil {
		t.Errorf("Shutdown with the collector gone returned nil")
	}
	if loops.Load() <= before || mid <= before {
		t.Errorf("snapshot loop stalled: %d iterations before, %d after", before, loops.Load())
	}
	t.Logf("collector received %d data points over gRPC and HTTP; after stopping it: %d failed exports, snapshot loop ran %d times", total, st.Failures, loops.Load()-before)
}
