//go:build linux

package probe_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// pathEvents collects the path snapshots an engine reports.
type pathEvents struct {
	mu  sync.Mutex
	evs []probe.PathEvent
}

func (p *pathEvents) add(e probe.PathEvent) {
	p.mu.Lock()
	p.evs = append(p.evs, e)
	p.mu.Unlock()
}

// find returns the first snapshot for reason from the from-th on, and
// whether there is one.
func (p *pathEvents) find(from int, reason string) (probe.PathResult, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.evs[min(from, len(p.evs)):] {
		if e.Result.Reason == reason {
			return e.Result, true
		}
	}
	return probe.PathResult{}, false
}

func (p *pathEvents) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.evs)
}

func (p *pathEvents) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := ""
	for _, e := range p.evs {
		s += fmt.Sprintf("[%s reached=%v hops=%d: %s] ", e.Result.Reason, e.Result.Reached, e.Result.HopCount, e.Result.String())
	}
	return s
}

// TestPathSnapshotRouterLab: probe namespace → three routers → target.
// The first up takes a baseline (4 hops). Cutting the link behind the
// second router takes the target down, and the down snapshot names the
// second router as last responding hop after probing the baseline's hop
// count; restored, the up snapshot reaches the target again and the two
// changes are counted. IPv4 and IPv6, ping and raw sockets and afpacket.
func TestPathSnapshotRouterLab(t *testing.T) {
	c := lab.NewChain(t, 3)
	eachMode(t, c, func(t *testing.T, dp string, v6 bool) { testPathCut(t, c, dp, v6) })
}

// eachMode runs f in a subtest per receive mode (ping and raw sockets,
// afpacket) and address family, on chain c.
func eachMode(t *testing.T, c *lab.Chain, f func(t *testing.T, dp string, v6 bool)) {
	for _, mode := range modes {
		for _, v6 := range []bool{false, true} {
			name := mode + "/ipv4"
			if v6 {
				name = mode + "/ipv6"
			}
			t.Run(name, func(t *testing.T) {
				c.PingSockets(mode != "raw")
				f(t, useMode(c.Lab, mode), v6)
			})
		}
	}
}

func testPathCut(t *testing.T, c *lab.Chain, dp string, v6 bool) {
	const iv, timeout = 500 * time.Millisecond, 200 * time.Millisecond
	target := c.Addrs(1, v6)[0]
	routers := c.Router4
	if v6 {
		routers = c.Router6
	}
	spec := probe.Spec{Engine: probe.EngineSpec{Datapath: dp}, Targets: []probe.TargetSpec{{
		Group: "path", Name: target.String(), Addr: target, Interval: iv, Timeout: timeout,
		PayloadSize: probe.MinPayload, DownAfter: 2, UpAfter: 1,
		Path: probe.PathSpec{Enabled: true, MaxHops: 10},
	}}}
	var evs pathEvents
	eng := startEngine(t, c.Lab, spec, probe.Options{OnPath: evs.add})
	summary := func() probe.TargetSnapshot { return eng.Snapshot(nil).Targets[0] }
	// The first snapshot that reaches the target is the baseline: taken
	// at the first up, or (neighbour discovery along a fresh chain can
	// lose the first probes) when the target comes up after that.
	lab.WaitFor(t, 20*time.Second, 50*time.Millisecond, "baseline snapshot", func() (bool, string) {
		s := summary()
		return s.Up && s.Path.HopCount > 0, evs.String()
	})
	info, _ := eng.Path("path", target.String())
	base := *info.Baseline
	if !base.Reached || base.HopCount != 4 || len(base.Hops) != 4 {
		t.Fatalf("baseline %s: want the target at 4 hops", evs.String())
	}
	before, changes := evs.len(), summary().Path.Changes
	for i, r := range routers {
		if base.Hops[i].Addr != r || base.Hops[i].Error != probe.ErrTimeExceeded {
			t.Errorf("baseline hop %d: %+v, want time exceeded from %s", i+1, base.Hops[i], r)
		}
	}
	restore := c.Cut(t, 2)
	defer restore()
	lab.WaitFor(t, 20*time.Second, 50*time.Millisecond, "down snapshot", func() (bool, string) {
		_, ok := evs.find(before, probe.PathReasonDown)
		return ok, evs.String()
	})
	down, _ := evs.find(before, probe.PathReasonDown)
	s := summary()
	if s.Up || len(s.OutageRecord().Recent) == 0 {
		t.Fatalf("target not down: %+v", s)
	}
	// Down is declared DownAfter probes and a timeout after the outage
	// began; the snapshot starts at once.
	o := s.OutageRecord().Recent[len(s.OutageRecord().Recent)-1]
	if d := down.Time.Sub(o.Start); d > 2*iv+timeout+iv {
		t.Errorf("down snapshot started %v after the outage (interval %v)", d, iv)
	}
	if down.Reached || down.LastHop != routers[1] || down.LastHopTTL != 2 || down.Probes != 4 || !down.Changed {
		t.Errorf("down snapshot %+v: want last hop %s at TTL 2 after 4 probes", down, routers[1])
	}
	if !s.Path.HasDownHop || s.Path.DownHop != routers[1] || s.Path.HopCount != 4 || s.Path.Changes != changes+1 {
		t.Errorf("summary while down %+v", s.Path)
	}
	restore()
	lab.WaitFor(t, 20*time.Second, 50*time.Millisecond, "up snapshot", func() (bool, string) {
		_, ok := evs.find(before, probe.PathReasonUp)
		return ok, evs.String()
	})
	up, _ := evs.find(before, probe.PathReasonUp)
	s = summary()
	if !up.Reached || up.HopCount != 4 || up.Changed || up.LastHop != target {
		t.Errorf("up snapshot %+v", up)
	}
	if !s.Up || s.Path.HasDownHop || s.Path.Changes != changes+2 || s.Path.HopCount != 4 {
		t.Errorf("summary after restore %+v", s.Path)
	}
	if st := eng.Snapshot(nil).Engine; st.Foreign != 0 || st.Path.Snapshots != uint64(before+2) {
		t.Errorf("engine: foreign %d, path %+v, want %d snapshots", st.Foreign, st.Path, before+2)
	}
	info, ok := eng.Path("path", target.String())
	if !ok || len(info.History) != before+2 || info.Baseline == nil || info.Baseline.Reason != probe.PathReasonUp {
		t.Errorf("Path: %+v %v", info, ok)
	}
}

// TestPathMTURouterLab: the link behind the second router carries at most
// 1300-byte packets; the path MTU search finds exactly that, over ping and
// raw sockets and afpacket, IPv4 (fragmentation needed) and IPv6 (packet
// too big).
func TestPathMTURouterLab(t *testing.T) {
	c := lab.NewChain(t, 3)
	c.SetMTU(t, 2, 1300)
	eachMode(t, c, func(t *testing.T, dp string, v6 bool) {
		target := c.Addrs(1, v6)[0]
		spec := probe.Spec{Engine: probe.EngineSpec{Datapath: dp}, Targets: []probe.TargetSpec{{
			Group: "mtu", Name: target.String(), Addr: target, Interval: 200 * time.Millisecond, Timeout: 200 * time.Millisecond,
			PayloadSize: probe.MinPayload, DownAfter: 3, UpAfter: 1,
			Path: probe.PathSpec{MaxHops: 10, MTU: probe.MTUSpec{Enabled: true, Max: 1500, Interval: time.Minute}},
		}}}
		eng := startEngine(t, c.Lab, spec, probe.Options{})
		lab.WaitFor(t, 30*time.Second, 50*time.Millisecond, "path MTU", func() (bool, string) {
			s := eng.Snapshot(nil)
			m := s.Targets[0].Path.MTU
			return m.MTU != 0, fmt.Sprintf("%+v up=%v", m, s.Targets[0].Up)
		})
		s := eng.Snapshot(nil)
		if m := s.Targets[0].Path.MTU; m.MTU != 1300 {
			t.Errorf("path MTU %d, want 1300", m.MTU)
		}
		if s.Engine.Foreign != 0 {
			t.Errorf("foreign %d", s.Engine.Foreign)
		}
	})
}
