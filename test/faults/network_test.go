//go:build linux

package faults

import (
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// extraSource4 is a second address of the probe namespace that
// TestNetworkFaults' "source" case makes the exporter send from.
const extraSource4 = "10.250.254.1"

// TestNetworkFaults breaks the network under a running exporter: the
// probe-side link loses its carrier or is set down, the route to the
// targets is removed, the configured source address disappears. Each case
// checks that the process lives, that exactly the targets behind the fault
// go down with the failed probes counted (lost, or errors{error_type="send"}),
// and that after the repair every target is up again, with the outage
// recorded and ended, without a restart.
func TestNetworkFaults(t *testing.T) {
	type env struct {
		l     *lab.Lab
		probe string // probe namespace
		tgt   string // target namespace
	}
	tests := []struct {
		name     string
		datapath string
		source   bool     // send IPv4 from extraSource4
		affected []string // groups behind the fault
		inject   func(t *testing.T, e env)
		repair   func(t *testing.T, e env)
	}{
		{
			name: "carrier lost and back", datapath: "icmp", affected: []string{"v4", "v6"},
			inject: func(t *testing.T, e env) { ipCmd(t, "-n", e.tgt, "link", "set", "veth0", "down") },
			repair: func(t *testing.T, e env) { peerUpAgain(t, e.l) },
		},
		{
			name: "carrier lost and back, afpacket", datapath: "afpacket", affected: []string{"v4", "v6"},
			inject: func(t *testing.T, e env) { ipCmd(t, "-n", e.tgt, "link", "set", "veth0", "down") },
			repair: func(t *testing.T, e env) { peerUpAgain(t, e.l) },
		},
		{
			name: "probe link set down and up", datapath: "icmp", affected: []string{"v4", "v6"},
			inject: func(t *testing.T, e env) { ipCmd(t, "-n", e.probe, "link", "set", "veth0", "down") },
			repair: func(t *testing.T, e env) { linkUpAgain(t, e.l) },
		},
		{
			name: "probe link set down and up, afpacket", datapath: "afpacket", affected: []string{"v4", "v6"},
			inject: func(t *testing.T, e env) { ipCmd(t, "-n", e.probe, "link", "set", "veth0", "down") },
			repair: func(t *testing.T, e env) { linkUpAgain(t, e.l) },
		},
		{
			name: "route removed and re-added", datapath: "icmp", affected: []string{"v4"},
			inject: func(t *testing.T, e env) { ipCmd(t, "-n", e.probe, "route", "del", e.l.Prefix4.String()) },
			repair: func(t *testing.T, e env) {
				ipCmd(t, "-n", e.probe, "route", "add", e.l.Prefix4.String(), "via", lab.TargetAddr4.String(), "dev", "veth0")
			},
		},
		{
			name: "source address removed and restored", datapath: "icmp", source: true, affected: []string{"v4", "lo4"},
			inject: func(t *testing.T, e env) { ipCmd(t, "-n", e.probe, "addr", "del", extraSource4+"/32", "dev", "veth0") },
			repair: func(t *testing.T, e env) { ipCmd(t, "-n", e.probe, "addr", "add", extraSource4+"/32", "dev", "veth0") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := lab.New(t, lab.Options{})
			e := env{l: l, probe: l.Probe, tgt: l.Target}
			engine := "  datapath: " + tt.datapath + "\n"
			if tt.source {
				ipCmd(t, "-n", l.Probe, "addr", "add", extraSource4+"/32", "dev", "veth0")
				ipCmd(t, "-n", l.Target, "route", "add", extraSource4+"/32", "via", lab.ProbeAddr4.String(), "dev", "veth0")
				engine += "  source_ipv4: " + extraSource4 + "\n"
			}
			const n = 5
			groups := map[string]int{"v4": n, "v6": n, "lo4": 1, "lo6": 1}
			cfg := writeConfig(t, engine, "",
				group{name: "v4", targets: addrStrings(l.Addrs(n, false))},
				group{name: "v6", targets: addrStrings(l.Addrs(n, true))},
				group{name: "lo4", targets: []string{"127.0.0.1"}},
				group{name: "lo6", targets: []string{"::1"}},
			)
			f := start(t, l, cfg)
			for g, k := range groups {
				f.allUp(time.Minute, g, k)
			}
			before := f.metrics()

			tt.inject(t, e)
			affected := map[string]bool{}
			for _, g := range tt.affected {
				affected[g] = true
				f.allDown(time.Minute, g, groups[g])
			}
			during := f.metrics()
			for g, k := range groups {
				failed := sum(during, "icmp_probes_lost_total", g) + sum(during, "icmp_errors_total", g) -
					sum(before, "icmp_probes_lost_total", g) - sum(before, "icmp_errors_total", g)
				sendErrs := sum(during, "icmp_errors_total", g, "type", "send") - sum(before, "icmp_errors_total", g, "type", "send")
				up := sum(during, "icmp_up", g)
				t.Logf("%s during the fault: up %v/%d, failed probes +%v (send errors +%v)", g, up, k, failed, sendErrs)
				if affected[g] && failed < 3 {
					t.Errorf("%s is down but only %v failed probes were counted", g, failed)
				}
				if !affected[g] && up != float64(k) {
					t.Errorf("%s is not behind the fault but %v of %d targets are up", g, up, k)
				}
			}

			tt.repair(t, e)
			for g, k := range groups {
				f.allUp(time.Minute, g, k)
			}
			after := f.metrics()
			for g := range groups {
				outages := sum(after, "icmp_outages_total", g)
				ended := countAbove(after, "icmp_last_outage_end_timestamp_seconds", g, 0)
				switch {
				case affected[g] && outages < float64(groups[g]):
					t.Errorf("%s: %v outages recorded for %d targets", g, outages, groups[g])
				case !affected[g] && outages != 0:
					t.Errorf("%s: %v false outages", g, outages)
				}
				if affected[g] && ended != groups[g] {
					t.Errorf("%s: %d of %d targets show the end of their outage", g, ended, groups[g])
				}
			}
			if err := f.x.Exited(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// linkUpAgain sets the probe namespace's veth up again and restores what
// the kernel removed when it went down (IPv6 addresses, routes through it),
// as a network manager would.
func linkUpAgain(t *testing.T, l *lab.Lab) {
	t.Helper()
	ipCmd(t, "-n", l.Probe, "link", "set", "veth0", "up")
	ipCmd(t, "-n", l.Probe, "addr", "replace", lab.ProbeAddr6.String()+"/64", "dev", "veth0", "nodad")
	ipCmd(t, "-n", l.Probe, "route", "replace", l.Prefix4.String(), "via", lab.TargetAddr4.String(), "dev", "veth0")
	ipCmd(t, "-n", l.Probe, "-6", "route", "replace", l.Prefix6.String(), "via", lab.TargetAddr6.String(), "dev", "veth0")
}

// peerUpAgain sets the target namespace's veth up again and gives it back
// its IPv6 address, which the kernel removes when a link goes down.
func peerUpAgain(t *testing.T, l *lab.Lab) {
	t.Helper()
	ipCmd(t, "-n", l.Target, "link", "set", "veth0", "up")
	ipCmd(t, "-n", l.Target, "addr", "replace", lab.TargetAddr6.String()+"/64", "dev", "veth0", "nodad")
}
