package trace

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

func TestBadInputBeforeAnyPacket(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no target", []string{}, "'--target' not provided"},
		{"rounds", []string{"--target", "192.0.2.1", "--rounds", "0"}, "--rounds 0"},
		{"max hops", []string{"--target", "192.0.2.1", "--max-hops", "99"}, "--max-hops 99"},
		{"timeout", []string{"--target", "192.0.2.1", "--timeout", "0s"}, "--timeout"},
		{"not unicast", []string{"--target", "224.0.0.1"}, "not a unicast address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Main(tc.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("exit %d, stderr %q, want 2 and %q", code, errb.String(), tc.want)
			}
			if strings.Contains(errb.String(), "tracing") {
				t.Error("started probing despite bad input")
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	hop := func(ttl int, addr string, ms int) probe.PathHop {
		if addr == "" {
			return probe.PathHop{TTL: ttl}
		}
		return probe.PathHop{TTL: ttl, Addr: a(addr), RTT: time.Duration(ms) * time.Millisecond}
	}
	rounds := []probe.PathResult{
		{Reached: true, HopCount: 3, Hops: []probe.PathHop{hop(1, "10.0.0.1", 1), hop(2, "10.0.1.1", 2), hop(3, "10.9.0.1", 3)}},
		{Reached: true, HopCount: 3, Hops: []probe.PathHop{hop(1, "10.0.0.1", 3), hop(2, "", 0), hop(3, "10.9.0.1", 5)}},
		{Reached: true, HopCount: 3, Hops: []probe.PathHop{hop(1, "10.0.0.1", 2), hop(2, "10.0.2.1", 4), hop(3, "10.9.0.1", 4)}},
	}
	rep := summarize("t", a("10.9.0.1"), rounds)
	if len(rep.Hops) != 3 {
		t.Fatalf("%d hops", len(rep.Hops))
	}
	h1, h2, h3 := rep.Hops[0], rep.Hops[1], rep.Hops[2]
	if h1.Sent != 3 || h1.Received != 3 || h1.BestMs != 1 || h1.WorstMs != 3 || h1.AvgMs != 2 || h1.LastMs != 2 || h1.LossPct != 0 {
		t.Errorf("hop 1 %+v", h1)
	}
	if h2.Received != 2 || h2.LossPct < 33.3 || h2.LossPct > 33.4 || len(h2.Addrs) != 2 {
		t.Errorf("hop 2 %+v", h2)
	}
	if !h3.Target || h3.Addrs[0] != "10.9.0.1" {
		t.Errorf("hop 3 %+v", h3)
	}
	var out bytes.Buffer
	printReport(&out, Options{}, rep)
	if !strings.Contains(out.String(), "10.0.1.1,10.0.2.1") || !strings.Contains(out.String(), " 33.3%") {
		t.Errorf("table:\n%s", out.String())
	}
}
