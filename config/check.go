package config

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/icmp-exporter/icmp_exporter/internal/history"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Limits of engine settings (target settings use probe's limits).
const (
	MaxPPSLimit           = 100_000_000
	MinDNSRefresh         = time.Second
	MaxDNSRefresh         = 24 * time.Hour
	MaxCIDRAddressesLimit = 1 << 24
	MaxTargetsLimit       = 1 << 24
)

type checker struct {
	ps       *problems
	cfg      *Config
	lim      limits
	groupPos []Pos
}

func (c *checker) check() {
	c.source()
	c.engine()
	c.settings(&c.cfg.Defaults, "defaults")
	c.groups()
	c.probeEndpoint()
	c.vantage()
}

func (c *checker) source() {
	s := &c.cfg.Source
	name := s.Name.Value
	switch {
	case !s.Name.Set:
		h, err := os.Hostname()
		if err != nil || h == "" {
			c.ps.add(Pos{}, "source.name", "not set and the host name is unknown (%v); set source.name", err)
		}
		name = h
	case strings.TrimSpace(name) == "":
		c.ps.add(s.Name.Pos, "source.name", "empty; set a name for this probing location like lab-1, or remove the key to use the host name")
	case !utf8.ValidString(name):
		c.ps.add(s.Name.Pos, "source.name", "not valid UTF-8")
	}
	c.cfg.spec.Source = probe.Source{Name: name}
	lat, lon := s.Latitude, s.Longitude
	switch {
	case lat.Set && !lon.Set:
		c.ps.add(lat.Pos, "source.latitude", "set without source.longitude; set both or neither")
	case lon.Set && !lat.Set:
		c.ps.add(lon.Pos, "source.longitude", "set without source.latitude; set both or neither")
	case lat.Set && lon.Set:
		ok := true
		if !(lat.Value >= -90 && lat.Value <= 90) {
			c.ps.add(lat.Pos, "source.latitude", "%v is out of range; want decimal degrees between -90 and 90", lat.Value)
			ok = false
		}
		if !(lon.Value >= -180 && lon.Value <= 180) {
			c.ps.add(lon.Pos, "source.longitude", "%v is out of range; want decimal degrees between -180 and 180", lon.Value)
			ok = false
		}
		if ok {
			c.cfg.spec.Source.HasLocation = true
			c.cfg.spec.Source.Latitude, c.cfg.spec.Source.Longitude = lat.Value, lon.Value
		}
	}
}

func (c *checker) engine() {
	e := &c.cfg.Engine
	spec := &c.cfg.spec.Engine
	spec.Datapath = probe.DatapathAuto
	if e.Datapath.Set {
		if slices.Contains(probe.Datapaths, e.Datapath.Value) {
			spec.Datapath = e.Datapath.Value
		} else {
			c.ps.add(e.Datapath.Pos, "engine.datapath", "%q is not a datapath; want one of %s", e.Datapath.Value, strings.Join(probe.Datapaths, ", "))
		}
	}
	spec.MaxPPS = DefaultMaxPPS
	if e.MaxPPS.Set {
		if e.MaxPPS.Value < 0 || e.MaxPPS.Value > MaxPPSLimit {
			c.ps.add(e.MaxPPS.Pos, "engine.max_pps", "%d is out of range; want 0 (no ceiling) up to %d probes per second", e.MaxPPS.Value, MaxPPSLimit)
		}
		spec.MaxPPS = e.MaxPPS.Value
	}
	if e.SourceIPv4.Set && e.SourceIPv4.Value != "" {
		a, err := netip.ParseAddr(e.SourceIPv4.Value)
		if err != nil || !a.Is4() {
			c.ps.add(e.SourceIPv4.Pos, "engine.source_ipv4", "%q is not an IPv4 address; want a local address like 192.0.2.10, or \"\" to let the kernel choose", e.SourceIPv4.Value)
		}
		spec.SourceV4 = a
	}
	if e.SourceIPv6.Set && e.SourceIPv6.Value != "" {
		a, err := netip.ParseAddr(e.SourceIPv6.Value)
		if err != nil || !a.Is6() || a.Is4In6() {
			c.ps.add(e.SourceIPv6.Pos, "engine.source_ipv6", "%q is not an IPv6 address; want a local address like 2001:db8::10, or \"\" to let the kernel choose", e.SourceIPv6.Value)
		}
		spec.SourceV6 = a
	}
	if e.Interface.Set && e.Interface.Value != "" {
		n := e.Interface.Value
		if len(n) > 15 || strings.ContainsAny(n, "/ \t\n") {
			c.ps.add(e.Interface.Pos, "engine.interface", "%q is not an interface name; want at most 15 characters without / or spaces, like eth0", n)
		}
		spec.Interface = n
	}
	spec.DNSRefresh = DefaultDNSRefresh
	if d := e.DNSRefresh; d.Set {
		if d.Value < MinDNSRefresh || d.Value > MaxDNSRefresh {
			c.ps.add(d.Pos, "engine.dns_refresh", "%q is out of range; want a duration between %s and %s like 1m", d.Value, MinDNSRefresh, MaxDNSRefresh)
		}
		spec.DNSRefresh = d.Value
	}
	if m := e.MaxCIDRAddresses; m.Set && (m.Value < 1 || m.Value > MaxCIDRAddressesLimit) {
		c.ps.add(m.Pos, "engine.max_cidr_addresses", "%d is out of range; want 1 to %d", m.Value, MaxCIDRAddressesLimit)
	}
	if m := e.MaxTargets; m.Set && (m.Value < 1 || m.Value > MaxTargetsLimit) {
		c.ps.add(m.Pos, "engine.max_targets", "%d is out of range; want 1 to %d", m.Value, MaxTargetsLimit)
	}
	c.intRange(e.PathPPS, "engine.path_pps", 1, MaxPPSLimit, "path probes per second, at most half of max_pps")
	spec.PathPPS = orDefault(e.PathPPS, 0)
}

// maxTargets is the bound on the targets of the whole file.
func (c *checker) maxTargets() int {
	n := DefaultMaxTargets
	if m := c.cfg.Engine.MaxTargets; m.Set && m.Value >= 1 && m.Value <= MaxTargetsLimit {
		n = m.Value
	}
	return min(n, c.lim.maxTargets)
}

func (c *checker) maxCIDR() int {
	if m := c.cfg.Engine.MaxCIDRAddresses; m.Set && m.Value >= 1 && m.Value <= MaxCIDRAddressesLimit {
		return m.Value
	}
	return DefaultMaxCIDRAddresses
}

// settings checks the values a group or the defaults set themselves.
func (c *checker) settings(s *Settings, path string) {
	p := func(f string) string { return path + "." + f }
	if s.Interval.Set {
		if v := s.Interval.Value; v < probe.MinInterval {
			c.ps.add(s.Interval.Pos, p("interval"), "%q is below the minimum %s; use a duration like 1s", v, probe.MinInterval)
		} else if v > probe.MaxInterval {
			c.ps.add(s.Interval.Pos, p("interval"), "%q is above the maximum %s; use a duration like 1s", v, probe.MaxInterval)
		}
	}
	if s.Timeout.Set && s.Timeout.Value <= 0 {
		c.ps.add(s.Timeout.Pos, p("timeout"), "%q must be above 0; use a duration like 1s", s.Timeout.Value)
	}
	c.intRange(s.PayloadSize, p("payload_size"), probe.MinPayload, probe.MaxPayload, "bytes of ICMP payload")
	c.intRange(s.TTL, p("ttl"), 0, probe.MaxTTL, "0 keeps the kernel default")
	c.intRange(s.TOS, p("tos"), 0, probe.MaxTOS, "0 keeps the kernel default")
	c.intRange(s.DownAfter, p("down_after"), 1, probe.MaxDownUp, "consecutive lost probes before a target is down")
	c.intRange(s.UpAfter, p("up_after"), 1, probe.MaxDownUp, "consecutive replies before a target is up again")
	c.intRange(s.OutageHistory, p("outage_history"), 0, probe.MaxOutageKeep, "completed outages kept per target")
	if f := s.HistoryRetention; f.Set && (f.Value < 0 || f.Value > history.MaxRetention) {
		c.ps.add(f.Pos, p("history_retention"), "%q is out of range; want a duration from 0 (no history) to %s like 3h", f.Value, history.MaxRetention)
	}
	c.allowBroadcast(s.AllowBroadcast, p("allow_broadcast"))
	if f := s.IPProtocol; f.Set {
		switch f.Value {
		case probe.IPAny, probe.IPv4, probe.IPv6:
		default:
			c.ps.add(f.Pos, p("ip_protocol"), "%q is not allowed; want ip4, ip6 or \"\" (either, IPv4 preferred)", f.Value)
		}
	}
	h := &s.Histogram
	if f := h.Mode; f.Set {
		switch f.Value {
		case probe.HistogramNative, probe.HistogramClassic, probe.HistogramBoth, probe.HistogramNone:
		default:
			c.ps.add(f.Pos, p("histogram.mode"), "%q is not a histogram mode; want native, classic, both or none", f.Value)
		}
	}
	if f := h.Aggregation; f.Set {
		switch f.Value {
		case probe.AggregateTarget, probe.AggregateGroup:
		default:
			c.ps.add(f.Pos, p("histogram.aggregation"), "%q is not allowed; want target (one histogram per target) or group (one per group)", f.Value)
		}
	}
	if f := h.Buckets; f.Set {
		b := f.Value
		switch {
		case len(b) == 0:
			c.ps.add(f.Pos, p("histogram.buckets"), "empty; list upper bounds in seconds like [0.001, 0.01, 0.1, 1] or remove the key for the defaults")
		case slices.ContainsFunc(b, func(v float64) bool { return !(v > 0) || math.IsInf(v, 0) }):
			c.ps.add(f.Pos, p("histogram.buckets"), "%v: every bound must be a positive number of seconds", b)
		case !isStrictlySorted(b):
			c.ps.add(f.Pos, p("histogram.buckets"), "%v: bounds must be sorted ascending without repeats", b)
		}
	}
	if f := s.Export.PerTarget; f.Set {
		if _, err := exportOf(f.Value); err != nil {
			c.ps.add(f.Pos, p("export.per_target"), "%s", err)
		}
	}
	c.pathSettings(&s.Path, p)
	seen := map[string]Pos{}
	for _, l := range s.Labels.Items {
		lp := p("labels." + l.Name)
		if why := labelNameProblem(l.Name); why != "" {
			c.ps.add(l.Pos, lp, "%s", why)
		}
		if prev, dup := seen[l.Name]; dup {
			c.ps.add(l.Pos, lp, "label listed twice (first at line %d)", prev.Line)
		}
		seen[l.Name] = l.Pos
	}
}

// labelNameProblem says why name cannot be a user label, or "".
func labelNameProblem(name string) string {
	switch {
	case !labelNameRE.MatchString(name):
		return fmt.Sprintf("%q is not a valid label name; want letters, digits and _, not starting with a digit", name)
	case name == IPVersionLabel:
		return fmt.Sprintf("%q is set by the exporter on names probed with ip_version: both", name)
	}
	if err := probe.CheckUserLabel(name); err != nil {
		return err.Error()
	}
	return ""
}

// exportOf returns the per-target series named by names.
func exportOf(names []string) (probe.Export, error) {
	if len(names) == 0 {
		return 0, fmt.Errorf("empty; list the series each target exports like [up, counters] (any of %s), or remove the key to export all", strings.Join(probe.ExportNames(), ", "))
	}
	var e probe.Export
	for _, n := range names {
		x, err := probe.ParseExport(n)
		if err != nil {
			return 0, err
		}
		if e&x != 0 {
			return 0, fmt.Errorf("%q is listed twice", n)
		}
		e |= x
	}
	return e, nil
}

func isStrictlySorted(b []float64) bool {
	for i := 1; i < len(b); i++ {
		if !(b[i] > b[i-1]) {
			return false
		}
	}
	return true
}

func (c *checker) intRange(f Field[int], path string, lo, hi int, what string) {
	if f.Set && (f.Value < lo || f.Value > hi) {
		c.ps.add(f.Pos, path, "%d is out of range; want %d to %d (%s)", f.Value, lo, hi, what)
	}
}

func (c *checker) groups() {
	groups := c.cfg.Groups
	if len(groups) == 0 {
		c.ps.add(Pos{}, "groups", "no groups; add at least one group with a name and targets (see config.example.yml)")
		return
	}
	expand := c.countTargets()
	names := map[string]Pos{}
	for i := range groups {
		g := &groups[i]
		path := fmt.Sprintf("groups[%d]", i)
		var gpos Pos
		if i < len(c.groupPos) {
			gpos = c.groupPos[i]
		}
		switch {
		case !g.Name.Set:
			c.ps.add(gpos, path+".name", "missing; every group needs a name (it becomes the group label)")
		case strings.TrimSpace(g.Name.Value) == "" || !utf8.ValidString(g.Name.Value):
			c.ps.add(g.Name.Pos, path+".name", "%q is not a usable group name; want a non-empty name like core-routers", g.Name.Value)
		default:
			if prev, dup := names[g.Name.Value]; dup {
				c.ps.add(g.Name.Pos, path+".name", "group %q is defined twice (first at line %d); group names must be unique", g.Name.Value, prev.Line)
			}
			names[g.Name.Value] = g.Name.Pos
		}
		c.settings(&g.Settings, path)
		if c.cfg.historyRetention == nil {
			c.cfg.historyRetention = map[string]time.Duration{}
		}
		c.cfg.historyRetention[g.Name.Value] = orDefault(pick(g.HistoryRetention, c.cfg.Defaults.HistoryRetention), history.DefaultRetention)
		if len(g.Targets.Items) == 0 && g.Discovery.empty() {
			pos := g.Targets.Pos
			if !g.Targets.Set {
				pos = gpos
			}
			c.ps.add(pos, path+".targets", "no targets; list addresses, CIDR blocks or host names like [127.0.0.1, \"::1\", localhost], or add file_sd_configs or http_sd_configs")
			continue
		}
		start := len(c.cfg.spec.Targets)
		if expand && len(g.Targets.Items) > 0 {
			c.expand(g, path)
		}
		c.discovery(g, path, start)
	}
}

// countTargets adds up the targets of every group before any block is
// expanded (a /8 takes a minute and gigabytes to expand) and reports the
// entry that brings the total above maxTargets. It returns whether the
// groups may be expanded. Entries that are not valid blocks count as one
// target; expand reports them.
func (c *checker) countTargets() bool {
	limit, maxCIDR := c.maxTargets(), c.maxCIDR()
	total := 0
	for i := range c.cfg.Groups {
		for j, t := range c.cfg.Groups[i].Targets.Items {
			n := 1
			if p, err := netip.ParsePrefix(t.Value); err == nil {
				if bits := p.Addr().BitLen() - p.Bits(); bits <= 30 && 1<<bits <= maxCIDR {
					n = 1 << bits
					if p.Addr().Is4() && p.Bits() < 31 {
						n -= 2 // network and broadcast address
					}
				}
			}
			total += n
			if total > limit {
				c.ps.add(t.Pos, fmt.Sprintf("groups[%d].targets[%d]", i, j),
					"%s would bring the targets to %d, more than engine.max_targets (%d); split the targets across instances (--shard) or raise engine.max_targets",
					t.Value, total, limit)
				return false
			}
		}
	}
	return true
}

// pick returns the group's field when set, else the default's.
func pick[T any](g, d Field[T]) Field[T] {
	if g.Set {
		return g
	}
	return d
}

func orDefault[T any](f Field[T], def T) T {
	if f.Set {
		return f.Value
	}
	return def
}

// template merges a group's settings with the defaults into a TargetSpec
// without address. ok is false when the merged values conflict.
func (c *checker) template(g *Group, path string) (probe.TargetSpec, bool) {
	d := &c.cfg.Defaults
	t := probe.TargetSpec{Group: g.Name.Value}
	interval := pick(g.Interval, d.Interval)
	t.Interval = orDefault(interval, DefaultInterval)
	timeout := pick(g.Timeout, d.Timeout)
	t.Timeout = orDefault(timeout, min(t.Interval, DefaultMaxTimeout))
	ok := true
	if maxTimeout := probe.TimeoutLimit(t.Interval); timeout.Set && t.Timeout > maxTimeout && t.Interval >= probe.MinInterval {
		tp := path + ".timeout"
		if !g.Timeout.Set {
			tp = "defaults.timeout"
		}
		c.ps.add(timeout.Pos, tp, "%q is longer than %s, the longest timeout at interval %s (10 intervals or 1m, and at most %d probes in flight per target) for %s; shorten the timeout or lengthen the interval",
			t.Timeout, maxTimeout, t.Interval, probe.MaxWindow, path)
		ok = false
	}
	t.PayloadSize = orDefault(pick(g.PayloadSize, d.PayloadSize), DefaultPayloadSize)
	t.TTL = orDefault(pick(g.TTL, d.TTL), 0)
	t.TOS = orDefault(pick(g.TOS, d.TOS), 0)
	t.DownAfter = orDefault(pick(g.DownAfter, d.DownAfter), DefaultDownAfter)
	t.UpAfter = orDefault(pick(g.UpAfter, d.UpAfter), DefaultUpAfter)
	t.OutageHistory = orDefault(pick(g.OutageHistory, d.OutageHistory), DefaultOutageHistory)
	t.IPProtocol = orDefault(pick(g.IPProtocol, d.IPProtocol), probe.IPAny)
	t.Histogram.Mode = orDefault(pick(g.Histogram.Mode, d.Histogram.Mode), probe.HistogramNative)
	t.Histogram.Aggregation = orDefault(pick(g.Histogram.Aggregation, d.Histogram.Aggregation), probe.AggregateTarget)
	if t.Histogram.NeedsClassic() {
		t.Histogram.Buckets = orDefault(pick(g.Histogram.Buckets, d.Histogram.Buckets), probe.DefaultClassicBuckets)
	}
	if f := pick(g.Export.PerTarget, d.Export.PerTarget); f.Set {
		t.Export, _ = exportOf(f.Value) // checked by settings
	}
	t.Path = pathTemplate(&g.Path, &d.Path)
	labels := map[string]string{}
	for _, l := range d.Labels.Items {
		labels[l.Name] = l.Value
	}
	for _, l := range g.Labels.Items {
		labels[l.Name] = l.Value
	}
	for n, v := range labels {
		t.Labels = append(t.Labels, probe.Label{Name: n, Value: v})
	}
	slices.SortFunc(t.Labels, func(a, b probe.Label) int { return strings.Compare(a.Name, b.Name) })
	return t, ok
}
