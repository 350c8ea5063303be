package config

import (
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

func TestPathSettings(t *testing.T) {
	cfg, err := Parse([]byte(`
source: {name: lab}
engine: {path_pps: 250}
defaults:
  path: {max_hops: 12, cooldown: 5s}
groups:
  - name: routed
    path: {enabled: true, baseline: 0s, mtu: {enabled: true, max: 9000}}
    targets: [192.0.2.1]
  - name: auto
    path: {enabled: true}
    targets: [192.0.2.2]
  - name: plain
    targets: [192.0.2.3]
`), "p.yml")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := cfg.Spec()
	if spec.Engine.PathPPS != 250 {
		t.Errorf("path_pps %d", spec.Engine.PathPPS)
	}
	want := []probe.PathSpec{
		{Enabled: true, MaxHops: 12, Baseline: probe.PathBaselineOff, Cooldown: 5 * time.Second,
			MTU: probe.MTUSpec{Enabled: true, Max: 9000, Interval: probe.DefaultMTUInterval}},
		{Enabled: true, MaxHops: 12, Cooldown: 5 * time.Second,
			MTU: probe.MTUSpec{Max: probe.DefaultMTUMax, Interval: probe.DefaultMTUInterval}},
		{},
	}
	for i, w := range want {
		if got := spec.Targets[i].Path; got != w {
			t.Errorf("%s: path %+v, want %+v", spec.Targets[i].Group, got, w)
		}
	}
}
