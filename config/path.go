package config

import (
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// Path is the `path:` block of a group or of `defaults:`: path snapshots
// and path MTU discovery (probe.PathSpec, docs/path.md). Each field a
// group leaves unset comes from `defaults:`.
type Path struct {
	Enabled  Field[bool]          `yaml:"enabled"`
	MaxHops  Field[int]           `yaml:"max_hops"`
	Baseline Field[time.Duration] `yaml:"baseline"` // 0s: off; unset: automatic
	Cooldown Field[time.Duration] `yaml:"cooldown"`
	MTU      PathMTU              `yaml:"mtu"`
}

// PathMTU is the `path.mtu:` block (probe.MTUSpec).
type PathMTU struct {
	Enabled  Field[bool]          `yaml:"enabled"`
	Max      Field[int]           `yaml:"max"`
	Interval Field[time.Duration] `yaml:"interval"`
}

// pathSettings checks the path block of a group or the defaults.
func (c *checker) pathSettings(s *Path, p func(string) string) {
	c.intRange(s.MaxHops, p("path.max_hops"), 1, probe.MaxPathHops, "highest TTL a path snapshot probes")
	if f := s.Baseline; f.Set && f.Value < 0 {
		c.ps.add(f.Pos, p("path.baseline"), "%q is negative; want a duration like 10m, or 0s for no baseline cycle", f.Value)
	}
	if f := s.Cooldown; f.Set && f.Value < 0 {
		c.ps.add(f.Pos, p("path.cooldown"), "%q is negative; want a duration like 30s", f.Value)
	}
	c.intRange(s.MTU.Max, p("path.mtu.max"), probe.MinMTU4, probe.MaxMTU, "largest IP packet size in bytes a path MTU search tries")
	if f := s.MTU.Interval; f.Set && f.Value < probe.MinMTUInterval {
		c.ps.add(f.Pos, p("path.mtu.interval"), "%q is below the minimum %s; use a duration like 10m", f.Value, probe.MinMTUInterval)
	}
}

// pathTemplate merges a group's path block with the defaults; the zero
// PathSpec when the group takes neither path snapshots nor MTU searches.
func pathTemplate(g, d *Path) probe.PathSpec {
	if !orDefault(pick(g.Enabled, d.Enabled), false) && !orDefault(pick(g.MTU.Enabled, d.MTU.Enabled), false) {
		return probe.PathSpec{}
	}
	ps := probe.PathSpec{
		Enabled:  orDefault(pick(g.Enabled, d.Enabled), false),
		MaxHops:  orDefault(pick(g.MaxHops, d.MaxHops), probe.DefaultPathMaxHops),
		Cooldown: orDefault(pick(g.Cooldown, d.Cooldown), probe.DefaultPathCooldown),
		MTU: probe.MTUSpec{
			Enabled:  orDefault(pick(g.MTU.Enabled, d.MTU.Enabled), false),
			Max:      orDefault(pick(g.MTU.Max, d.MTU.Max), probe.DefaultMTUMax),
			Interval: orDefault(pick(g.MTU.Interval, d.MTU.Interval), probe.DefaultMTUInterval),
		},
	}
	if f := pick(g.Baseline, d.Baseline); f.Set {
		ps.Baseline = f.Value
		if f.Value == 0 {
			ps.Baseline = probe.PathBaselineOff
		}
	}
	return ps
}
