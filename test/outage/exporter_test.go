//go:build linux

package outage

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// TestExporterOutage: the exporter in the probe namespace probes one lab host
// every 10 ms while an nftables rule drops its echo requests for 3.0 s. In
// the middle of the outage a POST /-/reload with the same config must keep
// the ongoing outage; afterwards /metrics shows exactly one outage whose
// start, end and duration match the rule's window to one interval plus 5 ms.
func TestExporterOutage(t *testing.T) {
	const (
		interval = 10 * time.Millisecond
		timeout  = 50 * time.Millisecond
		hold     = 3 * time.Second
		slack    = 5 * time.Millisecond
	)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	l := lab.New(t, lab.Options{})
	// A neighbour that is never dropped: it must not see any outage.
	addrs := l.Addrs(2, false)
	host, other := addrs[0], addrs[1]
	cfg := writeConfig(t, interval, timeout, addrs)
	x := startExporter(ctx, t, l, cfg)
	x.waitAllUp(ctx, t, addrs, 2*time.Minute)
	time.Sleep(time.Second) // steady probing before the drop

	before := x.mustScrape(ctx, t)
	for _, a := range addrs {
		if v, ok := before.value("icmp_outages_total", a.String()); !ok || v != 0 {
			t.Fatalf("icmp_outages_total{target=%q} = %g (present %v) before the drop, want 0", a, v, ok)
		}
	}
	reloadTS0, ok := before.value("icmp_exporter_config_last_reload_success_timestamp_seconds", "")
	if !ok {
		t.Fatal("no icmp_exporter_config_last_reload_success_timestamp_seconds")
	}

	r := l.AddDrop([]netip.Addr{host})
	removeAt := r.InsertedBy.Add(hold)

	// Mid-outage: down, one ongoing outage with a start near the insert.
	time.Sleep(hold / 3)
	mid := x.mustScrape(ctx, t)
	o1, err := mid.lastOutage(host.String())
	if err != nil {
		t.Fatal(err)
	}
	if o1.up != 0 || o1.total != 1 || o1.ended {
		t.Errorf("during the outage: up %g, outages_total %g, end %s; want 0, 1, 0 (ongoing)", o1.up, o1.total, ts(o1.end))
	}
	if lo, hi := r.Inserted.Add(-interval), r.InsertedBy.Add(interval); o1.start.Before(lo) || o1.start.After(hi) {
		t.Errorf("ongoing outage start %s outside [%s, %s]", ts(o1.start), ts(lo), ts(hi))
	}

	// Reload with the same file in the middle of the outage.
	if err := x.reload(ctx); err != nil {
		t.Fatal(err)
	}
	afterReload := x.mustScrape(ctx, t)
	if v, _ := afterReload.value("icmp_exporter_config_last_reload_successful", ""); v != 1 {
		t.Errorf("icmp_exporter_config_last_reload_successful = %g after the reload, want 1", v)
	}
	if v, _ := afterReload.value("icmp_exporter_config_last_reload_success_timestamp_seconds", ""); v <= reloadTS0 {
		t.Errorf("reload success timestamp %f did not advance from %f: no reload happened", v, reloadTS0)
	}
	o2, err := afterReload.lastOutage(host.String())
	if err != nil {
		t.Fatal(err)
	}
	if o2.up != 0 || o2.total != 1 || !o2.start.Equal(o1.start) || o2.ended {
		t.Errorf("after the reload: up %g, outages_total %g, start %s, end %s; want 0, 1, %s (unchanged), 0",
			o2.up, o2.total, ts(o2.start), ts(o2.end), ts(o1.start))
	}
	if time.Until(removeAt) < 100*time.Millisecond {
		t.Logf("warning: reload and scrapes took until %s after the insert; holding the rule longer than %s", time.Since(r.InsertedBy), hold)
	}
	time.Sleep(time.Until(removeAt))
	w := r.Remove()

	var after metrics
	lab.WaitFor(t, time.Minute, 50*time.Millisecond, "host up again with a completed outage", func() (bool, string) {
		after = x.mustScrape(ctx, t)
		o, err := after.lastOutage(host.String())
		if err != nil {
			t.Fatal(err)
		}
		return o.up == 1 && o.ended, fmt.Sprintf("icmp_up %g, outage ended %v", o.up, o.ended)
	})
	// One more interval's worth of probing, then the final state.
	time.Sleep(200 * time.Millisecond)
	after = x.mustScrape(ctx, t)
	o, err := after.lastOutage(host.String())
	if err != nil {
		t.Fatal(err)
	}
	if o.total != 1 {
		t.Errorf("icmp_outages_total = %g, want 1 (the outage went on across the reload)", o.total)
	}
	if o.up != 1 {
		t.Errorf("icmp_up = %g after the outage, want 1", o.up)
	}
	// The resolution is the real gap between the sends around each edge:
	// one interval, a little more when a send left late.
	if o.resolution < interval || o.resolution > interval+interval/2 {
		t.Errorf("icmp_outage_resolution_seconds = %s, want %s to %s", o.resolution, interval, interval+interval/2)
	}
	if !o.start.Equal(o1.start) {
		t.Errorf("outage start %s, want %s as seen during the outage", ts(o.start), ts(o1.start))
	}
	b := outageBounds(w, interval, slack)
	problems, desc := b.check(o.start, o.end, o.duration)
	t.Logf("exporter: %s", desc)
	for _, p := range problems {
		t.Error(p)
	}
	// The histogram holds that one completed outage.
	var found bool
	for _, s := range after["icmp_outage_duration_seconds"].GetMetric() {
		if lab.Label(s, "target") != host.String() {
			continue
		}
		found = true
		h := s.GetHistogram()
		if h.GetSampleCount() != 1 || absDur(secs(h.GetSampleSum())-o.duration) > time.Microsecond {
			t.Errorf("icmp_outage_duration_seconds: count %d sum %g, want 1 and %g", h.GetSampleCount(), h.GetSampleSum(), o.duration.Seconds())
		}
	}
	if !found {
		t.Errorf("no icmp_outage_duration_seconds for %s", host)
	}
	// The neighbour saw nothing.
	if v, ok := after.value("icmp_outages_total", other.String()); !ok || v != 0 {
		t.Errorf("icmp_outages_total{target=%q} = %g (present %v), want 0", other, v, ok)
	}
	if v, _ := after.value("icmp_up", other.String()); v != 1 {
		t.Errorf("icmp_up{target=%q} = %g, want 1", other, v)
	}
}
