package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/internal/history"
	"github.com/icmp-exporter/icmp_exporter/internal/ui"
)

// StatusOptions configure NewStatus.
type StatusOptions struct {
	// Engine is sampled for the history and the pages.
	Engine history.Snapshotter
	// Config gives the history retention of every group.
	Config *config.Config
	// Bucket is the width of a history bucket (0: history.DefaultBucket).
	Bucket time.Duration
	// MaxTargets turns the history off above this many targets (0: the
	// default history.DefaultMaxTargets; negative: no limit).
	MaxTargets int
	// Logger; nil discards.
	Logger *slog.Logger
}

// Status is the status pages (internal/ui) with the history they show.
type Status struct {
	History *history.Store
	Pages   *ui.Handler
	engine  history.Snapshotter
}

// Limits of StatusOptions.Bucket.
const (
	MinHistoryBucket = time.Second
	MaxHistoryBucket = time.Hour
)

// CheckHistoryBucket returns an error saying what is allowed when d (not 0)
// is outside MinHistoryBucket .. MaxHistoryBucket.
func CheckHistoryBucket(d time.Duration) error {
	if d != 0 && (d < MinHistoryBucket || d > MaxHistoryBucket) {
		return fmt.Errorf("history bucket %s: want a duration from %s to %s, like 1m", d, MinHistoryBucket, MaxHistoryBucket)
	}
	return nil
}

// NewStatus builds the history and the pages. Run starts the sampling;
// Apply takes a reloaded configuration.
func NewStatus(o StatusOptions) (*Status, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := CheckHistoryBucket(o.Bucket); err != nil {
		return nil, err
	}
	st := history.New(history.Options{Bucket: o.Bucket, Retention: o.Config.HistoryRetention(), MaxTargets: o.MaxTargets, Logger: o.Logger})
	return &Status{History: st, Pages: ui.New(ui.Options{Engine: o.Engine, History: st, Logger: o.Logger}), engine: o.Engine}, nil
}

// Run samples the engine once per history bucket until ctx is done.
func (s *Status) Run(ctx context.Context) { s.History.Run(ctx, s.engine) }

// Apply takes the history retention of a reloaded configuration (a
// ReloaderOptions.OnApplied function).
func (s *Status) Apply(cfg *config.Config) { s.History.SetRetention(cfg.HistoryRetention()) }

// Handler serves the pages under Path.
func (s *Status) Handler() http.Handler { return s.Pages }

// Path is where the pages are served (/ui), with a trailing slash: the
// overview.
func (s *Status) Path() string { return s.Pages.Prefix() + "/" }
