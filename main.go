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
	"runtime/debug"
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
	"github.com/icmp-exporter/icmp_exporter/internal/buildinfo"
	"github.com/icmp-exporter/icmp_exporter/internal/discovery"
	"github.com/icmp-exporter/icmp_exporter/internal/downtime"
	"github.com/icmp-exporter/icmp_exporter/internal/history"
	"github.com/icmp-exporter/icmp_exporter/internal/privdrop"
	"github.com/icmp-exporter/icmp_exporter/internal/shard"
	"github.com/icmp-exporter/icmp_exporter/internal/trace"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

const name = "icmp_exporter"

// gcPercent is the exporter's default GOGC. Most of its heap is target
// state that lives as long as the configuration, and once running it
// allocates little (nothing per probe, about 0.1 MB per full scrape at 100k
// targets: bench/memstat), so collections are rare whatever the setting; what the
// setting decides is how far the heap grows past the live state before
// one: with Go's 100 to twice it. Measured at 100 000 targets
// (docs/benchmark.md, "Memory under scrapes"): with a full scrape every
// 2 s for 3 minutes RSS reached 498 MB and kept rising with 100, 410 MB
// with 25; with today's smaller state and a scrape every 5 s, 320 MB with
// 25 and 290 MB with 10, for 4% of a core more (96 and 100%). GOGC in the
// environment overrides it.
const gcPercent = 10

func main() { os.Exit(run()) }

func run() int {
	buildinfo.Complete() // a plain go build or go install still knows its version
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	a := kingpin.New(name, "Continuous ICMP echo prober: RTT, loss, up/down and outages for Prometheus and OpenTelemetry.")
	a.Command("serve", "Probe the configured targets and serve their metrics (the default command).").Default()
	measure := downtime.AddCommand(a)
	tracer := trace.AddCommand(a)
	configFile := a.Flag("config.file", "Path of the configuration file (see config.example.yml).").Default("config.yml").String()
	configCheck := a.Flag("config.check", "Check the configuration file, print a summary and exit (0 valid, 1 invalid).").Bool()
	metricsPath := a.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
	shardFlag := a.Flag("shard", "Probe only share i of n of the configured targets (i/n, i from 0; rendezvous hashing, see docs/scaling.md). "+
		"i may be a StatefulSet pod name ending in -<ordinal>. Empty: all targets.").Envar("ICMP_EXPORTER_SHARD").Default("").String()
	lifecycle := a.Flag("web.enable-lifecycle", "Enable POST /-/reload (off by default, as in Prometheus: anyone who reaches the port could trigger reloads). SIGHUP always reloads.").Bool()
	uiEnabled := a.Flag("web.ui.enabled", "Serve the status pages at /ui/ (graphs, outages); --no-web.ui.enabled turns them off.").Default("true").Bool()
	uiMaxTargets := a.Flag("web.ui.history-max-targets", "Keep the per-minute history of the status pages only up to this many targets (about 1 KB per target for 3h; see docs/ui.md); -1: no limit.").
		Default(strconv.Itoa(history.DefaultMaxTargets)).Int()
	uiBucket := a.Flag("web.ui.history-bucket", "Width of a time bucket of the status pages' history (1s .. 1h).").Default(history.DefaultBucket.String()).Duration()
	webFlags := kingpinflag.AddFlags(a, ":10427")
	logConfig := &promslog.Config{}
	promslogflag.AddFlags(a, logConfig)
	a.Version(version.Print(name))
	a.HelpFlag.Short('h')
	cmd, err := a.Parse(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v; try --help\n", name, err)
		return 2
	}
	if cmd == measure.FullCommand() {
		return measure.Run(os.Stdout, os.Stderr)
	}
	if cmd == tracer.FullCommand() {
		return tracer.Run(os.Stdout, os.Stderr)
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
	var resolver probe.Resolver // engine.hosts_file first, then DNS
	if f := cfg.HostsFile(); f != "" {
		resolver = &probe.HostsFile{Path: f}
	}
	engine, err := probe.New(spec, probe.Options{Logger: logger.With("component", "engine"), Resolver: resolver})
	if err != nil {
		// The error says what to do (ping_group_range, setcap, sudo).
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	defer engine.Close()
	// The datapath's sockets are open: probing needs no capability from now
	// on (internal/privdrop explains why); keep only what the listener needs.
	if err := privdrop.Drop(privdrop.KeepForListen(*webFlags.WebListenAddresses)); err != nil {
		logger.Warn("could not drop capabilities after opening the datapath", "err", err)
	} else if caps, err := privdrop.Status(0); err == nil {
		logger.Info("capabilities dropped after opening the datapath", "remaining", privdrop.Names(caps.Permitted))
	}
	var running atomic.Bool
	running.Store(true)

	// writeTimeout bounds a whole response, a 100k-target scrape included.
	const writeTimeout = 2 * time.Minute
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
	// Discovered targets join the static ones; reloads pass through disc.
	disc := discovery.New(discovery.Options{Engine: engine, Shard: share, Resolver: resolver,
		Logger: logger.With("component", "discovery")})
	defer disc.Close()
	if err := disc.Load(cfg, spec); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	reg.MustRegister(disc)
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
		Build:      disc.Build(buildSpec),
		Target:     disc,
		Metrics:    reloadMetrics,
		Running:    cfg,
		OnApplied:  onApplied,
		Logger:     logger.With("component", "reload"),
	})
	var httpReload func() ([]string, error)
	if *lifecycle {
		httpReload = reloader.Reload
	}
	handler, err := app.NewHandler(app.WebOptions{
		MetricsPath: *metricsPath,
		Gatherer:    reg,
		Stream:      targetMetrics,
		Registerer:  reg,
		Reload:      httpReload,
		Probe:       app.NewProbeHandler(app.ProbeOptions{Enrol: disc.Enrol, Engine: engine, Logger: logger.With("component", "probe")}),
		Paths:       app.NewPathHandler(engine),
		Ready:       running.Load,
		// Scrapes of 100k targets take about a second; a client that
		// accepts nothing for 10 s is cut off, so it cannot hold the
		// scrape path for the whole write timeout.
		WriteStall:   app.DefaultWriteStall,
		WriteTimeout: writeTimeout,
		Version:      version.Info(),
		Status:       status,
		Logger:       logger.With("component", "web"),
	})
	if err != nil {
		logger.Error("build HTTP handler", "err", err)
		return 1
	}

	// OTLP push (collector/otlp): the same engine snapshots, pushed every
	// otlp.interval on the pusher's own goroutine. Changes of the otlp
	// section take effect at restart; a reload that changes it says so.
	var pusher *otlp.Pusher
	if cfg.OTLP.Enabled {
		pusher, err = otlp.New(context.Background(), cfg.OTLP, engine,
			otlp.Resource{ServiceVersion: version.Version, Source: spec.Source}, logger.With("component", "otlp"))
		switch {
		case errors.Is(err, otlp.ErrSDKDisabled):
			logger.Info("otlp.enabled is true, but " + err.Error())
		case err != nil:
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			return 1
		default:
			reg.MustRegister(pusher)
		}
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

	// WriteTimeout bounds a whole response; WriteStall (above) cuts off
	// earlier a scrape client that stops reading.
	// MaxHeaderBytes: the endpoints need short request lines and headers;
	// longer ones get 431 before a handler runs.
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: writeTimeout, MaxHeaderBytes: 64 << 10}
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
