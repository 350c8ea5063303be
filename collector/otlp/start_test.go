package otlp

import (
	"context"
	"testing"
	"time"

	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
)

// TestStartTimeOnTheWire pushes to a gRPC receiver and reads the
// StartTimeUnixNano of every icmp.probes.sent point: a target added by a
// reload starts at its own start, the others at the engine start.
func TestStartTimeOnTheWire(t *testing.T) {
	rc := newGRPCReceiver(t, "127.0.0.1:0")
	src := newFakeSource(3)
	added := testStart.Add(3*time.Minute + 250*time.Millisecond)
	src.snap.Targets[2].Created = added
	p := startPusher(t, testConfig("grpc", rc.endpoint), src, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.ForceFlush(ctx); err != nil {
		t.Fatalf("ForceFlush: %v", err)
	}
	want := map[string]time.Time{}
	for i, tg := range src.snap.Targets {
		want[tg.Spec.Name] = testStart
		if i == 2 {
			want[tg.Spec.Name] = added
		}
	}
	got := 0
	for _, m := range flatten(rc.requests()).metrics["icmp.probes.sent"] {
		sum, ok := m.Data.(*metricpb.Metric_Sum)
		if !ok {
			t.Fatalf("icmp.probes.sent is %T", m.Data)
		}
		for _, dp := range sum.Sum.DataPoints {
			target := attrMap(dp.Attributes)["server.address"]
			if w := want[target]; uint64(w.UnixNano()) != dp.StartTimeUnixNano {
				t.Errorf("%s: StartTimeUnixNano %d, want %d (%v)", target, dp.StartTimeUnixNano, w.UnixNano(), w)
			}
			got++
		}
	}
	if got != len(want) {
		t.Fatalf("%d icmp.probes.sent points, want %d", got, len(want))
	}
}
