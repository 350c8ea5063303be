//go:build linux

package outage

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// TestVantage runs the exporter with vantage health on, four IPv4 and four
// IPv6 lab hosts in two groups and an anchor group of one more IPv4 host
// (a gateway), on each datapath that runs here:
//
//   - the probe namespace's own uplink is cut for 3 s (an nftables netdev
//     egress rule on its interface drops everything it sends, so it holds
//     for AF_PACKET's frames too): every target fails together, which makes
//     one vantage outage of the exporter and of each group, with its start
//     and end within the cut's bounds, and every target outage is counted
//     as caused by the vantage (metric and log);
//   - the exporter process is frozen (SIGSTOP) for 3 s, then resumed: a
//     gap is counted and logged, and no target outage is opened, although
//     down_after is 1 (a single failed probe would open one);
//   - the anchor alone stops answering (its echo requests dropped in the
//     target namespace) for 2 s: a second vantage outage, the other targets
//     untouched.
func TestVantage(t *testing.T) {
	for _, dp := range []string{"icmp", "afpacket"} {
		t.Run(dp, func(t *testing.T) { testVantage(t, dp) })
	}
}

func testVantage(t *testing.T, datapath string) {
	const (
		interval = 200 * time.Millisecond
		timeout  = 500 * time.Millisecond
		hold     = 3 * time.Second
		freeze   = 3 * time.Second
		// The neighbour entries (ARP, NDP) failed during the cut and are
		// resolved again after it: the end may come that much later.
		endSlack = 2 * time.Second
		// A probe may leave late on the loaded machine (schedule lag).
		slack = 100 * time.Millisecond
	)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	l := lab.New(t, lab.Options{})
	v4all, v6 := l.Addrs(5, false), l.Addrs(4, true)
	v4, gw := v4all[:4], v4all[4]
	members := append(append([]netip.Addr(nil), v4...), v6...)
	addrs := append(append([]netip.Addr(nil), members...), gw)
	set := lab.ConfigSettings{Interval: interval, Timeout: timeout, DownAfter: 1, UpAfter: 1, Histogram: "none"}
	cfg := lab.WriteConfig(t, lab.ExporterConfig{Source: "lab", Datapath: datapath, Vantage: "{anchors: [gw]}", Groups: []lab.ConfigGroup{
		{Name: "v4", Targets: v4, ConfigSettings: set},
		{Name: "v6", Targets: v6, ConfigSettings: set},
		{Name: "gw", Targets: []netip.Addr{gw}, ConfigSettings: set},
	}})
	scopes := []string{"", "v4", "v6", "gw"}
	x := startExporter(ctx, t, l, cfg)
	x.waitAllUp(ctx, t, addrs, 2*time.Minute)
	time.Sleep(time.Second)
	before := x.mustScrape(ctx, t)
	for _, g := range scopes {
		if v, ok := before.byGroup("icmp_vantage_up", g); !ok || v != 1 {
			t.Fatalf("icmp_vantage_up{group=%q} = %g (present %v) before the cut, want 1", g, v, ok)
		}
	}

	// The cut.
	cut := lab.Window{Inserted: time.Now()}
	nftProbe(ctx, t, l, fmt.Sprintf("table netdev vantage_cut {\n\tchain egress {\n\t\ttype filter hook egress device %q priority 0; policy drop;\n\t}\n}\n", l.ProbeIf))
	cut.InsertedBy = time.Now()
	lab.WaitFor(t, time.Minute, 100*time.Millisecond, "the vantage down during the cut", func() (bool, string) {
		m := x.mustScrape(ctx, t)
		v, _ := m.byGroup("icmp_vantage_up", "")
		return v == 0, fmt.Sprintf("icmp_vantage_up %g", v)
	})
	time.Sleep(time.Until(cut.InsertedBy.Add(hold)))
	cut.Deleted = time.Now()
	nftProbe(ctx, t, l, "delete table netdev vantage_cut\n")
	cut.DeletedBy = time.Now()

	var after metrics
	lab.WaitFor(t, time.Minute, 100*time.Millisecond, "targets and vantage up again", func() (bool, string) {
		after = x.mustScrape(ctx, t)
		up := 0
		for _, a := range addrs {
			if v, _ := after.value("icmp_up", a.String()); v == 1 {
				up++
			}
		}
		v, _ := after.byGroup("icmp_vantage_up", "")
		return up == len(addrs) && v == 1, fmt.Sprintf("%d of %d targets up, vantage up %g", up, len(addrs), v)
	})
	for _, g := range scopes {
		n, _ := after.byGroup("icmp_vantage_outages_total", g)
		s, _ := after.byGroup("icmp_vantage_last_outage_start_timestamp_seconds", g)
		e, _ := after.byGroup("icmp_vantage_last_outage_end_timestamp_seconds", g)
		start, end := unixTime(s), unixTime(e)
		t.Logf("vantage %q: %g outage(s), start %+.1fms after the cut began, end %+.1fms after the repair began", g, n,
			ms(start.Sub(cut.Inserted)), ms(end.Sub(cut.Deleted)))
		if n != 1 {
			t.Errorf("icmp_vantage_outages_total{group=%q} = %g, want 1", g, n)
		}
		if lo, hi := cut.Inserted.Add(-interval-slack), cut.InsertedBy.Add(interval+slack); start.Before(lo) || start.After(hi) {
			t.Errorf("vantage %q outage start %s outside [%s, %s]", g, ts(start), ts(lo), ts(hi))
		}
		if lo, hi := cut.Deleted.Add(-interval-slack), cut.DeletedBy.Add(interval+endSlack); end.Before(lo) || end.After(hi) {
			t.Errorf("vantage %q outage end %s outside [%s, %s]", g, ts(end), ts(lo), ts(hi))
		}
	}
	for _, a := range addrs {
		total, _ := after.value("icmp_outages_total", a.String())
		caused, ok := after.value("icmp_vantage_caused_outages_total", a.String())
		if total != 1 || !ok || caused != 1 {
			t.Errorf("%s: icmp_outages_total %g, icmp_vantage_caused_outages_total %g (present %v); want 1 and 1", a, total, caused, ok)
		}
	}
	ended := 0
	for _, line := range strings.Split(x.Proc.Output(), "\n") {
		if strings.Contains(line, `msg="outage ended"`) && strings.Contains(line, "cause=vantage") {
			ended++
		}
	}
	if ended != len(addrs) {
		t.Errorf("%d outage ended log lines with cause=vantage, want %d (one per target)", ended, len(addrs))
	}

	// The freeze.
	pid := x.Proc.Cmd.Process.Pid
	gaps0, _ := after.byGroup("icmp_engine_gaps_total", "")
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(freeze)
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	var thawed metrics
	lab.WaitFor(t, time.Minute, 100*time.Millisecond, "a gap counted", func() (bool, string) {
		thawed = x.mustScrape(ctx, t)
		g, _ := thawed.byGroup("icmp_engine_gaps_total", "")
		return g > gaps0, fmt.Sprintf("icmp_engine_gaps_total %g", g)
	})
	time.Sleep(timeout + 4*interval) // every probe in flight at the freeze ended
	thawed = x.mustScrape(ctx, t)
	gaps, _ := thawed.byGroup("icmp_engine_gaps_total", "")
	secs, _ := thawed.byGroup("icmp_engine_gap_seconds_total", "")
	t.Logf("after a %s freeze: %g gap(s), %.3f s in gaps", freeze, gaps-gaps0, secs)
	if secs < (freeze - time.Second).Seconds() {
		t.Errorf("icmp_engine_gap_seconds_total %g, want about %g", secs, freeze.Seconds())
	}
	for _, a := range addrs {
		if total, _ := thawed.value("icmp_outages_total", a.String()); total != 1 {
			t.Errorf("%s: icmp_outages_total %g after the freeze, want 1 (the cut's): a stall opened an outage", a, total)
		}
		if v, _ := thawed.value("icmp_up", a.String()); v != 1 {
			t.Errorf("%s: icmp_up %g after the freeze", a, v)
		}
	}
	if v, _ := thawed.byGroup("icmp_vantage_outages_total", ""); v != 1 {
		t.Errorf("icmp_vantage_outages_total %g after the freeze, want 1", v)
	}
	if !strings.Contains(x.Proc.Output(), "a gap, not an outage") {
		t.Error("no log line for the gap")
	}

	// The anchor alone.
	drop := l.AddDrop([]netip.Addr{gw})
	lab.WaitFor(t, time.Minute, 100*time.Millisecond, "the vantage down with its anchor", func() (bool, string) {
		m := x.mustScrape(ctx, t)
		v, _ := m.byGroup("icmp_vantage_up", "")
		return v == 0, fmt.Sprintf("icmp_vantage_up %g", v)
	})
	time.Sleep(time.Until(drop.InsertedBy.Add(2 * time.Second)))
	w := drop.Remove()
	var last metrics
	lab.WaitFor(t, time.Minute, 100*time.Millisecond, "the anchor and the vantage up again", func() (bool, string) {
		last = x.mustScrape(ctx, t)
		a, _ := last.value("icmp_up", gw.String())
		v, _ := last.byGroup("icmp_vantage_up", "")
		return a == 1 && v == 1, fmt.Sprintf("anchor up %g, vantage up %g", a, v)
	})
	s, _ := last.byGroup("icmp_vantage_last_outage_start_timestamp_seconds", "")
	t.Logf("anchor: vantage outage start %+.1fms after the drop began", ms(unixTime(s).Sub(w.Inserted)))
	if lo, hi := w.Inserted.Add(-interval-slack), w.InsertedBy.Add(interval+slack); unixTime(s).Before(lo) || unixTime(s).After(hi) {
		t.Errorf("anchor vantage outage start %s outside [%s, %s]", ts(unixTime(s)), ts(lo), ts(hi))
	}
	for _, g := range scopes {
		if n, _ := last.byGroup("icmp_vantage_outages_total", g); n != 2 {
			t.Errorf("icmp_vantage_outages_total{group=%q} = %g after the anchor's outage, want 2", g, n)
		}
	}
	for _, a := range members {
		if total, _ := last.value("icmp_outages_total", a.String()); total != 1 {
			t.Errorf("%s: icmp_outages_total %g, want 1: the anchor's outage touched it", a, total)
		}
	}
	if total, _ := last.value("icmp_outages_total", gw.String()); total != 2 {
		t.Errorf("anchor: icmp_outages_total %g, want 2", total)
	}
}

// nftProbe runs an nftables script in the probe namespace.
func nftProbe(ctx context.Context, t *testing.T, l *lab.Lab, script string) {
	t.Helper()
	c := l.Exec(ctx, "nft", "-f", "-")
	c.Stdin = strings.NewReader(script)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("nft in the probe namespace: %v: %s", err, bytes.TrimSpace(out))
	}
}

// byGroup returns the value of the series of name whose group label is
// group ("" for the exporter as a whole, or a series without the label).
func (m metrics) byGroup(name, group string) (float64, bool) {
	for _, s := range m[name].GetMetric() {
		if lab.Label(s, "group") == group {
			return scalar(s)
		}
	}
	return 0, false
}
