//go:build linux

package outage

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// TestExporterOutagesAtScale: the exporter probes 1 000 lab hosts every
// 20 ms (50 000 probes per second) while drop rules of 0.5 s, 1 s, 1.5 s and
// 2 s hit five of them at overlapping times. Every outage is measured within
// one interval of its rule's window (+10 ms for a loaded 2-core machine), no
// other host shows an outage, and the undisturbed hosts lose no probe while
// the outages happen; at real-time priority it also skips none (at nice -10,
// where real-time scheduling is refused, skipped probes are the shared
// machine's speed: logged, not asserted). Sent + skipped = the schedule.
func TestExporterOutagesAtScale(t *testing.T) {
	// The timeout (5 intervals) does not change when an outage starts or
	// ends (send times of probes), only how soon it is noticed; it keeps a
	// receiver that the loaded machine did not schedule for 50 ms from
	// turning answered probes into lost ones.
	const (
		n        = 1000
		interval = 20 * time.Millisecond
		timeout  = 100 * time.Millisecond
		slack    = 10 * time.Millisecond
	)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	l := lab.New(t, lab.Options{})
	addrs := l.Addrs(n, false)
	cfg := writeConfig(t, interval, timeout, addrs)
	x := startExporter(ctx, t, l, cfg)
	x.waitAllUp(ctx, t, addrs, 3*time.Minute)
	time.Sleep(2 * time.Second) // steady state before the baseline

	// Rules in force at overlapping times; one rule drops two hosts.
	type drop struct {
		hosts []netip.Addr
		hold  time.Duration
		rule  *lab.DropRule
		at    time.Time // when to remove the rule
		w     lab.Window
	}
	drops := []*drop{
		{hosts: []netip.Addr{addrs[17]}, hold: 500 * time.Millisecond},
		{hosts: []netip.Addr{addrs[333]}, hold: time.Second},
		{hosts: []netip.Addr{addrs[500], addrs[998]}, hold: 2 * time.Second},
		{hosts: []netip.Addr{addrs[777]}, hold: 1500 * time.Millisecond},
	}
	dropped := map[string]*drop{}
	for _, d := range drops {
		for _, h := range d.hosts {
			dropped[h.String()] = d
		}
	}

	// Each scrape's snapshot was taken between the two clock readings
	// around it.
	before0 := time.Now()
	m0 := x.mustScrape(ctx, t)
	after0 := time.Now()
	for _, d := range drops {
		d.rule = l.AddDrop(d.hosts)
		d.at = d.rule.InsertedBy.Add(d.hold)
	}
	order := slices.Clone(drops)
	slices.SortFunc(order, func(a, b *drop) int { return a.at.Compare(b.at) })
	for _, d := range order {
		time.Sleep(time.Until(d.at))
		d.w = d.rule.Remove()
	}

	// Few scrapes from here on: each costs the exporter CPU that the
	// 50 000 probes/s need on a 2-core machine.
	time.Sleep(time.Second)
	lab.WaitFor(t, time.Minute, time.Second, "every dropped host up again with a completed outage", func() (bool, string) {
		m := x.mustScrape(ctx, t)
		var waiting []string
		for h := range dropped {
			o, err := m.lastOutage(h)
			if err != nil || o.up != 1 || !o.ended {
				waiting = append(waiting, h)
			}
		}
		return len(waiting) == 0, "waiting for " + strings.Join(waiting, ", ")
	})
	before1 := time.Now()
	m1 := x.mustScrape(ctx, t)
	after1 := time.Now()
	// The time between the two snapshots, about: the scrapes' midpoints.
	between := before1.Add(after1.Sub(before1) / 2).Sub(before0.Add(after0.Sub(before0) / 2))

	// Every dropped host: one outage, within the bounds of its rule.
	for h, d := range dropped {
		o, err := m1.lastOutage(h)
		if err != nil {
			t.Error(err)
			continue
		}
		// The resolution is the real gap between the sends around each edge:
		// one interval, more when sends left late or were skipped.
		if o.total != 1 || o.up != 1 || o.resolution < interval || o.resolution > interval+slack {
			t.Errorf("%s: outages_total %g, up %g, resolution %s; want 1, 1, %s to %s", h, o.total, o.up, o.resolution, interval, interval+slack)
		}
		problems, desc := outageBounds(d.w, interval, slack).check(o.start, o.end, o.duration)
		t.Logf("%s (drop %s): %s", h, d.hold, desc)
		for _, p := range problems {
			t.Errorf("%s (drop %s): %s", h, d.hold, p)
		}
	}

	// Every other host: no outage and no lost probe between the two
	// scrapes, and every probe its schedule held in that time was either
	// sent or skipped (one per interval: at least (before1-after0)/interval
	// and at most (after1-before0)/interval, give or take the one in
	// progress at each end). How many were skipped (the machine did not
	// run the sender for more than an interval) is the machine's share: it
	// is logged, not asserted.
	out := m1.byTarget("icmp_outages_total")
	sent0, sent1 := m0.byTarget("icmp_probes_sent_total"), m1.byTarget("icmp_probes_sent_total")
	lost0, lost1 := m0.byTarget("icmp_probes_lost_total"), m1.byTarget("icmp_probes_lost_total")
	skip0, skip1 := m0.byTarget("icmp_probes_skipped_total"), m1.byTarget("icmp_probes_skipped_total")
	lo, hi := float64(before1.Sub(after0)/interval)-1, float64(after1.Sub(before0)/interval)+1
	var sent, lost, skipped float64
	var lossy, miscounted []string
	for _, a := range addrs {
		h := a.String()
		if dropped[h] != nil {
			continue
		}
		if v, ok := out[h]; !ok || v != 0 {
			t.Errorf("undisturbed %s: icmp_outages_total %g (present %v), want 0", h, v, ok)
		}
		dsent, dl, ds := sent1[h]-sent0[h], lost1[h]-lost0[h], skip1[h]-skip0[h]
		sent += dsent
		lost += dl
		skipped += ds
		if dl != 0 {
			lossy = append(lossy, fmt.Sprintf("%s lost %g", h, dl))
		}
		if dsent+ds < lo || dsent+ds > hi {
			miscounted = append(miscounted, fmt.Sprintf("%s sent %g + skipped %g", h, dsent, ds))
		}
	}
	engSkip0, _ := m0.value("icmp_engine_probes_skipped_total", "")
	engSkip1, _ := m1.value("icmp_engine_probes_skipped_total", "")
	drops0, _ := m0.value("icmp_engine_kernel_drops_total", "")
	drops1, _ := m1.value("icmp_engine_kernel_drops_total", "")
	lag, _ := m1.value("icmp_engine_schedule_lag_seconds", "")
	undisturbed := n - len(dropped)
	scheduled := float64(undisturbed) * between.Seconds() / interval.Seconds()
	t.Logf("scale: %d targets every %s, %s between snapshots; undisturbed %d: sent %.0f (%.0f/s of %.0f/s scheduled), "+
		"lost %.0f, skipped %.0f = %.2f%% (engine %.0f), kernel drops %.0f, schedule lag %s; %d cores, load %s",
		n, interval, between.Round(time.Millisecond), undisturbed, sent, sent/between.Seconds(),
		float64(undisturbed)/interval.Seconds(), lost, skipped, 100*skipped/scheduled, engSkip1-engSkip0,
		drops1-drops0, secs(lag), runtime.NumCPU(), loadavg())
	if len(lossy) > 0 {
		t.Errorf("%d undisturbed hosts lost probes during the outages: %s", len(lossy), strings.Join(lossy[:min(len(lossy), 10)], "; "))
	}
	if len(miscounted) > 0 {
		t.Errorf("%d undisturbed hosts: sent+skipped outside [%g, %g] probes of their schedule: %s",
			len(miscounted), lo, hi, strings.Join(miscounted[:min(len(miscounted), 10)], "; "))
	}
	// With real-time priority nothing keeps the sender off the CPU for an
	// interval: the engine must keep the whole schedule. At nice -10 on a
	// shared machine that is the machine's speed, logged above.
	if x.realtime && (skipped != 0 || engSkip1 != engSkip0) {
		t.Errorf("the engine skipped %.0f probes of undisturbed hosts (%.0f in all) at real-time priority: it did not keep %.0f probes/s",
			skipped, engSkip1-engSkip0, float64(n)/interval.Seconds())
	}
	if d := engSkip1 - engSkip0; d < skipped {
		t.Errorf("icmp_engine_probes_skipped_total rose by %.0f, less than the %.0f skipped probes of undisturbed hosts", d, skipped)
	}
}
