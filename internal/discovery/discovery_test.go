package discovery

import (
	"context"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/internal/shard"
	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// fakeEngine records the Specs it is given.
type fakeEngine struct {
	mu    sync.Mutex
	spec  probe.Spec
	calls int
}

func (f *fakeEngine) Apply(s probe.Spec) error {
	if err := s.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	f.spec, f.calls = s, f.calls+1
	f.mu.Unlock()
	return nil
}

// targets returns "group/name label=value ..." for every target, sorted.
func (f *fakeEngine) targets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, t := range f.spec.Targets {
		s := t.Group + "/" + t.Name
		for _, l := range t.Labels {
			s += " " + l.Name + "=" + l.Value
		}
		if t.Interval != time.Second {
			s += " interval=" + t.Interval.String()
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func (f *fakeEngine) waitTargets(t *testing.T, want ...string) {
	t.Helper()
	slices.Sort(want)
	lab.WaitFor(t, 20*time.Second, 20*time.Millisecond, "targets "+strings.Join(want, ", "), func() (bool, string) {
		got := f.targets()
		return slices.Equal(got, want), fmt.Sprintf("got %q", got)
	})
}

func write(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // atomic, as inventory tools should write
		t.Fatal(err)
	}
}

// start loads the configuration text (in dir) into a new Manager.
func start(t *testing.T, dir, cfgText string, share shard.Shard) (*Manager, *fakeEngine, *config.Config) {
	t.Helper()
	path := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(path, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := cfg.Spec()
	eng := &fakeEngine{}
	m := New(Options{Engine: eng, Shard: share, Logger: slog.New(slog.NewTextHandler(tlog{t}, nil))})
	t.Cleanup(m.Close)
	if err := m.Load(cfg, share.Filter(spec)); err != nil {
		t.Fatal(err)
	}
	return m, eng, cfg
}

func TestParseTargetGroups(t *testing.T) {
	tests := []struct {
		name, ext, data string
		targets         int
		err             string
	}{
		{"json", ".json", `[{"targets": ["10.0.0.1", "10.0.0.2:80"], "labels": {"env": "prod"}}, {"targets": []}]`, 2, ""},
		{"yaml", ".yml", "- targets: [10.0.0.1]\n  labels: {env: prod}\n- targets: [10.0.0.2, 10.0.0.3]\n", 3, ""},
		{"empty yaml", ".yaml", "", 0, ""},
		{"empty json list", ".json", `[]`, 0, ""},
		{"truncated json", ".json", `[{"targets": ["10.0.0.1"`, 0, "unexpected end of JSON input"},
		{"unknown json key", ".json", `[{"target": ["10.0.0.1"]}]`, 0, "unknown field"},
		{"unknown yaml key", ".yml", "- targets: [10.0.0.1]\n  label: {a: b}\n", 0, "field label not found"},
		{"null item", ".json", `[null]`, 0, "item 0 is empty"},
		{"not a list", ".json", `{"targets": []}`, 0, "cannot unmarshal"},
		{"bad label name", ".json", `[{"targets": ["a"], "labels": {"": "x"}}]`, 0, "not a valid label name"},
		{"wrong extension", ".txt", `[]`, 0, "unknown file extension"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tgs, err := parseTargetGroups([]byte(tt.data), tt.ext)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, tg := range tgs {
				n += len(tg.Targets)
			}
			if n != tt.targets {
				t.Errorf("got %d targets, want %d", n, tt.targets)
			}
		})
	}
}

func TestFileSD(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.json"), `[{"targets": ["10.0.0.1", "10.0.0.2:9100"], "labels": {"env": "prod"}}]`)
	write(t, filepath.Join(dir, "t-b.yml"), "- targets: [10.0.0.3]\n  labels: {env: dev}\n")
	m, eng, _ := start(t, dir, `
groups:
  - name: static
    targets: [127.0.0.1]
  - name: inv
    labels: {site: lab}
    targets: [10.0.0.9]
    file_sd_configs:
      - files: ["*.json", "t-*.yml"]
        refresh_interval: 1h
`, shard.Shard{})
	// File targets are there when Load returns (no wait).
	if got, want := eng.targets(), []string{"inv/10.0.0.1 env=prod site=lab", "inv/10.0.0.2 env=prod site=lab",
		"inv/10.0.0.3 env=dev site=lab", "inv/10.0.0.9 site=lab", "static/127.0.0.1"}; !slices.Equal(got, want) {
		t.Fatalf("after Load: got %q\nwant %q", got, want)
	}

	// A change is picked up by the watch, long before the 1h refresh.
	write(t, filepath.Join(dir, "t-b.yml"), "- targets: [10.0.0.4]\n  labels: {env: dev, __interval__: 5s}\n")
	eng.waitTargets(t, "inv/10.0.0.1 env=prod site=lab", "inv/10.0.0.2 env=prod site=lab",
		"inv/10.0.0.4 env=dev site=lab interval=5s", "inv/10.0.0.9 site=lab", "static/127.0.0.1")

	// A broken file keeps its last good content; counted once.
	write(t, filepath.Join(dir, "a.json"), `[{"targets": ["10.0.0.1"`)
	write(t, filepath.Join(dir, "new.json"), `[{"targets": ["10.0.0.5"]}]`)
	eng.waitTargets(t, "inv/10.0.0.1 env=prod site=lab", "inv/10.0.0.2 env=prod site=lab",
		"inv/10.0.0.4 env=dev site=lab interval=5s", "inv/10.0.0.5 site=lab", "inv/10.0.0.9 site=lab", "static/127.0.0.1")
	write(t, filepath.Join(dir, "new.json"), `[{"targets": ["10.0.0.6"]}]`) // another refresh while a.json stays broken
	eng.waitTargets(t, "inv/10.0.0.1 env=prod site=lab", "inv/10.0.0.2 env=prod site=lab",
		"inv/10.0.0.4 env=dev site=lab interval=5s", "inv/10.0.0.6 site=lab", "inv/10.0.0.9 site=lab", "static/127.0.0.1")
	if err := testutil.CollectAndCompare(m, strings.NewReader(`
# HELP icmp_discovery_refresh_failures_total Failed refreshes of a discovery source (a broken file counts once); the last good targets stay.
# TYPE icmp_discovery_refresh_failures_total counter
icmp_discovery_refresh_failures_total{group="inv",sd_config="file_sd_configs[0]"} 1
# HELP icmp_discovery_targets Targets a discovery source gives after relabelling (valid ones, before sharding).
# TYPE icmp_discovery_targets gauge
icmp_discovery_targets{group="inv",sd_config="file_sd_configs[0]"} 4
`), "icmp_discovery_refresh_failures_total", "icmp_discovery_targets"); err != nil {
		t.Error(err)
	}

	// A removed file removes its targets.
	if err := os.Remove(filepath.Join(dir, "t-b.yml")); err != nil {
		t.Fatal(err)
	}
	eng.waitTargets(t, "inv/10.0.0.1 env=prod site=lab", "inv/10.0.0.2 env=prod site=lab",
		"inv/10.0.0.6 site=lab", "inv/10.0.0.9 site=lab", "static/127.0.0.1")
}

func TestRelabel(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "t.json"), `[
 {"targets": ["10.0.0.1:80"], "labels": {"__meta_role": "router", "__meta_dc": "ams", "__meta_tag_rack": "r1"}},
 {"targets": ["10.0.0.2"], "labels": {"__meta_role": "server", "__meta_dc": "ams"}},
 {"targets": ["10.0.0.3"], "labels": {"__meta_role": "router", "__meta_dc": "fra", "__meta_class": "slow"}},
 {"targets": ["10.0.0.4"], "labels": {"__meta_role": "router", "__meta_dc": "fra", "__meta_class": "bad"}},
 {"targets": ["10.0.0.5"], "labels": {"__meta_role": "router", "__meta_dc": "fra", "__meta_mgmt": "10.1.0.5"}},
 {"targets": ["10.0.0.1:443"], "labels": {"__meta_role": "router", "__meta_dc": "again"}}
]`)
	m, eng, _ := start(t, dir, `
groups:
  - name: r
    file_sd_configs: [{files: ["*.json"]}]
    relabel_configs:
      - source_labels: [__meta_role]
        regex: router
        action: keep
      - source_labels: [__meta_dc]
        target_label: dc
      - regex: __meta_tag_(.+)
        action: labelmap
      - source_labels: [__meta_class]
        regex: slow
        target_label: __interval__
        replacement: 10s
      - source_labels: [__meta_class]
        regex: bad
        target_label: __payload_size__
        replacement: "1"
      - source_labels: [__meta_mgmt]
        regex: (.+)
        target_label: __address__
`, shard.Shard{})
	if got, want := eng.targets(), []string{"r/10.0.0.1 dc=ams rack=r1", "r/10.0.0.3 dc=fra interval=10s", "r/10.1.0.5 dc=fra"}; !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if err := testutil.CollectAndCompare(m, strings.NewReader(`
# HELP icmp_discovery_targets_dropped Targets of a discovery source that relabel_configs dropped.
# TYPE icmp_discovery_targets_dropped gauge
icmp_discovery_targets_dropped{group="r",sd_config="file_sd_configs[0]"} 1
# HELP icmp_discovery_targets_invalid Targets of a discovery source that are not probed because they are invalid (address, labels or override labels); each is logged once.
# TYPE icmp_discovery_targets_invalid gauge
icmp_discovery_targets_invalid{group="r",sd_config="file_sd_configs[0]"} 1
`), "icmp_discovery_targets_dropped", "icmp_discovery_targets_invalid"); err != nil {
		t.Error(err)
	}
}

func TestHashmodAndShard(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString(`[{"targets": [`)
	for i := range 200 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"10.0.%d.%d"`, i/250, 1+i%250)
	}
	b.WriteString(`]}]`)
	write(t, filepath.Join(dir, "t.json"), b.String())
	cfg := `
groups:
  - name: h
    file_sd_configs: [{files: ["*.json"]}]
    relabel_configs:
      - source_labels: [__address__]
        modulus: 2
        target_label: __tmp_hash
        action: hashmod
      - source_labels: [__tmp_hash]
        regex: "0"
        action: keep
`
	_, eng, _ := start(t, dir, cfg, shard.Shard{})
	kept := eng.targets()
	if len(kept) < 60 || len(kept) > 140 {
		t.Fatalf("hashmod 2 kept %d of 200", len(kept))
	}
	// --shard applies after relabelling: three shards split what hashmod kept.
	var all []string
	for i := range 3 {
		_, e, _ := start(t, dir, cfg, shard.Shard{Index: i, Count: 3})
		all = append(all, e.targets()...)
	}
	slices.Sort(all)
	if !slices.Equal(all, kept) {
		t.Errorf("three shards probe %d targets, want exactly the %d kept", len(all), len(kept))
	}
}

func TestHTTPSD(t *testing.T) {
	var fail atomic.Bool
	var body atomic.Value
	body.Store(`[{"targets": ["10.0.0.1", "10.0.0.2"], "labels": {"dc": "ams"}}]`)
	var auth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		if fail.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body.Load())
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, eng, _ := start(t, dir, `
groups:
  - name: h
    http_sd_configs:
      - url: `+srv.URL+`/targets
        refresh_interval: 100ms
        bearer_token_file: token
    relabel_configs:
      - source_labels: [__meta_url]
        regex: .*/targets
        action: keep
`, shard.Shard{})
	eng.waitTargets(t, "h/10.0.0.1 dc=ams", "h/10.0.0.2 dc=ams")
	if got := auth.Load(); got != "Bearer s3cret" {
		t.Errorf("Authorization header %q, want the bearer token from the file", got)
	}
	body.Store(`[{"targets": ["10.0.0.2", "10.0.0.3"], "labels": {"dc": "fra"}}]`)
	eng.waitTargets(t, "h/10.0.0.2 dc=fra", "h/10.0.0.3 dc=fra")

	// Failures keep the last good list and are counted.
	fail.Store(true)
	lab.WaitFor(t, 20*time.Second, 20*time.Millisecond, "refresh failures counted", func() (bool, string) {
		n := testutil.ToFloat64(collectorFor(m, "icmp_discovery_refresh_failures_total"))
		return n >= 3, fmt.Sprintf("%v failures", n)
	})
	if got, want := eng.targets(), []string{"h/10.0.0.2 dc=fra", "h/10.0.0.3 dc=fra"}; !slices.Equal(got, want) {
		t.Errorf("after failures: got %q, want the last good %q", got, want)
	}
	// A response that is not JSON is a failure too.
	fail.Store(false)
	body.Store(`<html>`)
	time.Sleep(300 * time.Millisecond)
	if got, want := eng.targets(), []string{"h/10.0.0.2 dc=fra", "h/10.0.0.3 dc=fra"}; !slices.Equal(got, want) {
		t.Errorf("after a bad body: got %q, want the last good %q", got, want)
	}
	body.Store(`[]`)
	eng.waitTargets(t)
}

// collectorFor returns a collector of one family of m.
func collectorFor(m *Manager, name string) *familyFilter { return &familyFilter{m, name} }

func TestReloadKeepsSources(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `[{"targets": ["10.0.0.1"]}]`)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	text := `
groups:
  - name: h
    interval: 1s
    http_sd_configs: [{url: "` + srv.URL + `", refresh_interval: 1h}]
`
	m, eng, _ := start(t, dir, text, shard.Shard{})
	eng.waitTargets(t, "h/10.0.0.1")
	// A reload that changes the group's settings but not the source keeps
	// the source's list (no gap) and applies the new settings at once.
	path := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(path, []byte(strings.Replace(text, "interval: 1s", "interval: 2s", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	static, err := m.Build((*config.Config).Spec)(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(static); err != nil {
		t.Fatal(err)
	}
	if got, want := eng.targets(), []string{"h/10.0.0.1 interval=2s"}; !slices.Equal(got, want) {
		t.Errorf("after reload: got %q, want %q", got, want)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the unchanged source fetched %d times, want 1 (kept across the reload)", n)
	}
}

// familyFilter is the part of a Manager's metrics with one name.
type familyFilter struct {
	m    *Manager
	name string
}

func (f *familyFilter) Describe(ch chan<- *prometheus.Desc) { f.m.Describe(ch) }

func (f *familyFilter) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric)
	go func() { f.m.Collect(all); close(all) }()
	for m := range all {
		if strings.Contains(m.Desc().String(), `fqName: "`+f.name+`"`) {
			ch <- m
		}
	}
}

// tlog writes log lines to the test log.
type tlog struct{ t *testing.T }

func (l tlog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// hostsResolver answers from a fixed table.
type hostsResolver map[string][]netip.Addr

func (h hostsResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range h[host] {
		if network == "ip4" && !a.Is4() || network == "ip6" && !a.Is6() {
			continue
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no such host %s", host)
	}
	return out, nil
}

func TestDualStackAndResolveAll(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "t.json"), `[{"targets": ["multi.test", "10.0.0.1"]}]`)
	path := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(path, []byte(`
groups:
  - name: both
    ip_version: both
    targets: [dual.test]
  - name: all
    resolve: all
    ip_version: "4"
    file_sd_configs: [{files: ["*.json"]}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := cfg.Spec()
	// ip_version: both gives one spec per family, each with its ip_version label.
	var both []string
	for _, ts := range spec.Targets {
		both = append(both, fmt.Sprintf("%s %s %v", ts.Name, ts.IPProtocol, ts.Labels))
	}
	if want := []string{"dual.test ip4 [{ip_version 4}]", "dual.test ip6 [{ip_version 6}]"}; !slices.Equal(both, want) {
		t.Errorf("static spec: got %q, want %q", both, want)
	}
	eng := &fakeEngine{}
	res := hostsResolver{"multi.test": {netip.MustParseAddr("10.1.0.1"), netip.MustParseAddr("10.1.0.2"), netip.MustParseAddr("fd00::1")}}
	m := New(Options{Engine: eng, Resolver: res})
	t.Cleanup(m.Close)
	if err := m.Load(cfg, spec); err != nil {
		t.Fatal(err)
	}
	// resolve: all: every IPv4 address of the name is its own target.
	lab.WaitFor(t, 20*time.Second, 20*time.Millisecond, "every address of multi.test", func() (bool, string) {
		eng.mu.Lock()
		defer eng.mu.Unlock()
		var got []string
		for _, ts := range eng.spec.Targets {
			got = append(got, ts.Group+"/"+ts.Name+"@"+ts.Addr.String()+ts.Host)
		}
		slices.Sort(got)
		want := []string{"all/10.0.0.1@10.0.0.1", "all/multi.test@10.1.0.1", "all/multi.test@10.1.0.2", "both/dual.test@invalid IPdual.test", "both/dual.test@invalid IPdual.test"}
		return slices.Equal(got, want), fmt.Sprintf("got %q", got)
	})
}

// TestHTTPSDTLSBasicAuth fetches over TLS, trusting the server through
// tls_config.ca_file, with basic_auth from a password file.
func TestHTTPSDTLSBasicAuth(t *testing.T) {
	var user, pass atomic.Value
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		user.Store(u)
		pass.Store(p)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprint(w, `[{"targets": ["10.0.0.7"]}]`)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "password"), []byte("hunter2"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, eng, _ := start(t, dir, `
groups:
  - name: tls
    http_sd_configs:
      - url: `+srv.URL+`
        tls_config: {ca_file: ca.pem}
        basic_auth: {username: sd, password_file: password}
`, shard.Shard{})
	eng.waitTargets(t, "tls/10.0.0.7")
	if user.Load() != "sd" || pass.Load() != "hunter2" {
		t.Errorf("basic auth %v:%v, want sd:hunter2", user.Load(), pass.Load())
	}
}
