//go:build linux

package lab

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ExporterListen is the default listen address of Lab.StartExporter. Every
// lab has its own loopback in the probe namespace, so concurrent tests do
// not collide on it.
const ExporterListen = "127.0.0.1:10427"

// ExporterConfig is an exporter configuration file, in the part of the
// format that lab tests use. Zero fields are left out of the file, so the
// exporter's defaults apply to them.
type ExporterConfig struct {
	Source string // source.name
	// Latitude and Longitude are written (source.latitude, source.longitude)
	// when either is not zero.
	Latitude, Longitude float64
	Datapath            string // engine.datapath
	Defaults            ConfigSettings
	Groups              []ConfigGroup
	// Vantage is the vantage: section in flow style, like "{}" (vantage
	// health on with its defaults) or "{anchors: [gw]}"; empty: none.
	Vantage string
}

// ConfigSettings are the probe settings of the defaults section or of one
// group. Zero fields are left out.
type ConfigSettings struct {
	Interval, Timeout  time.Duration
	DownAfter, UpAfter int
	Histogram          string // histogram.mode: native, classic, both or none
	Labels             map[string]string
}

// ConfigGroup is one target group.
type ConfigGroup struct {
	Name string
	ConfigSettings
	Targets []netip.Addr
}

// YAML returns the configuration file's text.
func (c ExporterConfig) YAML() string {
	var b strings.Builder
	if c.Source != "" || c.Latitude != 0 || c.Longitude != 0 {
		b.WriteString("source:\n")
		if c.Source != "" {
			fmt.Fprintf(&b, "  name: %q\n", c.Source)
		}
		if c.Latitude != 0 || c.Longitude != 0 {
			fmt.Fprintf(&b, "  latitude: %g\n  longitude: %g\n", c.Latitude, c.Longitude)
		}
	}
	if c.Datapath != "" {
		fmt.Fprintf(&b, "engine:\n  datapath: %s\n", c.Datapath)
	}
	if s := c.Defaults.yaml("  "); s != "" {
		b.WriteString("defaults:\n" + s)
	}
	if c.Vantage != "" {
		b.WriteString("vantage: " + c.Vantage + "\n")
	}
	b.WriteString("groups:\n")
	for _, g := range c.Groups {
		fmt.Fprintf(&b, "  - name: %q\n", g.Name)
		b.WriteString(g.ConfigSettings.yaml("    "))
		b.WriteString("    targets:\n")
		for _, a := range g.Targets {
			fmt.Fprintf(&b, "      - %q\n", a.String())
		}
	}
	return b.String()
}

// yaml returns the set fields, each line indented by indent.
func (s ConfigSettings) yaml(indent string) string {
	var b strings.Builder
	if s.Interval != 0 {
		fmt.Fprintf(&b, "%sinterval: %s\n", indent, s.Interval)
	}
	if s.Timeout != 0 {
		fmt.Fprintf(&b, "%stimeout: %s\n", indent, s.Timeout)
	}
	if s.DownAfter != 0 {
		fmt.Fprintf(&b, "%sdown_after: %d\n", indent, s.DownAfter)
	}
	if s.UpAfter != 0 {
		fmt.Fprintf(&b, "%sup_after: %d\n", indent, s.UpAfter)
	}
	if s.Histogram != "" {
		fmt.Fprintf(&b, "%shistogram:\n%s  mode: %s\n", indent, indent, s.Histogram)
	}
	if len(s.Labels) > 0 {
		fmt.Fprintf(&b, "%slabels:\n", indent)
		for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
			fmt.Fprintf(&b, "%s  %s: %q\n", indent, k, s.Labels[k])
		}
	}
	return b.String()
}

// WriteConfig writes c to config.yml in a new t.TempDir() and returns the
// file's path.
func WriteConfig(t testing.TB, c ExporterConfig) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(path, []byte(c.YAML()), 0o644); err != nil {
		t.Fatalf("lab: write exporter config: %v", err)
	}
	return path
}

// ExporterOptions configure Lab.StartExporter.
type ExporterOptions struct {
	Config string   // path of the configuration file (--config.file)
	Listen string   // --web.listen-address in the probe namespace; "" is ExporterListen
	Args   []string // further command line arguments, after the two above
	// Binary is the exporter binary; "" builds one with BuildExporter.
	Binary string
	// Wrapper is a command and its arguments that the binary runs under,
	// e.g. {"chrt", "--rr", "10"}; nil runs the binary itself.
	Wrapper []string
}

// Exporter is an exporter process in a lab's probe namespace, started by
// Lab.StartExporter. Its methods are safe for concurrent use.
type Exporter struct {
	Proc   *Proc
	Binary string       // path of the exporter binary
	Listen string       // host:port it listens on in the probe namespace
	Client *http.Client // reaches Listen (Lab.HTTPClient)
}

// StartExporter runs the exporter in the probe namespace with Lab.Start (so
// it is stopped in cleanup, and its output logged when the test fails). It
// does not wait for the exporter to listen: poll Scrape, e.g. with WaitFor.
func (l *Lab) StartExporter(ctx context.Context, opts ExporterOptions) *Exporter {
	l.t.Helper()
	x := &Exporter{Binary: opts.Binary, Listen: opts.Listen}
	if x.Binary == "" {
		x.Binary = BuildExporter(l.t)
	}
	if x.Listen == "" {
		x.Listen = ExporterListen
	}
	argv := append(slices.Clone(opts.Wrapper), x.Binary, "--config.file="+opts.Config, "--web.listen-address="+x.Listen)
	argv = append(argv, opts.Args...)
	x.Proc = l.Start(ctx, argv[0], argv[1:]...)
	x.Client = l.HTTPClient()
	return x
}

// URL returns the exporter's URL for path (e.g. "/metrics").
func (x *Exporter) URL(path string) string { return "http://" + x.Listen + path }

// Exited returns an error with the exit status and output when the process
// has exited, nil while it runs.
func (x *Exporter) Exited() error {
	select {
	case <-x.Proc.Done():
		return fmt.Errorf("exporter exited: %w; output:\n%s", x.Proc.Err(), x.Proc.Output())
	default:
		return nil
	}
}

// Scrape returns the body of /metrics in the text format (see Scrape); it
// fails with the Exited error when the process has exited.
func (x *Exporter) Scrape(ctx context.Context) ([]byte, error) {
	if err := x.Exited(); err != nil {
		return nil, err
	}
	return Scrape(ctx, x.Client, x.URL("/metrics"))
}

// MetricsNamed scrapes only the named families (/metrics?name[]=...) and
// parses them, all of them like Metrics when names is empty: at 100 000
// targets a full scrape is about 200 MB of text, and parsing it takes long
// enough on a loaded machine to outlast a wait.
func (x *Exporter) MetricsNamed(ctx context.Context, names ...string) (map[string]*dto.MetricFamily, error) {
	if len(names) == 0 {
		return x.Metrics(ctx)
	}
	if err := x.Exited(); err != nil {
		return nil, err
	}
	q := url.Values{"name[]": names}
	return ScrapeMetrics(ctx, x.Client, x.URL("/metrics?"+q.Encode()))
}

// Metrics scrapes /metrics like Scrape and parses it with ParseMetrics.
func (x *Exporter) Metrics(ctx context.Context) (map[string]*dto.MetricFamily, error) {
	body, err := x.Scrape(ctx)
	if err != nil {
		return nil, err
	}
	return ParseMetrics(body)
}

// TextFormat is the Accept header of Scrape: the Prometheus text exposition
// format, version 0.0.4.
const TextFormat = "text/plain;version=0.0.4"

// Scrape GETs url with client, asking for the text format, and returns the
// body of a 200 answer; any other status is an error that quotes the body.
func Scrape(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	req.Header.Set("Accept", TextFormat)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: read body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s: %s", url, resp.Status, body)
	}
	return body, nil
}

// ParseMetrics parses a scrape in the text format into its metric families
// by name (UTF-8 names allowed).
func ParseMetrics(body []byte) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parse scrape: %w", err)
	}
	return mfs, nil
}

// ScrapeMetrics is Scrape followed by ParseMetrics.
func ScrapeMetrics(ctx context.Context, client *http.Client, url string) (map[string]*dto.MetricFamily, error) {
	body, err := Scrape(ctx, client, url)
	if err != nil {
		return nil, err
	}
	return ParseMetrics(body)
}

// Label returns the value of m's label name, "" when m has no such label.
func Label(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}
