package otlp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc/credentials"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

// SnapshotSource is what the Pusher reads: *probe.Engine implements it.
// Snapshot must be safe to call from the Pusher's goroutine while the engine
// runs, and must be cheap: it is called once per export interval.
type SnapshotSource interface {
	Snapshot(dst *probe.Snapshot) *probe.Snapshot
}

// Pusher pushes the engine's state to an OTLP endpoint every interval. It
// is safe for concurrent use. It also is a prometheus.Collector of its own
// export counters (icmp_exporter_otlp_*).
type Pusher struct {
	cfg       config.OTLP
	logger    *slog.Logger
	producer  *producer
	reader    *sdkmetric.ManualReader
	provider  *sdkmetric.MeterProvider
	exporter  sdkmetric.Exporter
	closeIdle func() // releases the HTTP exporter's idle connections

	maxPoints int

	exportMu sync.Mutex // serialises exports (loop, ForceFlush, Shutdown)
	stop     chan struct{}
	done     chan struct{}
	shutOnce sync.Once
	shutErr  error

	statsMu     sync.Mutex
	exports     uint64
	failures    uint64
	failing     bool
	lastSuccess time.Time
	lastPoints  int

	metrics *statsCollector // the Pusher's prometheus.Collector
}

// Option changes a Pusher (tests).
type Option func(*Pusher)

// WithMaxBatchPoints sets the largest number of data points per export
// request (DefaultMaxBatchPoints when not given).
func WithMaxBatchPoints(n int) Option { return func(p *Pusher) { p.maxPoints = n } }

// New starts a Pusher that exports the snapshots of src to the endpoint cfg
// names every cfg.Interval, until Shutdown. cfg is completed with the
// OTEL_EXPORTER_OTLP_* environment variables and the defaults, then
// validated. The resource is built from res, OTEL_RESOURCE_ATTRIBUTES and
// OTEL_SERVICE_NAME. With OTEL_SDK_DISABLED=true New returns ErrSDKDisabled. New does not contact the endpoint: an unreachable
// collector shows as failed exports, never as an error here.
//
// Design: a ManualReader on a MeterProvider, with a Producer that converts
// the snapshot, driven by the Pusher's own goroutine. A PeriodicReader
// would report every failed export to the process-global OTel error
// handler (one log line per interval while the collector is down, or a
// global to replace) and would keep sending every remaining batch of an
// export after the first one failed, each with its full retry back-off.
func New(ctx context.Context, cfg config.OTLP, src SnapshotSource, res Resource, logger *slog.Logger, opts ...Option) (*Pusher, error) {
	if src == nil {
		return nil, errors.New("otlp: nil snapshot source")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if sdkDisabled(os.Getenv) {
		return nil, ErrSDKDisabled
	}
	cfg = cfg.WithEnv(os.Getenv).WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("otlp config: %w", err)
	}
	r, err := res.build(ctx)
	if err != nil {
		return nil, fmt.Errorf("otlp resource: %w", err)
	}
	exp, closeIdle, err := newExporter(ctx, cfg)
	if err != nil {
		return nil, err
	}
	p := &Pusher{
		cfg:       cfg,
		logger:    logger.With("endpoint", cfg.Endpoint, "protocol", cfg.Protocol),
		producer:  newProducer(src, res.ServiceVersion),
		exporter:  exp,
		closeIdle: closeIdle,
		maxPoints: DefaultMaxBatchPoints,
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	p.metrics = newStatsCollector(p.Stats)
	for _, o := range opts {
		o(p)
	}
	p.reader = sdkmetric.NewManualReader(sdkmetric.WithProducer(p.producer))
	// No SDK instruments are registered: the Producer's data bypasses the
	// SDK's cardinality limit, so 100k targets are 100k series, not 2000 and
	// an overflow series (tested at 10k).
	p.provider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(p.reader), sdkmetric.WithResource(r))
	p.logger.Info("pushing metrics over OTLP", "interval_seconds", cfg.Interval.Seconds(),
		"timeout_seconds", cfg.Timeout.Seconds(), "headers", headerNames(cfg.Headers))
	go p.run()
	return p, nil
}

func headerNames(h map[string]config.Secret) []string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	return names
}

// newExporter builds the OTLP gRPC or HTTP exporter for cfg (already
// defaulted) and a function that releases idle connections after its
// Shutdown. Explicit options override whatever the SDK reads from the
// environment itself.
func newExporter(ctx context.Context, cfg config.OTLP) (sdkmetric.Exporter, func(), error) {
	tlsCfg, err := tlsConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	headers := make(map[string]string, len(cfg.Headers))
	for k, v := range cfg.Headers {
		headers[k] = string(v)
	}
	isURL := strings.Contains(cfg.Endpoint, "://")
	gzip := strings.EqualFold(cfg.Compression, "gzip")
	// Retries with exponential back-off; cfg.Timeout bounds one export
	// request including its retries.
	retry := struct {
		initial, max time.Duration
	}{min(500*time.Millisecond, cfg.Timeout/4), min(5*time.Second, cfg.Timeout/2)}

	switch cfg.Protocol {
	case config.OTLPHTTP:
		// Our own client: the SDK's default shares a package-level transport
		// whose keep-alive connections outlive the exporter's Shutdown.
		tr := &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          4,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
			TLSClientConfig:       tlsCfg,
		}
		opts := []otlpmetrichttp.Option{
			otlpmetrichttp.WithHTTPClient(&http.Client{Transport: tr, Timeout: cfg.Timeout}),
			otlpmetrichttp.WithEndpointURL(cfg.Endpoint),
			otlpmetrichttp.WithHeaders(headers),
			otlpmetrichttp.WithTimeout(cfg.Timeout),
			otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: true,
				InitialInterval: retry.initial, MaxInterval: retry.max, MaxElapsedTime: cfg.Timeout}),
			otlpmetrichttp.WithCompression(otlpmetrichttp.NoCompression),
		}
		if gzip {
			opts = append(opts, otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression))
		}
		if cfg.Insecure {
			opts = append(opts, otlpmetrichttp.WithInsecure())
		}
		exp, err := otlpmetrichttp.New(ctx, opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("create otlp http exporter: %w", err)
		}
		return exp, tr.CloseIdleConnections, nil
	default:
		opts := []otlpmetricgrpc.Option{
			otlpmetricgrpc.WithHeaders(headers),
			otlpmetricgrpc.WithTimeout(cfg.Timeout),
			otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: true,
				InitialInterval: retry.initial, MaxInterval: retry.max, MaxElapsedTime: cfg.Timeout}),
		}
		if isURL {
			opts = append(opts, otlpmetricgrpc.WithEndpointURL(cfg.Endpoint))
		} else {
			opts = append(opts, otlpmetricgrpc.WithEndpoint(cfg.Endpoint))
		}
		if gzip {
			opts = append(opts, otlpmetricgrpc.WithCompressor("gzip"))
		}
		if cfg.Insecure || strings.HasPrefix(strings.ToLower(cfg.Endpoint), "http://") {
			opts = append(opts, otlpmetricgrpc.WithInsecure())
		} else {
			if tlsCfg == nil {
				tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			opts = append(opts, otlpmetricgrpc.WithTLSCredentials(credentials.NewTLS(tlsCfg)))
		}
		exp, err := otlpmetricgrpc.New(ctx, opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("create otlp grpc exporter: %w", err)
		}
		return exp, func() {}, nil
	}
}

// tlsConfig loads the TLS files; nil when none is configured.
func tlsConfig(cfg config.OTLP) (*tls.Config, error) {
	t := cfg.TLS
	if t == (config.OTLPTLS{}) {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // user's explicit choice
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read otlp ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("read otlp ca_file %s: no PEM certificate found", t.CAFile)
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load otlp client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

func (p *Pusher) run() {
	defer close(p.done)
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithCancel(context.Background())
			go func() { // abandon an export in flight on Shutdown
				select {
				case <-p.stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			_ = p.export(ctx) // counted and logged in export
			cancel()
		}
	}
}

// ForceFlush exports now and returns the export's error.
func (p *Pusher) ForceFlush(ctx context.Context) error {
	select {
	case <-p.done:
		return errors.New("otlp pusher shut down")
	default:
	}
	return p.export(ctx)
}

// export collects one snapshot and sends it in batches. The first failed
// batch ends the cycle: the collector is down or refusing, and the next
// cycle carries the cumulative totals anyway.
func (p *Pusher) export(ctx context.Context) error {
	p.exportMu.Lock()
	defer p.exportMu.Unlock()
	var rm metricdata.ResourceMetrics
	err := p.reader.Collect(ctx, &rm)
	points := 0
	if err == nil {
		for _, b := range splitBatches(&rm, p.maxPoints) {
			for _, sm := range b.ScopeMetrics {
				for _, m := range sm.Metrics {
					points += dataPoints(m.Data)
				}
			}
			if err = p.exporter.Export(ctx, b); err != nil {
				err = fmt.Errorf("otlp export: %w", err)
				break
			}
		}
	} else {
		err = fmt.Errorf("otlp collect: %w", err)
	}
	p.record(err, points)
	return err
}

// record counts an export and logs changes between ok and failing.
func (p *Pusher) record(err error, points int) {
	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	p.exports++
	if err != nil {
		p.failures++
		if !p.failing {
			p.failing = true
			p.logger.Warn("OTLP export failing; retrying every interval", "err", err)
		}
		return
	}
	p.lastSuccess = time.Now()
	p.lastPoints = points
	if p.failing {
		p.failing = false
		p.logger.Info("OTLP export recovered", "data_points", points)
	}
}

// Stats are the Pusher's export counters.
type Stats struct {
	Exports, Failures uint64
	Failing           bool
	LastSuccess       time.Time
	LastDataPoints    int
}

// Stats returns the export counters.
func (p *Pusher) Stats() Stats {
	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	return Stats{Exports: p.exports, Failures: p.failures, Failing: p.failing, LastSuccess: p.lastSuccess, LastDataPoints: p.lastPoints}
}

// Shutdown stops the periodic exports, exports a last time (bounded by ctx
// and the configured timeout), and closes the connection. It returns the
// last export's error, if any. Calling it again returns the same result.
func (p *Pusher) Shutdown(ctx context.Context) error {
	p.shutOnce.Do(func() {
		close(p.stop)
		<-p.done
		exportCtx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
		defer cancel()
		err := p.export(exportCtx)
		// Closing needs no network round trip: use the caller's context, not
		// the export's, which may just have run out.
		p.shutErr = errors.Join(err, p.provider.Shutdown(ctx), p.exporter.Shutdown(ctx))
		p.closeIdle()
	})
	return p.shutErr
}

// Describe implements prometheus.Collector.
func (p *Pusher) Describe(ch chan<- *prometheus.Desc) { p.metrics.Describe(ch) }

// Collect implements prometheus.Collector.
func (p *Pusher) Collect(ch chan<- prometheus.Metric) { p.metrics.Collect(ch) }

// statsCollector exposes export counters: icmp_exporter_otlp_exports_total,
// icmp_exporter_otlp_exports_failed_total,
// icmp_exporter_otlp_last_export_success_timestamp_seconds and
// icmp_exporter_otlp_export_data_points.
type statsCollector struct {
	stats                                           func() Stats
	exportsDesc, failedDesc, lastOKDesc, pointsDesc *prometheus.Desc
}

// NewStatsCollector returns a prometheus.Collector of the export counters
// that stats returns, as a Pusher exposes its own. Safe for concurrent use
// when stats is.
func NewStatsCollector(stats func() Stats) prometheus.Collector { return newStatsCollector(stats) }

func newStatsCollector(stats func() Stats) *statsCollector {
	return &statsCollector{
		stats: stats,
		exportsDesc: prometheus.NewDesc("icmp_exporter_otlp_exports_total",
			"OTLP export cycles attempted (each may send several requests).", nil, nil),
		failedDesc: prometheus.NewDesc("icmp_exporter_otlp_exports_failed_total",
			"OTLP export cycles that failed after retries.", nil, nil),
		lastOKDesc: prometheus.NewDesc("icmp_exporter_otlp_last_export_success_timestamp_seconds",
			"Unix time of the last successful OTLP export; 0 before the first.", nil, nil),
		pointsDesc: prometheus.NewDesc("icmp_exporter_otlp_export_data_points",
			"Data points in the last OTLP export cycle.", nil, nil),
	}
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.exportsDesc
	ch <- c.failedDesc
	ch <- c.lastOKDesc
	ch <- c.pointsDesc
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	last := 0.0
	if !s.LastSuccess.IsZero() {
		last = float64(s.LastSuccess.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(c.exportsDesc, prometheus.CounterValue, float64(s.Exports))
	ch <- prometheus.MustNewConstMetric(c.failedDesc, prometheus.CounterValue, float64(s.Failures))
	ch <- prometheus.MustNewConstMetric(c.lastOKDesc, prometheus.GaugeValue, last)
	ch <- prometheus.MustNewConstMetric(c.pointsDesc, prometheus.GaugeValue, float64(s.LastDataPoints))
}

var (
	_ prometheus.Collector = (*Pusher)(nil)
	_ SnapshotSource       = (*probe.Engine)(nil)
)
