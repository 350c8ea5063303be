package app

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/exporter-toolkit/web"
)

// WebOptions configure NewHandler.
type WebOptions struct {
	// MetricsPath serves the metrics (default /metrics).
	MetricsPath string
	// Gatherer is scraped at MetricsPath.
	Gatherer prometheus.Gatherer
	// Stream, when set, writes the big families (per target, per group,
	// engine) at MetricsPath after the Gatherer's, straight from the engine
	// snapshot (collector.Collector.WriteMetrics). It must not be registered
	// with Gatherer. See NewHandler for the formats.
	Stream MetricsStreamer
	// Registerer, when set, receives promhttp's own request metrics.
	Registerer prometheus.Registerer
	// Reload is called by POST /-/reload; nil answers 501.
	Reload func() error
	// Ready reports whether the engine runs; nil means always ready.
	Ready func() bool
	// Probe, when set, serves the blackbox-style /probe (NewProbeHandler).
	Probe http.Handler
	// Version is shown on the landing page.
	Version string
	// Logger receives errors of the metrics handler; nil discards.
	Logger *slog.Logger
}

// MetricsStreamer is a collector that can also write its metrics itself:
// *collector.Collector.
type MetricsStreamer interface {
	prometheus.Collector
	WriteMetrics(w io.Writer, f expfmt.Format, include func(name string) bool) error
}

// NewHandler returns the exporter's HTTP handler:
//
//	/              landing page (unless MetricsPath is /)
//	MetricsPath    Prometheus metrics (text, OpenMetrics, protobuf for native histograms)
//	/-/healthy     200 while the process serves
//	/-/ready       200 once the engine runs, 503 before
//	/-/reload      POST: reload the configuration (200, or 500 with the error); other methods 405
//
// With WebOptions.Stream, MetricsPath offers delimited protobuf and the
// text format (and protobuf text for debugging, through the registry); it
// does not offer OpenMetrics, so scrapers that ask for it get the text
// format. See metricsHandler.
func NewHandler(o WebOptions) (http.Handler, error) {
	if o.MetricsPath == "" {
		o.MetricsPath = "/metrics"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	var metrics http.Handler
	if o.Stream != nil {
		metrics = newMetricsHandler(o.Gatherer, o.Stream, o.Logger)
	} else {
		metrics = promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{
			ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelError),
			ErrorHandling:     promhttp.ContinueOnError,
			EnableOpenMetrics: true,
		})
	}
	if o.Registerer != nil {
		metrics = promhttp.InstrumentMetricHandler(o.Registerer, metrics)
	}
	mux.Handle(o.MetricsPath, metrics)
	if o.Probe != nil {
		mux.Handle("/probe", o.Probe)
	}
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Healthy.")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if o.Ready != nil && !o.Ready() {
			http.Error(w, "Not ready: the engine is not running.", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Ready.")
	})
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "Use POST to reload the configuration.", http.StatusMethodNotAllowed)
			return
		}
		if o.Reload == nil {
			http.Error(w, "Reload is not available.", http.StatusNotImplemented)
			return
		}
		if err := o.Reload(); err != nil {
			http.Error(w, "Reload failed, the running configuration is kept:\n"+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "Configuration reloaded.")
	})
	if o.MetricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "icmp_exporter",
			Description: "Continuous ICMP echo prober for Prometheus and OpenTelemetry",
			Version:     o.Version,
			Profiling:   "false",
			Links: []web.LandingLinks{
				{Address: o.MetricsPath, Text: "Metrics"},
				{Address: "/-/healthy", Text: "Health"},
				{Address: "/-/ready", Text: "Readiness"},
			},
		})
		if err != nil {
			return nil, fmt.Errorf("build landing page: %w", err)
		}
		mux.Handle("/", landing)
	}
	return mux, nil
}
