package app

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

const goodConfig = `source: {name: test}
groups:
  - name: local
    targets: [127.0.0.1, "::1"]
`

const otherConfig = `source: {name: test}
groups:
  - name: local
    targets: [127.0.0.1, "::1", localhost]
`

const badConfig = `source: {name: test}
groups:
  - name: local
    interval: 0s
    targets: [127.0.0.1]
`

// fakeEngine records the specs it was given; it stands in for probe.Engine.
type fakeEngine struct {
	mu      sync.Mutex
	applied []probe.Spec
	err     error
}

func (f *fakeEngine) Apply(s probe.Spec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.applied = append(f.applied, s)
	return nil
}

func (f *fakeEngine) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.applied)
}

func (f *fakeEngine) last() probe.Spec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied[len(f.applied)-1]
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

var (
	t0 = time.Unix(1_700_000_000, 0)
	t1 = time.Unix(1_700_000_100, 0)
)

func reloadMetricsText(ok, ts string) string {
	return `# HELP icmp_exporter_config_last_reload_success_timestamp_seconds Unix time of the last successful configuration load.
# TYPE icmp_exporter_config_last_reload_success_timestamp_seconds gauge
icmp_exporter_config_last_reload_success_timestamp_seconds ` + ts + `
# HELP icmp_exporter_config_last_reload_successful Whether the last configuration load succeeded (1) or failed (0).
# TYPE icmp_exporter_config_last_reload_successful gauge
icmp_exporter_config_last_reload_successful ` + ok + `
`
}

// setup returns a config file holding goodConfig, a fake engine that runs
// it, and a Reloader whose metrics record a successful start at t0.
func setup(t *testing.T) (string, *fakeEngine, *ReloadMetrics, *Reloader) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yml")
	writeFile(t, path, goodConfig)
	_, spec, err := LoadSpec(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	eng := &fakeEngine{applied: []probe.Spec{spec}}
	m := NewReloadMetrics()
	m.Succeeded(t0)
	r := NewReloader(ReloaderOptions{
		ConfigFile: path, Target: eng, Metrics: m,
		Now: func() time.Time { return t1 },
	})
	return path, eng, m, r
}

func TestReload(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		applyErr  error
		wantErr   string
		wantSpecs int // specs the engine has seen, the initial one included
		wantOK    string
		wantTS    string
	}{
		{"changed file is applied", otherConfig, nil, "", 2, "1", "1.7000001e+09"},
		{"invalid file keeps the running spec", badConfig, nil, "config.yml:4: groups[0].interval", 1, "0", "1.7e+09"},
		{"missing file keeps the running spec", "", nil, "no such file", 1, "0", "1.7e+09"},
		{"engine refusal keeps the running spec", otherConfig, errors.New("datapath change needs a restart"), "needs a restart", 1, "0", "1.7e+09"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, eng, m, r := setup(t)
			if tt.file == "" {
				os.Remove(path)
			} else {
				writeFile(t, path, tt.file)
			}
			eng.err = tt.applyErr
			_, err := r.Reload()
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Reload: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Reload error %v, want one containing %q", err, tt.wantErr)
			}
			if got := eng.count(); got != tt.wantSpecs {
				t.Errorf("engine saw %d specs, want %d", got, tt.wantSpecs)
			}
			if err := testutil.CollectAndCompare(m, strings.NewReader(reloadMetricsText(tt.wantOK, tt.wantTS))); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestReloadAppliesNewTargets(t *testing.T) {
	path, eng, _, _ := setup(t)
	var got *config.Config
	r := NewReloader(ReloaderOptions{ConfigFile: path, Target: eng, OnApplied: func(c *config.Config) { got = c }})
	writeFile(t, path, otherConfig)
	if _, err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	spec := eng.last()
	if len(spec.Targets) != 3 || spec.Targets[2].Host != "localhost" {
		t.Errorf("applied %+v, want the three targets of the new file", spec.Targets)
	}
	if got == nil || got.File != path {
		t.Errorf("OnApplied got %+v", got)
	}
}

func TestReloadUsesBuild(t *testing.T) {
	path, eng, _, _ := setup(t)
	build := func(c *config.Config) (probe.Spec, error) {
		s, err := c.Spec()
		s.Targets = s.Targets[:1] // like a shard filter
		return s, err
	}
	r := NewReloader(ReloaderOptions{ConfigFile: path, Target: eng, Build: build})
	if _, err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := len(eng.last().Targets); n != 1 {
		t.Errorf("applied %d targets, want the 1 that build kept", n)
	}
}

func TestRunReloadsOnSignal(t *testing.T) {
	path, eng, m, r := setup(t)
	writeFile(t, path, otherConfig)
	sigs := make(chan os.Signal)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		r.Run(ctx, sigs)
		close(done)
	}()
	sigs <- syscall.SIGHUP
	sigs <- syscall.SIGHUP // the unbuffered send returns once the first reload is over
	if n := eng.count(); n < 2 {
		t.Errorf("engine saw %d specs after SIGHUP, want at least 2", n)
	}
	if err := testutil.CollectAndCompare(m, strings.NewReader(reloadMetricsText("1", "1.7000001e+09"))); err != nil {
		t.Error(err)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func newTestServer(t *testing.T, r *Reloader, m *ReloadMetrics, ready func() bool) *httptest.Server {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	h, err := NewHandler(WebOptions{
		Gatherer: reg, Registerer: reg, Reload: r.Reload, Ready: ready, Version: "1.2.3",
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func TestReloadEndpoint(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		file       string
		wantStatus int
		wantBody   string
		wantSpecs  int
		wantOK     string
	}{
		{"POST applies the file", http.MethodPost, otherConfig, 200, "Configuration reloaded", 2, "1"},
		{"GET is refused", http.MethodGet, otherConfig, 405, "Use POST", 1, "1"},
		{"PUT is refused", http.MethodPut, otherConfig, 405, "Use POST", 1, "1"},
		{"bad file answers 500 and keeps the spec", http.MethodPost, badConfig, 500, "config.yml:4: groups[0].interval", 1, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, eng, m, r := setup(t)
			srv := newTestServer(t, r, m, nil)
			before := eng.last()
			writeFile(t, path, tt.file)
			status, body, hdr := do(t, tt.method, srv.URL+"/-/reload")
			if status != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Errorf("got %d %q, want %d with %q", status, body, tt.wantStatus, tt.wantBody)
			}
			if status == 405 && hdr.Get("Allow") != "POST" {
				t.Errorf("405 without Allow: POST (got %q)", hdr.Get("Allow"))
			}
			if n := eng.count(); n != tt.wantSpecs {
				t.Errorf("engine saw %d specs, want %d", n, tt.wantSpecs)
			}
			if tt.wantSpecs == 1 && len(eng.last().Targets) != len(before.Targets) {
				t.Errorf("running spec changed")
			}
			_, metrics, _ := do(t, http.MethodGet, srv.URL+"/metrics")
			if want := "icmp_exporter_config_last_reload_successful " + tt.wantOK + "\n"; !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %q:\n%s", want, metrics)
			}
		})
	}
}

func TestEndpoints(t *testing.T) {
	_, _, m, r := setup(t)
	var mu sync.Mutex
	ready := false
	srv := newTestServer(t, r, m, func() bool { mu.Lock(); defer mu.Unlock(); return ready })
	tests := []struct {
		name       string
		path       string
		setReady   bool
		wantStatus int
		wantBody   string
	}{
		{"healthy", "/-/healthy", false, 200, "Healthy."},
		{"not ready before the engine runs", "/-/ready", false, 503, "Not ready"},
		{"ready once it runs", "/-/ready", true, 200, "Ready."},
		{"landing page", "/", true, 200, `href="/metrics"`},
		{"landing page version", "/", true, 200, "1.2.3"},
		{"metrics", "/metrics", true, 200, "icmp_exporter_config_last_reload_successful 1"},
		{"promhttp instrumentation", "/metrics", true, 200, "promhttp_metric_handler_requests_total"},
		{"unknown path", "/nope", true, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			ready = tt.setReady
			mu.Unlock()
			status, body, _ := do(t, http.MethodGet, srv.URL+tt.path)
			if status != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Errorf("GET %s: %d %q, want %d with %q", tt.path, status, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yml")
	writeFile(t, path, `source: {name: lab-1, latitude: 52.37, longitude: 4.89}
groups:
  - name: local
    targets: [127.0.0.1, "::1", localhost]
  - name: fast
    interval: 100ms
    targets: [10.0.0.0/30]
`)
	cfg, spec, err := LoadSpec(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := Summary(cfg, spec)
	for _, want := range []string{
		path + ": OK\n",
		"source: lab-1 (latitude 52.37, longitude 4.89)\n",
		"engine: datapath auto, max_pps 200000 (default), dns_refresh 1m0s\n",
		"groups: 2, targets: 5, about 23.0 probes/s\n",
		"probe rate: 23.0 probes/s, within max_pps 200000 (default)\n",
		"local  1     1     1      1s        1s       3.0\n",
		"fast   2     0     0      100ms     100ms    20.0\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}

// TestSummaryRateCeiling: --config.check says when the groups ask for more
// than max_pps and what the probe rate will be.
func TestSummaryRateCeiling(t *testing.T) {
	tests := []struct{ name, file, want string }{
		{"typo /16 at 10ms", "engine: {max_cidr_addresses: 65536}\ngroups:\n- {name: lan, interval: 10ms, targets: [10.1.0.0/16]}\n",
			"probe rate: 200000 probes/s, capped by max_pps 200000 (default): the groups ask for 6553400.0 probes/s; the rest are skipped (icmp_probes_skipped_total); raise engine.max_pps if this is intended\n"},
		{"explicit ceiling", "engine: {max_pps: 50}\ngroups:\n- {name: lan, interval: 100ms, targets: [10.1.0.0/29]}\n",
			"probe rate: 50 probes/s, capped by max_pps 50: the groups ask for 60.0 probes/s;"},
		{"no ceiling", "engine: {max_pps: 0}\ngroups:\n- {name: lan, targets: [10.1.0.0/29]}\n",
			"probe rate: 6.0 probes/s, no max_pps ceiling\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yml")
			writeFile(t, path, tt.file)
			cfg, spec, err := LoadSpec(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := Summary(cfg, spec); !strings.Contains(got, tt.want) {
				t.Errorf("summary lacks %q:\n%s", tt.want, got)
			}
		})
	}
}
