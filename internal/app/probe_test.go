package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/internal/discovery"
	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/probe/probetest"
	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// probeServer runs the engine on the in-memory network (192.0.2.1 answers,
// everything else is silent), a discovery manager on configText, and the
// /probe handler.
func probeServer(t *testing.T, configText string) (*httptest.Server, *discovery.Manager) {
	t.Helper()
	alive := netip.MustParseAddr("192.0.2.1")
	network := &probetest.Network{Respond: func(dst netip.Addr, _ time.Time) (time.Duration, bool) {
		return time.Millisecond, dst == alive
	}}
	path := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(path, []byte(configText), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := cfg.Spec()
	eng, err := probe.New(spec, probe.Options{Datapath: network})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	m := discovery.New(discovery.Options{Engine: eng})
	t.Cleanup(m.Close)
	if err := m.Load(cfg, spec); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewProbeHandler(ProbeOptions{Enrol: m.Enrol, Engine: eng}))
	t.Cleanup(srv.Close)
	return srv, m
}

func probeGet(t *testing.T, srv *httptest.Server, target, module string) (int, string) {
	t.Helper()
	q := url.Values{}
	if target != "" {
		q.Set("target", target)
	}
	if module != "" {
		q.Set("module", module)
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/probe?"+q.Encode(), nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const probeConfig = `
probe_endpoint: {enabled: true, max_targets: 2, expire_after: 1s}
groups:
  - name: icmp
    interval: 10ms
    timeout: 50ms
    labels: {probed_by: blackbox}
    targets: [192.0.2.100]
`

func TestProbeEndpoint(t *testing.T) {
	srv, m := probeServer(t, probeConfig)

	for _, tt := range []struct {
		target, module string
		code           int
		msg            string
	}{
		{"", "icmp", http.StatusBadRequest, "Target parameter is missing"},
		{"192.0.2.1", "", http.StatusBadRequest, "Module parameter is missing"},
		{"192.0.2.1", "http_2xx", http.StatusBadRequest, `no group "http_2xx"`},
		{"10.0.0.999", "icmp", http.StatusBadRequest, "looks like an IP address"},
	} {
		code, body := probeGet(t, srv, tt.target, tt.module)
		if code != tt.code || !strings.Contains(body, tt.msg) {
			t.Errorf("target=%q module=%q: got %d %q, want %d with %q", tt.target, tt.module, code, body, tt.code, tt.msg)
		}
	}

	// The first scrape of a new target waits for its first result.
	code, body := probeGet(t, srv, "192.0.2.1:9100", "icmp")
	if code != http.StatusOK {
		t.Fatalf("got %d %s", code, body)
	}
	for _, want := range []string{
		"probe_success 1\n", "probe_ip_protocol 4\n",
		`icmp_up{group="icmp",ip="192.0.2.1",probed_by="blackbox",source="`,
		`icmp_replies_total{group="icmp",ip="192.0.2.1"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("response lacks %q:\n%s", want, body)
		}
	}
	for _, unwanted := range []string{"icmp_engine_", "192.0.2.100"} {
		if strings.Contains(body, unwanted) {
			t.Errorf("response has %q (not this target's):\n%s", unwanted, body)
		}
	}
	// A silent target: probe_success 0 once it is down (3 lost probes).
	lab.WaitFor(t, 20*time.Second, 50*time.Millisecond, "probe_success 0 for a silent target", func() (bool, string) {
		code, body := probeGet(t, srv, "192.0.2.2", "icmp")
		return code == 200 && strings.Contains(body, "probe_success 0\n") && strings.Contains(body, "probe_duration_seconds 0.05\n"),
			fmt.Sprintf("%d %q", code, body)
	})

	// The limit: a third target is refused with what to do.
	code, body = probeGet(t, srv, "192.0.2.3", "icmp")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "probe_endpoint.max_targets") {
		t.Errorf("past the limit: got %d %q", code, body)
	}
	// Targets not scraped for expire_after are dropped.
	lab.WaitFor(t, 20*time.Second, 100*time.Millisecond, "enrolled targets expire", func() (bool, string) {
		n := m.Enrolled()
		return n == 0, fmt.Sprintf("%d enrolled", n)
	})
	if code, body := probeGet(t, srv, "192.0.2.3", "icmp"); code != http.StatusOK {
		t.Errorf("after expiry: got %d %q", code, body)
	}
}

func TestProbeEndpointOff(t *testing.T) {
	srv, _ := probeServer(t, strings.Replace(probeConfig, "enabled: true", "enabled: false", 1))
	code, body := probeGet(t, srv, "192.0.2.1", "icmp")
	if code != http.StatusNotFound || !strings.Contains(body, "probe_endpoint.enabled: true") {
		t.Errorf("got %d %q, want 404 saying how to turn it on", code, body)
	}
}

func TestDiscoverySummary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yml")
	if err := os.WriteFile(path, []byte(probeConfig+`  - name: inventory
    file_sd_configs: [{files: [a.json]}, {files: [b.yml]}]
    relabel_configs: [{regex: x, action: labeldrop}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, spec, err := LoadSpec(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := Summary(cfg, spec)
	for _, want := range []string{
		"discovery: group inventory: 2 file_sd_configs, 0 http_sd_configs, 1 relabel_configs (discovered targets are not counted above)\n",
		"/probe: on, at most 2 targets, each dropped 1s after its last scrape\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "group icmp:") {
		t.Errorf("a group without discovery is listed:\n%s", got)
	}
}
