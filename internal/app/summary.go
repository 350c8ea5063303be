package app

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

// Summary describes a checked configuration for --config.check: source,
// engine, and per group the targets, interval, timeout and probe rate.
func Summary(cfg *config.Config, spec probe.Spec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: OK\n", cfg.File)
	fmt.Fprintf(&b, "source: %s", spec.Source.Name)
	if spec.Source.HasLocation {
		fmt.Fprintf(&b, " (latitude %g, longitude %g)", spec.Source.Latitude, spec.Source.Longitude)
	}
	b.WriteString("\n")
	pps := "no ceiling"
	if spec.Engine.MaxPPS > 0 {
		pps = fmt.Sprint(spec.Engine.MaxPPS)
		if !cfg.Engine.MaxPPS.Set {
			pps += " (default)"
		}
	}
	fmt.Fprintf(&b, "engine: datapath %s, max_pps %s, dns_refresh %s\n", spec.Engine.Datapath, pps, spec.Engine.DNSRefresh)

	type group struct {
		name                string
		v4, v6, hosts       int
		intervals, timeouts map[time.Duration]bool
		rate                float64
	}
	var groups []*group
	byName := map[string]*group{}
	var total float64
	for i := range spec.Targets {
		t := &spec.Targets[i]
		g := byName[t.Group]
		if g == nil {
			g = &group{name: t.Group, intervals: map[time.Duration]bool{}, timeouts: map[time.Duration]bool{}}
			byName[t.Group] = g
			groups = append(groups, g)
		}
		switch {
		case t.Host != "":
			g.hosts++
		case t.Addr.Is4():
			g.v4++
		default:
			g.v6++
		}
		g.intervals[t.Interval] = true
		g.timeouts[t.Timeout] = true
		r := float64(time.Second) / float64(t.Interval)
		g.rate += r
		total += r
	}
	fmt.Fprintf(&b, "groups: %d, targets: %d, about %.1f probes/s\n", len(groups), len(spec.Targets), total)
	switch ceiling := float64(spec.Engine.MaxPPS); {
	case ceiling == 0:
		fmt.Fprintf(&b, "probe rate: %.1f probes/s, no max_pps ceiling\n", total)
	case total <= ceiling:
		fmt.Fprintf(&b, "probe rate: %.1f probes/s, within max_pps %s\n", total, pps)
	default:
		fmt.Fprintf(&b, "probe rate: %d probes/s, capped by max_pps %s: the groups ask for %.1f probes/s; "+
			"the rest are skipped (icmp_probes_skipped_total); raise engine.max_pps if this is intended\n",
			spec.Engine.MaxPPS, pps, total)
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  GROUP\tIPv4\tIPv6\tHOSTS\tINTERVAL\tTIMEOUT\tPROBES/S")
	for _, g := range groups {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%s\t%s\t%.1f\n", g.name, g.v4, g.v6, g.hosts,
			durations(g.intervals), durations(g.timeouts), g.rate)
	}
	tw.Flush()
	b.WriteString(discoverySummary(cfg))
	return b.String()
}

func durations(m map[time.Duration]bool) string {
	var s []string
	for d := range m {
		s = append(s, d.String())
	}
	return strings.Join(s, ",")
}
