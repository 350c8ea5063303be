package otlp

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// TestRealEngine wires a real probe.Engine pinging loopback (the only
// address it sends to) to a Pusher and checks that measured RTTs arrive at
// an OTLP receiver: the engine satisfies SnapshotSource and one snapshot
// feeds the push.
func TestRealEngine(t *testing.T) {
	spec := probe.Spec{
		Source: probe.Source{Name: "loopback-test"},
		Targets: []probe.TargetSpec{{
			Group: "lo", Name: "127.0.0.1", Addr: netip.MustParseAddr("127.0.0.1"),
			Interval: 50 * time.Millisecond, Timeout: time.Second, PayloadSize: probe.MinPayload,
			DownAfter: 3, UpAfter: 1, OutageHistory: 1,
		}},
	}
	engine, err := probe.New(spec, probe.Options{})
	lab.SkipUnprivileged(t, err, "ping sockets or CAP_NET_RAW to start the engine", probe.ErrNotSupported)
	defer engine.Close()

	rc := newGRPCReceiver(t, "127.0.0.1:0")
	p := startPusher(t, testConfig("grpc", rc.endpoint), engine, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var count uint64
	for i := 0; i < 100 && count == 0; i++ { // bounded: about 10 s
		time.Sleep(100 * time.Millisecond)
		if err := p.ForceFlush(ctx); err != nil {
			t.Fatalf("ForceFlush: %v", err)
		}
		reqs := rc.requests()
		pts, _, _ := flatten(reqs[len(reqs)-1:]).points("icmp.rtt")
		if len(pts) == 1 {
			count = pts[0].exp.Count
			if pts[0].attrs["server.address"] != "127.0.0.1" || pts[0].attrs["network.peer.address"] != "127.0.0.1" {
				t.Fatalf("attributes = %v", pts[0].attrs)
			}
		}
	}
	if count == 0 {
		t.Fatalf("no RTT measured by the engine arrived at the receiver")
	}
	r := flatten(rc.requests())
	if r.resource["icmp.source"] != "fra1" { // startPusher's Resource wins over the spec's source
		t.Errorf("resource icmp.source = %q", r.resource["icmp.source"])
	}
	info, _, _ := r.points("icmp.engine.info")
	if len(info) != 1 || info[0].attrs["icmp.datapath"] == "" {
		t.Errorf("icmp.engine.info = %v", info)
	}
	t.Logf("engine datapath %s: %d RTTs pushed", info[0].attrs["icmp.datapath"], count)
}
