package config

import (
	"fmt"
	"slices"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// Vantage is the top-level `vantage:` section, which turns vantage health
// on (probe.VantageSpec), and a group's `vantage:`, which overrides the
// fields it sets for that group.
type Vantage struct {
	Share      Field[float64]  `yaml:"share"`       // default probe.DefaultVantageShare
	MinTargets Field[int]      `yaml:"min_targets"` // default probe.DefaultVantageMinTargets
	Window     Field[int]      `yaml:"window"`      // intervals; default probe.DefaultVantageWindow
	Anchors    Field[[]string] `yaml:"anchors"`     // group names
}

// vantage checks the vantage sections and fills the spec's VantageSpec.
func (c *checker) vantage() {
	top := c.cfg.Vantage
	groups := map[string]bool{}
	for i := range c.cfg.Groups {
		groups[c.cfg.Groups[i].Name.Value] = true
	}
	if top == nil {
		for i := range c.cfg.Groups {
			if g := &c.cfg.Groups[i]; g.Vantage != nil {
				path := fmt.Sprintf("groups[%d].vantage", i)
				c.ps.add(c.groupPos[i], path, "set without the top-level vantage: section, which turns vantage health on; add `vantage: {}` at the top level (its defaults apply to every group) or remove this one")
			}
		}
		return
	}
	base := probe.VantageRule{Share: probe.DefaultVantageShare, MinTargets: probe.DefaultVantageMinTargets, Window: probe.DefaultVantageWindow}
	spec := probe.VantageSpec{Enabled: true, Rule: c.vantageRule(top, base, "vantage", groups)}
	for i := range c.cfg.Groups {
		g := &c.cfg.Groups[i]
		if g.Vantage == nil {
			continue
		}
		if spec.Groups == nil {
			spec.Groups = map[string]probe.VantageRule{}
		}
		spec.Groups[g.Name.Value] = c.vantageRule(g.Vantage, spec.Rule, fmt.Sprintf("groups[%d].vantage", i), groups)
	}
	c.cfg.spec.Vantage = spec
}

// vantageRule is v's fields over base, checked; path is v's field path.
func (c *checker) vantageRule(v *Vantage, base probe.VantageRule, path string, groups map[string]bool) probe.VantageRule {
	r := base
	pos := map[string]Pos{}
	if v.Share.Set {
		r.Share, pos["share"] = v.Share.Value, v.Share.Pos
	}
	if v.MinTargets.Set {
		r.MinTargets, pos["min_targets"] = v.MinTargets.Value, v.MinTargets.Pos
	}
	if v.Window.Set {
		r.Window, pos["window"] = v.Window.Value, v.Window.Pos
	}
	for _, p := range r.Problems() {
		c.ps.add(pos[p.Field], path+"."+p.Field, "%s", p.Msg)
	}
	if f := v.Anchors; f.Set {
		r.Anchors = nil
		for _, a := range f.Value {
			switch {
			case !groups[a]:
				c.ps.add(f.Pos, path+".anchors", "%q is not a group of this file; list the names of groups whose targets you trust, like a gateway's", a)
			case slices.Contains(r.Anchors, a):
				c.ps.add(f.Pos, path+".anchors", "%q is listed twice; list each anchor group once", a)
			}
			r.Anchors = append(r.Anchors, a)
		}
	}
	return r
}
