package config

import (
	"slices"
	"testing"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

func TestVantage(t *testing.T) {
	off, err := Parse([]byte("groups:\n- name: g\n  targets: [127.0.0.1]\n"), "off.yml")
	if err != nil {
		t.Fatal(err)
	}
	if spec, _ := off.Spec(); spec.Vantage.Enabled {
		t.Errorf("vantage health on without a vantage: section: %+v", spec.Vantage)
	}
	cfg, err := Parse([]byte(`
vantage:
  min_targets: 5
  anchors: [gateway]
groups:
  - name: gateway
    targets: [127.0.0.1]
  - name: dc
    vantage:
      share: 0.8
      anchors: []
    targets: ["::1"]
  - name: other
    targets: [127.0.0.2]
`), "on.yml")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := cfg.Spec()
	v := spec.Vantage
	want := probe.VantageRule{Share: probe.DefaultVantageShare, MinTargets: 5, Window: probe.DefaultVantageWindow, Anchors: []string{"gateway"}}
	if !v.Enabled || !v.Rule.Equal(want) {
		t.Errorf("exporter rule %+v, want %+v", v.Rule, want)
	}
	dc := v.Groups["dc"]
	if len(v.Groups) != 1 || dc.Share != 0.8 || dc.MinTargets != 5 || dc.Window != probe.DefaultVantageWindow || len(dc.Anchors) != 0 {
		t.Errorf("group rules %+v: dc overrides share and anchors, inherits the rest", v.Groups)
	}
	if !slices.Equal(v.Rule.Anchors, []string{"gateway"}) {
		t.Errorf("anchors %v", v.Rule.Anchors)
	}
}
