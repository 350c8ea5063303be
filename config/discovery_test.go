package config

import (
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

const discoveryConfig = `
defaults:
  interval: 2s
  labels: {site: lab}
groups:
  - name: static
    targets: [127.0.0.1]
  - name: inventory
    timeout: 500ms
    labels: {team: net}
    file_sd_configs:
      - files: [targets/*.json, /abs/*.yml]
    http_sd_configs:
      - url: https://inventory.example/targets
        refresh_interval: 30s
        basic_auth: {username: sd, password_file: secret}
        tls_config: {insecure_skip_verify: false}
    relabel_configs:
      - source_labels: [__meta_rack]
        target_label: rack
      - regex: __meta_(.+)
        action: labeldrop
`

func TestDiscoveryGroups(t *testing.T) {
	cfg, err := Parse([]byte(discoveryConfig), "/etc/icmp/config.yml")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := cfg.Spec()
	if len(spec.Targets) != 1 {
		t.Errorf("static targets: got %d, want 1", len(spec.Targets))
	}
	dgs := cfg.DiscoveryGroups()
	if len(dgs) != 2 || dgs[0].HasSources() || !dgs[1].HasSources() {
		t.Fatalf("discovery groups: %+v", dgs)
	}
	g := dgs[1]
	if g.Name != "inventory" || g.Path != "groups[1]" {
		t.Errorf("group %q at %q", g.Name, g.Path)
	}
	if want := []string{"/etc/icmp/targets/*.json", "/abs/*.yml"}; !slices.Equal(g.FileSD[0].Files, want) {
		t.Errorf("files: got %v, want %v (relative to the config file)", g.FileSD[0].Files, want)
	}
	if got := time.Duration(g.FileSD[0].RefreshInterval); got != DefaultFileSDRefresh {
		t.Errorf("file refresh: got %s, want the default %s", got, DefaultFileSDRefresh)
	}
	h := g.HTTPSD[0]
	if time.Duration(h.RefreshInterval) != 30*time.Second || h.HTTPClientConfig.BasicAuth == nil ||
		h.HTTPClientConfig.BasicAuth.PasswordFile != "/etc/icmp/secret" || !h.HTTPClientConfig.FollowRedirects {
		t.Errorf("http sd: %+v", h)
	}
	if len(g.Relabel) != 2 || g.Relabel[1].Action != "labeldrop" || g.Relabel[0].Action != "replace" {
		t.Errorf("relabel: %+v", g.Relabel)
	}
}

func TestDiscoveryTarget(t *testing.T) {
	cfg, err := Parse([]byte(discoveryConfig), "c.yml")
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.DiscoveryGroups()[1]
	base := probe.TargetSpec{
		Group: "inventory", Interval: 2 * time.Second, Timeout: 500 * time.Millisecond,
		PayloadSize: DefaultPayloadSize, DownAfter: DefaultDownAfter, UpAfter: DefaultUpAfter,
		OutageHistory: DefaultOutageHistory, Histogram: probe.HistogramSpec{Mode: probe.HistogramNative, Aggregation: probe.AggregateTarget},
		Labels: []probe.Label{{Name: "site", Value: "lab"}, {Name: "team", Value: "net"}},
	}
	with := func(f func(t *probe.TargetSpec)) probe.TargetSpec {
		t := base
		f(&t)
		return t
	}
	tests := []struct {
		name   string
		labels map[string]string
		want   probe.TargetSpec
		err    string // substring of the error; "" for none
	}{
		{"address", map[string]string{"__address__": "10.0.0.1"},
			with(func(t *probe.TargetSpec) { t.Name, t.Addr = "10.0.0.1", netip.MustParseAddr("10.0.0.1") }), ""},
		{"port stripped", map[string]string{"__address__": "10.0.0.1:9100"},
			with(func(t *probe.TargetSpec) { t.Name, t.Addr = "10.0.0.1", netip.MustParseAddr("10.0.0.1") }), ""},
		{"ipv6 with port", map[string]string{"__address__": "[2001:db8::1]:9100"},
			with(func(t *probe.TargetSpec) { t.Name, t.Addr = "2001:db8::1", netip.MustParseAddr("2001:db8::1") }), ""},
		{"host name", map[string]string{"__address__": "db.example.com:5432"},
			with(func(t *probe.TargetSpec) { t.Name, t.Host = "db.example.com", "db.example.com" }), ""},
		{"labels over group labels, meta dropped", map[string]string{"__address__": "10.0.0.1", "team": "dba", "rack": "r1", "__meta_x": "y"},
			with(func(t *probe.TargetSpec) {
				t.Name, t.Addr = "10.0.0.1", netip.MustParseAddr("10.0.0.1")
				t.Labels = []probe.Label{{Name: "rack", Value: "r1"}, {Name: "site", Value: "lab"}, {Name: "team", Value: "dba"}}
			}), ""},
		{"overrides", map[string]string{"__address__": "10.0.0.1", "__interval__": "10s", "__timeout__": "3s", "__payload_size__": "100", "__ttl__": "7"},
			with(func(t *probe.TargetSpec) {
				t.Name, t.Addr = "10.0.0.1", netip.MustParseAddr("10.0.0.1")
				t.Interval, t.Timeout, t.PayloadSize, t.TTL = 10*time.Second, 3*time.Second, 100, 7
			}), ""},
		{"interval override keeps the group timeout", map[string]string{"__address__": "10.0.0.1", "__interval__": "1m"},
			with(func(t *probe.TargetSpec) {
				t.Name, t.Addr = "10.0.0.1", netip.MustParseAddr("10.0.0.1")
				t.Interval = time.Minute
			}), ""},
		{"no address", map[string]string{"site": "x"}, probe.TargetSpec{}, "no __address__"},
		{"bad address", map[string]string{"__address__": "10.0.0.999"}, probe.TargetSpec{}, "looks like an IP address"},
		{"multicast", map[string]string{"__address__": "224.0.0.1"}, probe.TargetSpec{}, "list the member addresses as targets"},
		{"allow_broadcast override refused", map[string]string{"__address__": "224.0.0.1", "__allow_broadcast__": "true"},
			probe.TargetSpec{}, "__allow_broadcast__: is no longer supported"},
		{"interval too short", map[string]string{"__address__": "10.0.0.1", "__interval__": "0s"}, probe.TargetSpec{}, `__interval__: "0s" is below the minimum`},
		{"interval no unit", map[string]string{"__address__": "10.0.0.1", "__interval__": "5"}, probe.TargetSpec{}, `"5" has no unit`},
		{"payload not a number", map[string]string{"__address__": "10.0.0.1", "__payload_size__": "big"}, probe.TargetSpec{}, "want a whole number"},
		{"payload too small", map[string]string{"__address__": "10.0.0.1", "__payload_size__": "4"}, probe.TargetSpec{}, "__payload_size__: 4 is out of range"},
		{"timeout too long for interval", map[string]string{"__address__": "10.0.0.1", "__interval__": "1s", "__timeout__": "2m"}, probe.TargetSpec{}, "longer than 1m0s"},
		{"reserved label", map[string]string{"__address__": "10.0.0.1", "target": "x"}, probe.TargetSpec{}, `"target" is set by the exporter`},
		{"bad label name", map[string]string{"__address__": "10.0.0.1", "a-b": "x"}, probe.TargetSpec{}, "not a valid label name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			specs, err := g.Targets(labels.FromMap(tt.labels))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error containing %q", err, tt.err)
				}
				var ce *Error
				if !errors.As(err, &ce) && !strings.Contains(tt.err, "__address__") {
					t.Errorf("error %T is not a *config.Error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(specs) != 1 {
				t.Fatalf("got %d specs, want 1", len(specs))
			}
			got := specs[0]
			if !got.Equal(&tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			spec := probe.Spec{Targets: []probe.TargetSpec{got}}
			if err := spec.Validate(); err != nil {
				t.Errorf("engine refuses it: %v", err)
			}
		})
	}
}

func TestOverrideLabels(t *testing.T) {
	got := OverrideLabels()
	for _, want := range []string{"__interval__", "__timeout__", "__payload_size__", "__ttl__", "__tos__", "__down_after__", "__up_after__"} {
		if !slices.Contains(got, want) {
			t.Errorf("%s missing from %v", want, got)
		}
	}
	if slices.Contains(got, "__labels__") || slices.Contains(got, "__histogram__") {
		t.Errorf("labels and histogram cannot be overridden: %v", got)
	}
}

func TestStripPort(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.1": "10.0.0.1", "10.0.0.1:80": "10.0.0.1", "host:80": "host", "host": "host",
		"2001:db8::1": "2001:db8::1", "[2001:db8::1]:80": "2001:db8::1", "[::1]": "::1", " a:1 ": "a",
	} {
		if got := StripPort(in); got != want {
			t.Errorf("StripPort(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDiscoveryOnlyGroup(t *testing.T) {
	data := "groups:\n  - name: d\n    file_sd_configs: [{files: [\"t.json\"]}]\n"
	cfg, err := Parse([]byte(data), filepath.Join(t.TempDir(), "c.yml"))
	if err != nil {
		t.Fatalf("a group with only file_sd_configs: %v", err)
	}
	spec, err := cfg.Spec()
	if err != nil || len(spec.Targets) != 0 {
		t.Errorf("spec: %v, %d targets", err, len(spec.Targets))
	}
}

func TestIPVersion(t *testing.T) {
	data := `
defaults: {ip_protocol: ip4}
groups:
  - name: v6
    ip_version: "6"
    targets: [a.example, 192.0.2.1]
  - name: p6
    ip_version: prefer6
    targets: [b.example]
  - name: both
    ip_version: both
    targets: [c.example, "2001:db8::1"]
  - name: plain
    targets: [d.example]
`
	cfg, err := Parse([]byte(data), "c.yml")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := cfg.Spec()
	var got []string
	for _, ts := range spec.Targets {
		got = append(got, ts.Group+" "+ts.Name+" "+ts.IPProtocol+" "+func() string {
			for _, l := range ts.Labels {
				if l.Name == IPVersionLabel {
					return "v" + l.Value
				}
			}
			return "-"
		}())
	}
	want := []string{
		"v6 a.example ip6 -", "v6 192.0.2.1  -", "p6 b.example prefer6 -",
		"both c.example ip4 v4", "both c.example ip6 v6", "both 2001:db8::1  v6", "plain d.example ip4 -",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
