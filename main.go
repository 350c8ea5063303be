// Command icmp_exporter pings targets continuously and exports RTT, loss,
// up/down state and outages to Prometheus and OpenTelemetry.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/icmp-exporter/icmp_exporter/collector"
	"github.com/icmp-exporter/icmp_exporter/collector/otlp"
	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/internal/app"
	"github.com/icmp-exporter/icmp_exporter/internal/downtime"
	"github.com/icmp-exporter/icmp_exporter/internal/history"
	"github.com/icmp-exporter/icmp_exporter/internal/shard"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

const name = "icmp_exporter"

func main() { os.Exit(run()) }

func run() int {
	if len(os.Args) > 1 && os.Args[1] == "downtime" {
		return downtime.Main(os.Args[2:], os.Stdout, os.Stderr)
	}
	a := kingpin.New(name, "Continuous ICMP echo prober: RTT, loss, up/down and outages for Prometheus and OpenTelemetry.")
	configFile := a.Flag("config.file", "Path of the configuration file (see config.example.yml).").Default("config.yml").String()
	configCheck := a.Flag("config.check", "Check the configuration file, print a summary and exit (0 valid, 1 invalid).").Bool()
	metricsPath := a.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
	shardFlag := a.Flag("shard", "Probe only share i of n of the configured targets (i/n, i from 0; rendezvous hashing, see docs/scaling.md). "+
		"i may be a StatefulSet pod name ending in -<ordinal>. Empty: all targets.").Envar("ICMP_EXPORTER_SHARD").Default("").String()
	uiEnabled := a.Flag("web.ui.enabled", "Serve the status pages at /ui/ (graphs, outages); --no-web.ui.enabled turns them off.").Default("true").Bool()
	uiMaxTargets := a.Flag("web.ui.history-max-targets", "Keep the per-minute history of the status pages only up to this many targets (about 1 KB per target for 3h; see docs/ui.md); -1: no limit.").
		Default(strconv.Itoa(history.DefaultMaxTargets)).Int()
	uiBucket := a.Flag("web.ui.history-bucket", "Width of a time bucket of the status pages' history (1s .. 1h).").Default(history.DefaultBucket.String()).Duration()
	webFlags := kingpinflag.AddFlags(a, ":10427")
	logConfig := &promslog.Config{}
	promslogflag.AddFlags(a, logConfig)
	a.Version(version.Print(name))
	a.HelpFlag.Short('h')
	if _, err := a.Parse(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v; try --help\n", name, err)
		return 2
	}
	logger := promslog.New(logConfig)
	if err := app.CheckHistoryBucket(*uiBucket); err != nil {
		fmt.Fprintf(os.Stderr, "%s: --web.ui.history-bucket: %v\n", name, err)
		return 2
	}
	share, err := shard.Parse(*shardFlag)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: --shard: %v\n", name, err)
		return 2
	}
	buildSpec := specBuilder(share)

	cfg, spec, err := app.LoadSpec(*configFile, buildSpec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if *configCheck {
		fmt.Print(app.Summary(cfg, spec))
		return 0
	}

	logger.Info("starting "+name, "version", version.Info(), "build_context", version.BuildContext(),
		"config_file", *configFile, "shard", share, "targets", len(spec.Targets))
	engine, err := probe.New(spec, probe.Options{Logger: logger.With("component", "engine")})
	if err != nil {
		// The error says what to do (ping_group_range, setcap, sudo).
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	defer engine.Close()
	var running atomic.Bool
	running.Store(true)

	reloadMetrics := app.NewReloadMetrics()
	reloadMetrics.Succeeded(time.Now())
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector(name),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		reloadMetrics,
	)
	// The per-target families are streamed from the engine snapshot by the
	// metrics handler (WebOptions.Stream), not gathered through reg.
	targetMetrics := collector.New(engine, collector.Options{Logger: logger.With("component", "collector")})
	if *shardFlag != "" {
		reg.MustRegister(share.InfoCollector())
	}
	var status *app.Status
	var onApplied func(*config.Config)
	if *uiEnabled {
		status, err = app.NewStatus(app.StatusOptions{Engine: engine, Config: cfg, Bucket: *uiBucket, MaxTargets: *uiMaxTargets, Logger: logger.With("component", "ui")})
		if err != nil { // checked above
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			return 2
		}
		onApplied = status.Apply
	}
	reloader := app.NewReloader(app.ReloaderOptions{
		ConfigFile: *configFile,
		Build:      buildSpec,
		Target:     engine,
		Metrics:    reloadMetrics,
		OnApplied:  onApplied,
		Logger:     logger.With("component", "reload"),
	})
	handler, err := app.NewHandler(app.WebOptions{
		MetricsPath: *metricsPath,
		Gatherer:    reg,
		Stream:      targetMetrics,
		Registerer:  reg,
		Reload:      reloader.Reload,
		Ready:       running.Load,
		Version:     version.Info(),
		Status:      status,
		Logger:      logger.With("component", "web"),
	})
	if err != nil {
		logger.Error("build HTTP handler", "err", err)
		return 1
	}

	// OTLP push (collector/otlp): the same engine snapshots, pushed every
	// otlp.interval on the pusher's own goroutine. Changes of the otlp
	// section take effect at restart, not on reload.
	var pusher *otlp.Pusher
	if cfg.OTLP.Enabled {
		pusher, err = otlp.New(context.Background(), cfg.OTLP, engine,
			otlp.Resource{ServiceVersion: version.Version, Source: spec.Source}, logger.With("component", "otlp"))
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			return 1
		}
		reg.MustRegister(pusher)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go reloader.Run(ctx, hup)
	if status != nil {
		go status.Run(ctx)
	}

	// WriteTimeout bounds how long a client that stops reading can hold the
	// scrape lock (a 100k-target scrape takes about a second).
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- web.ListenAndServe(srv, webFlags, logger) }()

	code := 0
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			logger.Warn("HTTP shutdown", "err", err)
		}
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			logger.Error("serve HTTP", "err", err)
			code = 1
		}
	}
	if pusher != nil { // last export, bounded by otlp.timeout and 5s
		otlpCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := pusher.Shutdown(otlpCtx); err != nil {
			logger.Warn("final OTLP export", "err", err)
		}
		cancel()
	}
	running.Store(false)
	if err := engine.Close(); err != nil {
		logger.Warn("close engine", "err", err)
	}
	return code
}

// specBuilder returns the function that turns the loaded configuration into
// the Spec this process runs: the targets of its shard (all of them when not
// sharded). It runs at start and on every reload.
func specBuilder(share shard.Shard) app.BuildFunc {
	return func(cfg *config.Config) (probe.Spec, error) {
		spec, err := cfg.Spec()
		if err != nil {
			return probe.Spec{}, err
		}
		return share.Filter(spec), nil
	}
}
