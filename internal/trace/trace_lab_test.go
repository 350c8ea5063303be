//go:build linux

package trace

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// TestTraceRouterLab: the probe namespace reaches the target through three
// routers; trace names each router and the target, with no loss, over
// ping sockets and afpacket, IPv4 and IPv6.
func TestTraceRouterLab(t *testing.T) {
	c := lab.NewChain(t, 3)
	for _, dp := range []string{probe.DatapathICMP, probe.DatapathAFPacket} {
		for _, v6 := range []bool{false, true} {
			target := c.Addrs(1, v6)[0]
			routers := c.Router4
			if v6 {
				routers = c.Router6
			}
			t.Run(dp+"/"+target.String(), func(t *testing.T) {
				var out, errb bytes.Buffer
				o := Options{Target: target.String(), Rounds: 3, Interval: 200 * time.Millisecond, Timeout: 500 * time.Millisecond,
					MaxHops: 10, JSON: true, Datapath: dp}
				if err := c.Do(func() error { return Run(context.Background(), o, &out, &errb) }); err != nil {
					t.Fatalf("%v (stderr %s)", err, errb.String())
				}
				var rep Report
				if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
					t.Fatalf("%v: %s", err, out.String())
				}
				if rep.Rounds != 3 || len(rep.Hops) != 4 {
					t.Fatalf("report %s", out.String())
				}
				for i, h := range rep.Hops {
					want := target.String()
					if i < 3 {
						want = routers[i].String()
					}
					// ARP and neighbour discovery along a fresh chain may
					// cost the first round an answer.
					if len(h.Addrs) != 1 || h.Addrs[0] != want || h.Received < 2 || h.Sent != 3 || h.BestMs <= 0 {
						t.Errorf("hop %d %+v, want %s", i+1, h, want)
					}
				}
				if !rep.Hops[3].Target {
					t.Errorf("hop 4 is not marked as the target")
				}
			})
		}
	}
}
