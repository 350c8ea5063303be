package config

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/internal/history"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

func TestLoadInvalid(t *testing.T) {
	tests := []struct {
		file string
		line int
		path string
		msg  string
	}{
		{"invalid-yaml.yml", 3, "", "invalid YAML: did not find expected ',' or ']'"},
		{"invalid-vantage-share.yml", 2, "vantage.share", "1.5 is out of range; want the fraction"},
		{"invalid-vantage-anchor.yml", 2, "vantage.anchors", `"gateway" is not a group of this file`},
		{"invalid-vantage-anchor-twice.yml", 2, "vantage.anchors", `"gateway" is listed twice`},
		{"invalid-vantage-group-only.yml", 2, "groups[0].vantage", "add `vantage: {}` at the top level"},
		{"invalid-vantage-window.yml", 5, "groups[0].vantage.window", "0 is out of range; want 1 to 100 intervals"},
		{"invalid-unknown-key.yml", 3, "groups[0].colour", "unknown field; allowed here: allow_broadcast"},
		{"invalid-interval-too-short.yml", 4, "groups[0].interval", `"0s" is below the minimum 1ms; use a duration like 1s`},
		{"invalid-interval-too-long.yml", 3, "groups[0].interval", "above the maximum 1h0m0s"},
		{"invalid-duration-no-unit.yml", 2, "defaults.interval", `"5" has no unit`},
		{"invalid-timeout-zero.yml", 2, "defaults.timeout", "must be above 0"},
		{"invalid-timeout-too-long.yml", 4, "groups[0].timeout", "longer than 1m0s"},
		{"invalid-timeout-window.yml", 4, "groups[0].timeout", "longer than 3.194s, the longest timeout at interval 1ms"},
		{"invalid-payload-size.yml", 3, "groups[0].payload_size", "8 is out of range; want 18 to 65000"},
		{"invalid-ttl.yml", 3, "groups[0].ttl", "256 is out of range; want 0 to 255"},
		{"invalid-tos.yml", 3, "groups[0].tos", "-1 is out of range; want 0 to 255"},
		{"invalid-down-after.yml", 2, "defaults.down_after", "0 is out of range; want 1 to 1000"},
		{"invalid-up-after.yml", 3, "groups[0].up_after", "0 is out of range; want 1 to 1000"},
		{"invalid-outage-history.yml", 3, "groups[0].outage_history", "want 0 to 10000"},
		{"invalid-history-retention.yml", 3, "groups[0].history_retention", `"72h0m0s" is out of range; want a duration from 0 (no history) to 48h0m0s like 3h`},
		{"invalid-cidr-too-large.yml", 4, "groups[0].targets[0]", "10.0.0.0/8 has 16777216 addresses, more than engine.max_cidr_addresses (65536)"},
		{"invalid-cidr-host-bits.yml", 4, "groups[0].targets[0]", "did you mean 10.0.0.0/30?"},
		{"invalid-cidr-syntax.yml", 4, "groups[0].targets[0]", `"10.0.0.0/33" is not a valid CIDR block`},
		{"invalid-multicast.yml", 5, "groups[0].targets[1]", "ff02::1 is a multicast address; broadcast, multicast and unspecified addresses cannot be probed"},
		{"invalid-multicast-cidr.yml", 4, "groups[0].targets[0]", "contains 224.0.0.1 (a multicast address)"},
		{"invalid-broadcast.yml", 4, "groups[0].targets[0]", "the broadcast address; broadcast, multicast and unspecified addresses cannot be probed (their replies come from member addresses"},
		{"invalid-allow-broadcast-true.yml", 3, "groups[0].allow_broadcast", "is no longer supported: broadcast, multicast and unspecified addresses cannot be probed"},
		{"invalid-unspecified.yml", 4, "groups[0].targets[0]", "the unspecified address"},
		{"invalid-duplicate-group.yml", 4, "groups[1].name", `group "local" is defined twice (first at line 2)`},
		{"invalid-duplicate-target.yml", 6, "groups[0].targets[2]", "127.0.0.1 is listed twice in this group (first at line 4)"},
		{"invalid-duplicate-target-cidr.yml", 5, "groups[0].targets[1]", "10.0.0.0/30 contains 10.0.0.2, already listed in this group at line 4"},
		{"invalid-duplicate-host.yml", 5, "groups[0].targets[1]", "listed twice in this group (first at line 4)"},
		{"invalid-target.yml", 4, "groups[0].targets[0]", "looks like an IP address but is not one"},
		{"invalid-label-name.yml", 4, "groups[0].labels.site-name", "not a valid label name"},
		{"invalid-label-reserved.yml", 3, "defaults.labels.target", `"target" is set by the exporter`},
		{"invalid-label-dunder.yml", 4, "groups[0].labels.__name__", "reserved by Prometheus"},
		{"invalid-label-value.yml", 4, "groups[0].labels.site", "want a string value, got a list"},
		{"invalid-empty-group.yml", 3, "groups[0].targets", "no targets"},
		{"invalid-group-without-targets.yml", 2, "groups[0].targets", "no targets"},
		{"invalid-missing-name.yml", 2, "groups[0].name", "missing; every group needs a name"},
		{"invalid-no-groups.yml", 0, "groups", "no groups"},
		{"invalid-empty.yml", 0, "", "the file is empty"},
		{"invalid-two-documents.yml", 4, "", "more than one YAML document"},
		{"invalid-datapath.yml", 2, "engine.datapath", `"dpdk" is not a datapath; want one of auto, icmp, afpacket, afxdp, pfring`},
		{"invalid-max-pps.yml", 2, "engine.max_pps", "-5 is out of range"},
		{"invalid-source-ipv4.yml", 2, "engine.source_ipv4", "not an IPv4 address"},
		{"invalid-dns-refresh.yml", 2, "engine.dns_refresh", "want a duration between 1s and 24h0m0s"},
		{"invalid-total-targets.yml", 6, "groups[0].targets[0]", "10.0.0.0/8 would bring the targets to 16777214, more than engine.max_targets (1000000)"},
		{"invalid-max-targets.yml", 2, "engine.max_targets", "0 is out of range; want 1 to 16777216"},
		{"invalid-max-cidr-addresses.yml", 2, "engine.max_cidr_addresses", "0 is out of range; want 1 to 16777216"},
		{"invalid-histogram-mode.yml", 4, "groups[0].histogram.mode", `"summary" is not a histogram mode; want native, classic, both or none`},
		{"invalid-histogram-aggregation.yml", 4, "groups[0].histogram.aggregation", "want target"},
		{"invalid-histogram-buckets-unsorted.yml", 4, "defaults.histogram.buckets", "sorted ascending"},
		{"invalid-histogram-buckets-nonpositive.yml", 5, "groups[0].histogram.buckets", "every bound must be a positive number"},
		{"invalid-ip-protocol.yml", 3, "groups[0].ip_protocol", `"ipv6" is not allowed; want ip4, ip6`},
		{"invalid-latitude.yml", 3, "source.latitude", "91 is out of range; want decimal degrees between -90 and 90"},
		{"invalid-location-half.yml", 3, "source.longitude", "set without source.latitude; set both or neither"},
		{"invalid-source-name.yml", 2, "source.name", "empty"},
		{"invalid-wrong-type.yml", 3, "groups[0].targets", "want a list like"},
		{"invalid-groups-not-list.yml", 2, "groups", "want a list, got a mapping"},
		{"invalid-allow-broadcast.yml", 3, "groups[0].allow_broadcast", `want true or false, got "yes please"`},
		{"invalid-otlp.yml", 6, "otlp.protocol", "want grpc or http"},
		{"invalid-file-sd-pattern.yml", 4, "groups[0].file_sd_configs[0].files[0]", "ending in .json, .yml or .yaml"},
		{"invalid-http-sd-url.yml", 4, "groups[0].http_sd_configs[0].url", `"ftp://inventory/targets" is not an http or https URL`},
		{"invalid-relabel-action.yml", 6, "groups[0].relabel_configs[0]", "requires 'target_label' value"},
		{"invalid-relabel-unknown-key.yml", 6, "groups[0].relabel_configs[0].source_label", "unknown field; allowed here: action, modulus, regex"},
		{"invalid-ip-version.yml", 3, "groups[0].ip_version", `"dual" is not allowed; want 4, 6, both, prefer4 or prefer6`},
		{"invalid-ip-version-and-protocol.yml", 4, "groups[0].ip_version", "remove ip_protocol"},
		{"invalid-sd-unknown-key.yml", 5, "groups[0].http_sd_configs[0].refresh", "unknown field; allowed here: authorization, basic_auth"},
		{"invalid-export.yml", 4, "groups[0].export.per_target", `"latency" is not a kind of per-target series; want up, counters, errors, ttl, rtt, outages`},
		{"invalid-path-max-hops.yml", 5, "groups[0].path.max_hops", "100 is out of range; want 1 to 64"},
		{"invalid-path-mtu-max.yml", 6, "groups[0].path.mtu.max", "20 is out of range; want 68 to 9000"},
		{"invalid-path-pps.yml", 2, "engine.path_pps", "0 is out of range; want 1 to"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			cfg, err := Load(path)
			if err == nil {
				t.Fatalf("Load accepted %s: %+v", tt.file, cfg)
			}
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("error is %T, want *Error: %v", err, err)
			}
			if len(cerr.Problems) != 1 {
				t.Fatalf("want exactly one problem, got %d:\n%v", len(cerr.Problems), err)
			}
			p := cerr.Problems[0]
			if p.File != path || p.Line != tt.line || p.Path != tt.path || !strings.Contains(p.Msg, tt.msg) {
				t.Errorf("got problem %+v\nwant line %d, path %q, message containing %q", p, tt.line, tt.path, tt.msg)
			}
			prefix := path + ":"
			if tt.line > 0 {
				prefix = fmt.Sprintf("%s:%d:", path, tt.line)
			}
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q does not start with %q", err.Error(), prefix)
			}
		})
	}
	// Every invalid-*.yml in testdata has a row above.
	files, err := filepath.Glob("testdata/invalid-*.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s has no test case", f)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want an error matching os.ErrNotExist", err)
	}
}

func TestMultipleProblems(t *testing.T) {
	data := "groups:\n" +
		"  - name: a\n" +
		"    interval: 0s\n" +
		"    ttl: 300\n" +
		"    targets: [127.0.0.1, 127.0.0.1]\n"
	_, err := Parse([]byte(data), "m.yml")
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("got %v", err)
	}
	var got []string
	for _, p := range cerr.Problems {
		got = append(got, fmt.Sprintf("%d %s", p.Line, p.Path))
	}
	want := []string{"3 groups[0].interval", "4 groups[0].ttl", "5 groups[0].targets[1]"}
	if !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q (sorted by line)", got, want)
	}
}

func TestExample(t *testing.T) {
	cfg, err := Load("../config.example.yml")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := cfg.Spec()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ts := range spec.Targets {
		got = append(got, fmt.Sprintf("%s|%s|%v|%s|%s|%s", ts.Group, ts.Name, ts.Addr, ts.Host, ts.Interval, ts.Timeout))
	}
	want := []string{
		"localhost|127.0.0.1|127.0.0.1||1s|1s",
		"localhost|::1|::1||1s|1s",
		"localhost|localhost|invalid IP|localhost|1s|1s",
	}
	if !slices.Equal(got, want) {
		t.Errorf("targets\n%q\nwant\n%q", got, want)
	}
	for _, ts := range spec.Targets {
		if ts.Addr.IsValid() && !ts.Addr.IsLoopback() {
			t.Errorf("example probes %v, which is not loopback", ts.Addr)
		}
	}
}

func TestValidFull(t *testing.T) {
	cfg, err := Load("testdata/valid-full.yml")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := cfg.Spec()
	if err != nil {
		t.Fatal(err)
	}
	wantSource := probe.Source{Name: "lab-1", HasLocation: true, Latitude: 52.37, Longitude: 4.89}
	if spec.Source != wantSource {
		t.Errorf("source %+v, want %+v", spec.Source, wantSource)
	}
	wantEngine := probe.EngineSpec{
		Datapath: probe.DatapathICMP, MaxPPS: 5000, SourceV4: netip.MustParseAddr("127.0.0.1"),
		SourceV6: netip.MustParseAddr("::1"), Interface: "lo", DNSRefresh: 5 * time.Minute,
	}
	if spec.Engine != wantEngine {
		t.Errorf("engine %+v, want %+v", spec.Engine, wantEngine)
	}
	if !cfg.OTLP.Enabled || cfg.OTLP.Endpoint != "localhost:4317" {
		t.Errorf("otlp section not decoded: %+v", cfg.OTLP)
	}

	byName := map[string]probe.TargetSpec{}
	var names []string
	for _, ts := range spec.Targets {
		byName[ts.Group+"/"+ts.Name] = ts
		names = append(names, ts.Group+"/"+ts.Name)
	}
	wantNames := []string{
		"local/127.0.0.1", "local/::1", "local/localhost",
		"blocks/10.0.0.1", "blocks/10.0.0.2", // /30 without network and broadcast
		"blocks/10.0.1.0", "blocks/10.0.1.1", // /31 keeps both
		"blocks/10.0.2.7",
		"blocks/2001:db8::", "blocks/2001:db8::1", "blocks/2001:db8::2", "blocks/2001:db8::3",
		"blocks/example.com",
		"far/192.0.2.9",
	}
	if !slices.Equal(names, wantNames) {
		t.Errorf("targets\n%q\nwant\n%q", names, wantNames)
	}

	tests := []struct {
		name string
		got  probe.TargetSpec
		want probe.TargetSpec
	}{
		{"defaults and merged labels", byName["local/127.0.0.1"], probe.TargetSpec{
			Group: "local", Name: "127.0.0.1", Addr: netip.MustParseAddr("127.0.0.1"),
			Labels:   []probe.Label{{Name: "site", Value: "lab"}, {Name: "team", Value: "sre"}},
			Interval: 2 * time.Second, Timeout: time.Second, PayloadSize: 56, DownAfter: 5, UpAfter: 1,
			OutageHistory: 10,
			Histogram:     probe.HistogramSpec{Mode: "classic", Buckets: []float64{0.001, 0.01, 0.1}, Aggregation: "target"},
		}},
		{"group overrides", byName["blocks/10.0.0.1"], probe.TargetSpec{
			Group: "blocks", Name: "10.0.0.1", Addr: netip.MustParseAddr("10.0.0.1"),
			Labels:   []probe.Label{{Name: "site", Value: "lab"}, {Name: "team", Value: "net"}},
			Interval: 100 * time.Millisecond, Timeout: 100 * time.Millisecond, PayloadSize: 56, TTL: 64, TOS: 184,
			DownAfter: 5, UpAfter: 2, OutageHistory: 0,
			Histogram: probe.HistogramSpec{Mode: "none", Aggregation: "group"},
		}},
		{"host name keeps ip_protocol", byName["blocks/example.com"], probe.TargetSpec{
			Group: "blocks", Name: "example.com", Host: "example.com", IPProtocol: probe.IPv6,
			Labels:   []probe.Label{{Name: "site", Value: "lab"}, {Name: "team", Value: "net"}},
			Interval: 100 * time.Millisecond, Timeout: 100 * time.Millisecond, PayloadSize: 56, TTL: 64, TOS: 184,
			DownAfter: 5, UpAfter: 2, OutageHistory: 0,
			Histogram: probe.HistogramSpec{Mode: "none", Aggregation: "group"},
		}},
		{"explicit timeout above interval", byName["far/192.0.2.9"], probe.TargetSpec{
			Group: "far", Name: "192.0.2.9", Addr: netip.MustParseAddr("192.0.2.9"),
			Labels:   []probe.Label{{Name: "site", Value: "lab"}, {Name: "team", Value: "net"}},
			Interval: 2 * time.Second, Timeout: 30 * time.Second, PayloadSize: 56, DownAfter: 5, UpAfter: 1,
			OutageHistory: 10,
			Histogram:     probe.HistogramSpec{Mode: "classic", Buckets: []float64{0.001, 0.01, 0.1}, Aggregation: "target"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.got.Equal(&tt.want) {
				t.Errorf("got  %+v\nwant %+v", tt.got, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	tests := []struct {
		name     string
		group    string
		interval time.Duration
		timeout  time.Duration
	}{
		{"built-in", "", time.Second, time.Second},
		{"short interval shortens the default timeout", "interval: 100ms", 100 * time.Millisecond, 100 * time.Millisecond},
		{"long interval keeps a 1s timeout", "interval: 1m", time.Minute, time.Second},
		{"explicit timeout", "{interval: 10s, timeout: 3s}", 10 * time.Second, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := "groups:\n  - name: g\n    targets: [127.0.0.1]\n"
			if tt.group != "" {
				g = "groups:\n  - name: g\n    targets: [127.0.0.1]\n    " + strings.Trim(tt.group, "{}") + "\n"
				g = strings.ReplaceAll(g, ", ", "\n    ")
			}
			cfg, err := Parse([]byte("source: {name: t}\n"+g), "d.yml")
			if err != nil {
				t.Fatal(err)
			}
			spec, err := cfg.Spec()
			if err != nil {
				t.Fatal(err)
			}
			ts := spec.Targets[0]
			if ts.Interval != tt.interval || ts.Timeout != tt.timeout {
				t.Errorf("interval %s timeout %s, want %s %s", ts.Interval, ts.Timeout, tt.interval, tt.timeout)
			}
			if ts.PayloadSize != DefaultPayloadSize || ts.DownAfter != DefaultDownAfter || ts.UpAfter != DefaultUpAfter ||
				ts.OutageHistory != DefaultOutageHistory || ts.Histogram.Mode != probe.HistogramNative ||
				ts.Histogram.Aggregation != probe.AggregateTarget || ts.Histogram.Buckets != nil {
				t.Errorf("defaults not applied: %+v", ts)
			}
			if spec.Engine.Datapath != probe.DatapathAuto || spec.Engine.DNSRefresh != DefaultDNSRefresh {
				t.Errorf("engine defaults not applied: %+v", spec.Engine)
			}
		})
	}
}

func TestSourceNameDefaultsToHostname(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skipf("no host name on this machine: %v", err)
	}
	cfg, err := Parse([]byte("groups: [{name: g, targets: [127.0.0.1]}]"), "h.yml")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := cfg.Spec()
	if spec.Source.Name != host || spec.Source.HasLocation {
		t.Errorf("source %+v, want name %q without location", spec.Source, host)
	}
}

func TestDurationsWithDays(t *testing.T) {
	cfg, err := Parse([]byte("engine: {dns_refresh: 1d}\ngroups: [{name: g, interval: 1h, targets: [127.0.0.1]}]"), "d.yml")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := cfg.Spec()
	if spec.Engine.DNSRefresh != 24*time.Hour || spec.Targets[0].Interval != time.Hour {
		t.Errorf("got dns_refresh %s interval %s", spec.Engine.DNSRefresh, spec.Targets[0].Interval)
	}
}

func TestSameTargetInTwoGroups(t *testing.T) {
	cfg, err := Parse([]byte("groups:\n- {name: a, targets: [127.0.0.1]}\n- {name: b, targets: [127.0.0.1]}\n"), "t.yml")
	if err != nil {
		t.Fatalf("one address in two groups must be allowed: %v", err)
	}
	spec, _ := cfg.Spec()
	if len(spec.Targets) != 2 || spec.Targets[0].Key() == spec.Targets[1].Key() {
		t.Errorf("want two targets with different keys, got %+v", spec.Targets)
	}
}

func TestTargetLimit(t *testing.T) {
	data := []byte("engine: {max_cidr_addresses: 65536}\ngroups:\n- {name: a, targets: [10.0.0.0/16, 10.1.0.0/16]}\n")
	_, err := parse(data, "l.yml", limits{maxTargets: 100000})
	if err == nil || !strings.Contains(err.Error(), "l.yml:3: groups[0].targets[1]: 10.1.0.0/16 would bring the targets to 131068, more than engine.max_targets (100000)") {
		t.Fatalf("got %v, want the target limit", err)
	}
}

// TestTotalTargetsBoundBeforeExpansion checks that a file whose blocks add
// up to more than engine.max_targets is refused before any block is
// expanded: the refusal of a /8 must not allocate the 16 million targets
// (about a minute of work and gigabytes) it refuses.
func TestTotalTargetsBoundBeforeExpansion(t *testing.T) {
	data := []byte("engine: {max_cidr_addresses: 16777216, max_targets: 16777216}\n" +
		"groups:\n- {name: a, targets: [10.0.0.0/9]}\n- {name: b, targets: [10.128.0.0/9, 11.0.0.0/8]}\n")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Parse(data, "big.yml")
	runtime.ReadMemStats(&after)
	want := "big.yml:4: groups[1].targets[1]: 11.0.0.0/8 would bring the targets to 33554426, more than engine.max_targets (16777216)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("refusing the file allocated %d MB: the blocks were expanded before the bound was checked", alloc>>20)
	}
}

// TestDocsExamples parses every YAML example of docs/config.md that is a
// whole configuration (has a groups: key), so the reference cannot drift.
func TestDocsExamples(t *testing.T) {
	data, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(data), "```yaml\n")[1:]
	n := 0
	for i, b := range blocks {
		b, _, _ = strings.Cut(b, "```")
		if !strings.Contains(b, "\ngroups:") && !strings.HasPrefix(b, "groups:") {
			continue
		}
		n++
		t.Run(fmt.Sprintf("block%d", i), func(t *testing.T) {
			cfg, err := Parse([]byte(b), "docs/config.md")
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			if _, err := cfg.Spec(); err != nil {
				t.Fatal(err)
			}
		})
	}
	if n == 0 {
		t.Fatal("no complete example found in docs/config.md")
	}
}

func TestLabelValuesAndUnquotedIPv6(t *testing.T) {
	cfg, err := Parse([]byte("groups:\n- name: g\n  labels: {rack: 12, empty: }\n  targets:\n    - ::1\n"), "l.yml")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := cfg.Spec()
	want := []probe.Label{{Name: "empty", Value: ""}, {Name: "rack", Value: "12"}}
	if ts := spec.Targets[0]; !slices.Equal(ts.Labels, want) || ts.Addr != netip.MustParseAddr("::1") {
		t.Errorf("got %+v, want labels %+v and address ::1", ts, want)
	}
}

func TestHistoryRetention(t *testing.T) {
	cfg, err := Parse([]byte(`
defaults:
  history_retention: 1h
groups:
  - name: inherits
    targets: [127.0.0.1]
  - name: none
    history_retention: 0s
    targets: [127.0.0.2]
`), "retention.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{"inherits": time.Hour, "none": 0}
	if got := cfg.HistoryRetention(); !maps.Equal(got, want) {
		t.Fatalf("HistoryRetention() = %v, want %v", got, want)
	}
	cfg, err = Parse([]byte("groups: [{name: plain, targets: [127.0.0.1]}]\n"), "plain.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.HistoryRetention()["plain"]; got != history.DefaultRetention {
		t.Fatalf("default retention = %v, want %v", got, history.DefaultRetention)
	}
}

func TestExport(t *testing.T) {
	data := "source: {name: s}\n" +
		"defaults:\n  export: {per_target: [up, counters]}\n" +
		"groups:\n" +
		"  - {name: big, targets: [127.0.0.1]}\n" +
		"  - {name: small, export: {per_target: [up, counters, errors, ttl, rtt, outages]}, targets: [127.0.0.2]}\n" +
		"  - {name: odd, export: {per_target: [outages, up]}, targets: [127.0.0.3]}\n"
	cfg, err := Parse([]byte(data), "e.yml")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := cfg.Spec()
	want := []probe.Export{probe.ExportUp | probe.ExportCounters, probe.ExportAll, probe.ExportOutages | probe.ExportUp}
	for i, ts := range spec.Targets {
		if ts.Export != want[i] {
			t.Errorf("%s: export %v, want %v", ts.Group, ts.Export, want[i])
		}
	}
	cfg, err = Parse([]byte("groups: [{name: g, targets: [127.0.0.1]}]\n"), "e.yml")
	if err != nil {
		t.Fatal(err)
	}
	if spec, _ := cfg.Spec(); spec.Targets[0].Export != 0 || !spec.Targets[0].Export.Has(probe.ExportRTT) {
		t.Errorf("default export %v, want the zero value (all)", spec.Targets[0].Export)
	}
	for in, msg := range map[string]string{
		"[]":          "e.yml:3: groups[0].export.per_target: empty; list the series",
		"[up, up]":    `e.yml:3: groups[0].export.per_target: "up" is listed twice`,
		"up":          `e.yml:3: groups[0].export.per_target: want a list of names like [up, counters], got "up"`,
		"[up, [ttl]]": "e.yml:3: groups[0].export.per_target[1]: item 1: want a name, got a list",
	} {
		_, err := Parse([]byte("groups:\n  - name: g\n    export: {per_target: "+in+"}\n    targets: [127.0.0.1]\n"), "e.yml")
		if err == nil || !strings.HasPrefix(err.Error(), msg) {
			t.Errorf("per_target %s: got %v, want %q", in, err, msg)
		}
	}
}
