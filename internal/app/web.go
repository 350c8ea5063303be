package app

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/icmp-exporter/icmp_exporter/config"
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
	// Reload is called by POST /-/reload and returns the reload's notes
	// (Reloader.Reload); nil answers 403: reloading over HTTP is off unless
	// main was started with --web.enable-lifecycle.
	Reload func() ([]string, error)
	// Ready reports whether the engine runs; nil means always ready.
	Ready func() bool
	// Probe, when set, serves the blackbox-style /probe (NewProbeHandler).
	Probe http.Handler
	// Paths, when set, serves PathPath (NewPathHandler).
	Paths http.Handler
	// Version is shown on the landing page.
	Version string
	// Status, when set, serves the status pages (Status.Path) and the
	// landing page links to them first.
	Status *Status
	// WriteStall bounds each write of a streamed scrape to the client (see
	// stallWriter): a client that accepts no data for this long is cut
	// off. 0 means DefaultWriteStall; negative disables it.
	WriteStall time.Duration
	// WriteTimeout is the http.Server's WriteTimeout; the stall deadlines
	// never extend past it.
	WriteTimeout time.Duration
	// Logger receives errors of the metrics handler; nil discards.
	Logger *slog.Logger
}

// DefaultWriteStall is how long a scrape client may accept no data before
// it is cut off: Prometheus' default scrape timeout.
const DefaultWriteStall = 10 * time.Second

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
//	/-/reload      POST: reload the configuration (200 with any notes, or 500 naming where the
//	               file is wrong); other methods 405; 403 when Reload is nil
//	/ui/           status pages (WebOptions.Status; see internal/ui)
//
// Every path answers a query string longer than maxQueryBytes with 414, and
// a malformed one or one with more than maxQueryNames name[] parameters
// with 400, before any other work.
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
		stall := o.WriteStall
		if stall == 0 {
			stall = DefaultWriteStall
		}
		metrics = newMetricsHandler(o.Gatherer, o.Stream, stall, o.WriteTimeout, o.Logger)
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
	if o.Paths != nil {
		mux.Handle(PathPath, o.Paths)
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
			http.Error(w, "Reloading over HTTP is disabled: start the exporter with --web.enable-lifecycle, or send it SIGHUP.", http.StatusForbidden)
			return
		}
		notes, err := o.Reload()
		if err != nil {
			http.Error(w, reloadFailureBody(err), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "Configuration reloaded.")
		for _, n := range notes {
			fmt.Fprintln(w, "Not applied: "+n+".")
		}
	})
	var links []web.LandingLinks
	if o.Status != nil {
		path := o.Status.Path()
		mux.Handle(path, o.Status.Handler())
		mux.Handle(strings.TrimSuffix(path, "/"), o.Status.Handler())
		links = append(links, web.LandingLinks{Address: path, Text: "Status pages (graphs, outages)"})
	}
	if o.MetricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "icmp_exporter",
			Description: "Continuous ICMP echo prober for Prometheus and OpenTelemetry",
			Version:     o.Version,
			Profiling:   "false",
			Links: append(links,
				web.LandingLinks{Address: o.MetricsPath, Text: "Metrics"},
				web.LandingLinks{Address: "/-/healthy", Text: "Health"},
				web.LandingLinks{Address: "/-/ready", Text: "Readiness"},
			),
		})
		if err != nil {
			return nil, fmt.Errorf("build landing page: %w", err)
		}
		mux.Handle("/", landing)
	}
	return limitQuery(mux), nil
}

// reloadFailureBody is the answer to a failed POST /-/reload. It names the
// places of a configuration error (file:line: field) but never the
// messages, which quote values from the file (the file may hold OTLP
// headers with credentials); the log has the whole error.
func reloadFailureBody(err error) string {
	var b strings.Builder
	b.WriteString("Reload failed, the running configuration is kept. The exporter's log has the details.\n")
	var ce *config.Error
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			p.Msg = "invalid"
			b.WriteString(p.String() + "\n")
		}
	}
	return b.String()
}

// Query string limits: the exporter's endpoints take at most a few dozen
// name[] parameters of short metric names.
const (
	maxQueryBytes = 8 << 10
	maxQueryNames = 512
)

// limitQuery answers requests with an oversized or malformed query string
// with a short 4xx before h sees them.
func limitQuery(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.RawQuery
		if q == "" {
			h.ServeHTTP(w, r)
			return
		}
		if len(q) > maxQueryBytes {
			http.Error(w, fmt.Sprintf("The query string has %d bytes; at most %d are accepted.", len(q), maxQueryBytes), http.StatusRequestURITooLong)
			return
		}
		v, err := url.ParseQuery(q)
		if err != nil {
			http.Error(w, "Bad request: malformed query string (use name[]=<metric name>&...).", http.StatusBadRequest)
			return
		}
		if n := len(v["name[]"]); n > maxQueryNames {
			http.Error(w, fmt.Sprintf("Bad request: %d name[] parameters; at most %d are accepted.", n, maxQueryNames), http.StatusBadRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}
