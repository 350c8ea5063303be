package probe_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/probe/probetest"
)

// Watch one host for an outage. A fake network stands in for the real
// datapath here (leave Options.Datapath nil to ping for real); it drops
// every probe sent during 300 ms.
func Example_watchOutage() {
	start := time.Now()
	net := &probetest.Network{Respond: probetest.Window(start.Add(100*time.Millisecond), start.Add(400*time.Millisecond), time.Millisecond)}
	outages := make(chan probe.Outage, 4)
	eng, err := probe.New(probe.Spec{Targets: []probe.TargetSpec{{
		Group: "example", Name: "db-1", Addr: netip.MustParseAddr("192.0.2.10"),
		Interval: 10 * time.Millisecond, Timeout: 50 * time.Millisecond,
		PayloadSize: probe.MinPayload, DownAfter: 3, UpAfter: 1,
	}}}, probe.Options{Datapath: net, OnOutage: func(ev probe.OutageEvent) { outages <- ev.Outage }})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer eng.Close()
	for {
		select {
		case o := <-outages:
			if o.Ongoing {
				fmt.Println("down")
				continue
			}
			// About 300 ms: from the first probe dropped to the first
			// answered (a busy machine can delay either).
			fmt.Println("outage over, measured:", o.End.After(o.Start))
		case <-time.After(time.Minute):
			fmt.Println("no outage within a minute")
		}
		break
	}
	// Output:
	// down
	// outage over, measured: true
}

// Read the state of every target from a Snapshot, as the collectors do.
func ExampleEngine_Snapshot() {
	eng, err := probe.New(probe.Spec{Targets: []probe.TargetSpec{{
		Group: "example", Name: "192.0.2.1", Addr: netip.MustParseAddr("192.0.2.1"),
		Interval: 10 * time.Millisecond, Timeout: 10 * time.Millisecond,
		PayloadSize: probe.MinPayload, DownAfter: 3, UpAfter: 1,
	}}}, probe.Options{Datapath: &probetest.Network{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer eng.Close()
	var snap *probe.Snapshot
	for range 500 {
		time.Sleep(10 * time.Millisecond)
		if snap = eng.Snapshot(snap); snap.Targets[0].Up {
			break
		}
	}
	t := snap.Targets[0]
	fmt.Println(t.Spec.Name, "up:", t.Up, "rtt recorded:", t.RTT.Count > 0)
	// Output: 192.0.2.1 up: true rtt recorded: true
}
