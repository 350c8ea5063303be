//go:build linux

package lab

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

// TestWriteConfig loads what WriteConfig writes with the exporter's own
// config loader and checks every field of ExporterConfig arrives.
func TestWriteConfig(t *testing.T) {
	a := netip.MustParseAddr("10.210.0.1")
	b := netip.MustParseAddr("fd00:210::1")
	path := WriteConfig(t, ExporterConfig{
		Source: "lab-ams", Latitude: 52.37, Longitude: 4.89,
		Datapath: "icmp",
		Defaults: ConfigSettings{Interval: 250 * time.Millisecond, Timeout: 200 * time.Millisecond, DownAfter: 4, UpAfter: 2},
		Groups: []ConfigGroup{
			{Name: "core", Targets: []netip.Addr{a, b},
				ConfigSettings: ConfigSettings{Labels: map[string]string{"site": "lab", "tier": "a b"}}},
			{Name: "classic", Targets: []netip.Addr{a},
				ConfigSettings: ConfigSettings{Interval: 10 * time.Millisecond, Timeout: 50 * time.Millisecond, Histogram: "classic"}},
		},
	})
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := cfg.Spec()
	if err != nil {
		t.Fatal(err)
	}
	if s := spec.Source; s.Name != "lab-ams" || !s.HasLocation || s.Latitude != 52.37 || s.Longitude != 4.89 {
		t.Errorf("source %+v", s)
	}
	if spec.Engine.Datapath != "icmp" {
		t.Errorf("datapath %q, want icmp", spec.Engine.Datapath)
	}
	type want struct {
		group, name        string
		interval, timeout  time.Duration
		downAfter, upAfter int
		labels             []probe.Label
		histogram          string
	}
	labels := []probe.Label{{Name: "site", Value: "lab"}, {Name: "tier", Value: "a b"}}
	wants := []want{
		{"core", a.String(), 250 * time.Millisecond, 200 * time.Millisecond, 4, 2, labels, ""},
		{"core", b.String(), 250 * time.Millisecond, 200 * time.Millisecond, 4, 2, labels, ""},
		{"classic", a.String(), 10 * time.Millisecond, 50 * time.Millisecond, 4, 2, nil, "classic"},
	}
	if len(spec.Targets) != len(wants) {
		b, _ := os.ReadFile(path)
		t.Fatalf("%d targets, want %d; config:\n%s", len(spec.Targets), len(wants), b)
	}
	for i, w := range wants {
		ts := spec.Targets[i]
		if ts.Group != w.group || ts.Name != w.name || ts.Interval != w.interval || ts.Timeout != w.timeout ||
			ts.DownAfter != w.downAfter || ts.UpAfter != w.upAfter || !slices.Equal(ts.Labels, w.labels) ||
			(w.histogram != "" && ts.Histogram.Mode != w.histogram) {
			t.Errorf("target %d = %+v, want %+v", i, ts, w)
		}
	}
}

func TestScrape(t *testing.T) {
	const exposition = `# TYPE icmp_up gauge
icmp_up{group="lab",target="10.210.0.1"} 1
icmp_up{group="lab",target="10.210.0.2"} 0
`
	var accept string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accept = r.Header.Get("Accept")
		switch r.URL.Path {
		case "/metrics":
			w.Write([]byte(exposition))
		case "/broken":
			w.Write([]byte("icmp_up{ 1\n"))
		default:
			http.Error(w, "no such page", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	mfs, err := ScrapeMetrics(ctx, srv.Client(), srv.URL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if accept != TextFormat {
		t.Errorf("Accept %q, want %q", accept, TextFormat)
	}
	got := map[string]float64{}
	for _, m := range mfs["icmp_up"].GetMetric() {
		got[Label(m, "target")] = m.GetGauge().GetValue()
		if Label(m, "group") != "lab" || Label(m, "missing") != "" {
			t.Errorf("labels %v", m.GetLabel())
		}
	}
	if len(got) != 2 || got["10.210.0.1"] != 1 || got["10.210.0.2"] != 0 {
		t.Errorf("icmp_up by target = %v", got)
	}

	for _, tc := range []struct{ name, path, want string }{
		{"status", "/nothing", "404 Not Found: no such page"},
		{"parse", "/broken", "parse scrape"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ScrapeMetrics(ctx, srv.Client(), srv.URL+tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
