package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

// Applier is what a reload changes: the running probe.Engine, or a fake in
// tests. Apply must leave the running state untouched when it fails.
type Applier interface {
	Apply(spec probe.Spec) error
}

// BuildFunc turns a loaded configuration into the Spec this instance runs
// (main's buildSpec: the whole Spec, or this shard's part of it).
type BuildFunc func(cfg *config.Config) (probe.Spec, error)

// LoadSpec loads the configuration file and builds its Spec with build
// (Config.Spec when build is nil).
func LoadSpec(path string, build BuildFunc) (*config.Config, probe.Spec, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, probe.Spec{}, err
	}
	if build == nil {
		build = (*config.Config).Spec
	}
	spec, err := build(cfg)
	if err != nil {
		return nil, probe.Spec{}, fmt.Errorf("build spec from %s: %w", path, err)
	}
	return cfg, spec, nil
}

// ReloaderOptions configure a Reloader.
type ReloaderOptions struct {
	// ConfigFile is read again on every reload.
	ConfigFile string
	// Build builds the Spec; nil means Config.Spec.
	Build BuildFunc
	// Target receives the new Spec.
	Target Applier
	// Metrics records the outcome; nil records nothing.
	Metrics *ReloadMetrics
	// OnApplied, when set, is called with the new configuration after the
	// engine accepted it (for parts outside the engine, like OTLP).
	OnApplied func(cfg *config.Config)
	// Running is the configuration the process started with. Sections that
	// take effect only at start (otlp) are compared with it: a reload that
	// changes them applies the rest and says that they need a restart. Nil
	// compares nothing.
	Running *config.Config
	// Logger receives one line per reload; nil discards.
	Logger *slog.Logger
	// Now is the clock of the success timestamp; nil means time.Now.
	Now func() time.Time
}

// Reloader re-reads the configuration and applies it. It is safe for
// concurrent use; reloads are serialized.
type Reloader struct {
	o  ReloaderOptions
	mu sync.Mutex
}

// NewReloader returns a Reloader.
func NewReloader(o ReloaderOptions) *Reloader {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Reloader{o: o}
}

// Reload loads and checks the configuration file and applies it. On any
// error the running configuration stays, the error is logged and returned,
// and icmp_exporter_config_last_reload_successful becomes 0. On success it returns
// notes on parts of the file that were not applied because they take effect
// only at the next restart (also logged, as warnings).
func (r *Reloader) Reload() (notes []string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	notes, err = r.reload()
	if err != nil {
		r.o.Logger.Error("configuration reload failed, keeping the running configuration",
			"file", r.o.ConfigFile, "err", err)
		if r.o.Metrics != nil {
			r.o.Metrics.Failed()
		}
		return nil, err
	}
	for _, n := range notes {
		r.o.Logger.Warn("configuration reloaded in part: "+n, "file", r.o.ConfigFile)
	}
	if r.o.Metrics != nil {
		r.o.Metrics.Succeeded(r.o.Now())
	}
	return notes, nil
}

func (r *Reloader) reload() ([]string, error) {
	cfg, spec, err := LoadSpec(r.o.ConfigFile, r.o.Build)
	if err != nil {
		return nil, err
	}
	if err := r.o.Target.Apply(spec); err != nil {
		return nil, fmt.Errorf("apply %s: %w", r.o.ConfigFile, err)
	}
	if r.o.OnApplied != nil {
		r.o.OnApplied(cfg)
	}
	// A collection now frees the replaced Spec and the parse's garbage,
	// sets the next heap goal from the running state alone and returns
	// the freed pages to the system. Left to the runtime, a collection
	// that happens to run during a reload (old and new Spec both alive)
	// raises the goal, and the pages of every such peak stay with the
	// process: RSS crept up in steps over hours (docs/reliability.md).
	debug.FreeOSMemory()
	r.o.Logger.Info("configuration reloaded", "file", r.o.ConfigFile, "targets", len(spec.Targets))
	return restartNotes(r.o.Running, cfg), nil
}

// restartNotes lists the sections of next that differ from running but
// take effect only at start. The engine section is not among them: the
// engine refuses a Spec whose engine settings changed, so such a reload
// fails.
func restartNotes(running, next *config.Config) []string {
	if running == nil {
		return nil
	}
	var notes []string
	if !reflect.DeepEqual(running.OTLP, next.OTLP) {
		notes = append(notes, "the otlp section changed and takes effect at the next restart; the OTLP push keeps the settings it started with")
	}
	return notes
}

// Run reloads once per value received from signals (SIGHUP in main) until
// ctx is done.
func (r *Reloader) Run(ctx context.Context, signals <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-signals:
			r.o.Logger.Info("reloading configuration", "signal", sig.String())
			_, _ = r.Reload() // logged and counted by Reload
		}
	}
}

// ReloadMetrics is a prometheus.Collector for the outcome of configuration
// loads. It is safe for concurrent use.
type ReloadMetrics struct {
	mu          sync.Mutex
	ok          bool
	lastSuccess time.Time

	okDesc, tsDesc *prometheus.Desc
}

// NewReloadMetrics returns metrics that report a failed load until
// Succeeded is called (main calls it after the first load).
func NewReloadMetrics() *ReloadMetrics {
	return &ReloadMetrics{
		okDesc: prometheus.NewDesc("icmp_exporter_config_last_reload_successful",
			"Whether the last configuration load succeeded (1) or failed (0).", nil, nil),
		tsDesc: prometheus.NewDesc("icmp_exporter_config_last_reload_success_timestamp_seconds",
			"Unix time of the last successful configuration load.", nil, nil),
	}
}

// Succeeded records a successful load at t.
func (m *ReloadMetrics) Succeeded(t time.Time) {
	m.mu.Lock()
	m.ok, m.lastSuccess = true, t
	m.mu.Unlock()
}

// Failed records a failed load; the last success time stays.
func (m *ReloadMetrics) Failed() {
	m.mu.Lock()
	m.ok = false
	m.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (m *ReloadMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.okDesc
	ch <- m.tsDesc
}

// Collect implements prometheus.Collector.
func (m *ReloadMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	ok, last := m.ok, m.lastSuccess
	m.mu.Unlock()
	v := 0.0
	if ok {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(m.okDesc, prometheus.GaugeValue, v)
	ts := 0.0
	if !last.IsZero() {
		ts = float64(last.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(m.tsDesc, prometheus.GaugeValue, ts)
}
