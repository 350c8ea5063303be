package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/icmp-exporter/icmp_exporter/collector"
	"github.com/icmp-exporter/icmp_exporter/internal/discovery"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

// ProbeOptions configure NewProbeHandler.
type ProbeOptions struct {
	// Enrol adds a target to a group for continuous probing
	// (discovery.Manager.Enrol).
	Enrol func(group, target string) (probe.TargetSpec, error)
	// Engine gives the state of the probed targets (the probe.Engine).
	Engine collector.SnapshotSource
	// Logger receives errors writing responses; nil discards.
	Logger *slog.Logger
}

// snapshotMaxAge is how old a shared engine snapshot may be when /probe
// answers for a target that already has results.
const snapshotMaxAge = time.Second

// snapshotWait is how often a request waiting for a new target's first
// result looks again (and how old the snapshot it looks at may be).
const snapshotWait = 100 * time.Millisecond

// NewProbeHandler returns the blackbox-compatible /probe handler:
// GET /probe?target=X&module=GROUP enrols X into continuous probing in the
// group GROUP (see discovery.Manager.Enrol) and answers with that target's
// icmp_* series and blackbox's probe_success, probe_duration_seconds and
// probe_ip_protocol, taken from the continuous probing. A new target is
// answered after its first probe ended, or when the scrape timeout
// (X-Prometheus-Scrape-Timeout-Seconds) is nearly over.
func NewProbeHandler(o ProbeOptions) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &probeHandler{o: o}
}

type probeHandler struct {
	o ProbeOptions

	mu    sync.Mutex // guards snap and index
	snap  *probe.Snapshot
	index map[string][]int // group \x00 name → indices in snap.Targets
}

func (h *probeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	target, module := q.Get("target"), q.Get("module")
	switch {
	case target == "":
		http.Error(w, "Target parameter is missing: use /probe?target=ADDRESS_OR_NAME&module=GROUP", http.StatusBadRequest)
		return
	case module == "":
		http.Error(w, "Module parameter is missing: module names the configuration group whose settings the target gets", http.StatusBadRequest)
		return
	}
	spec, err := h.o.Enrol(module, target)
	if err != nil {
		code := http.StatusBadRequest
		switch {
		case errors.Is(err, discovery.ErrProbeDisabled):
			code = http.StatusNotFound
		case errors.Is(err, discovery.ErrProbeFull):
			code = http.StatusServiceUnavailable
		}
		http.Error(w, err.Error(), code)
		return
	}
	deadline := time.Now().Add(min(scrapeTimeout(r), spec.Interval+spec.Timeout+2*time.Second))
	ctx, cancel := context.WithDeadline(r.Context(), deadline)
	defer cancel()
	snap, idx := h.find(ctx, spec.Group, spec.Name)

	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	reg := prometheus.NewRegistry()
	success, duration, proto := 0.0, 0.0, 4.0
	if spec.Addr.Is6() || spec.IPProtocol == probe.IPv6 {
		proto = 6
	}
	if len(idx) > 0 {
		one := &oneTarget{snap: snap, idx: idx}
		success, duration, proto = one.verdict(spec)
		c := collector.New(one, collector.Options{Logger: h.o.Logger})
		if err := c.WriteMetrics(w, expfmt.NewFormat(expfmt.TypeTextPlain), perTarget); err != nil {
			h.o.Logger.Warn("write /probe response", "err", err)
			return
		}
	}
	gauge := func(name, help string, v float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return v }))
	}
	gauge("probe_success", "Whether the target answers: icmp_up of its continuous probing (1 up, 0 down or no result yet).", success)
	gauge("probe_duration_seconds", "RTT of the target's last reply, or its timeout when it is down.", duration)
	gauge("probe_ip_protocol", "IP protocol of the probed address: 4 or 6.", proto)
	mfs, err := reg.Gather()
	if err == nil {
		enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err = enc.Encode(mf); err != nil {
				break
			}
		}
	}
	if err != nil {
		h.o.Logger.Warn("write /probe response", "err", err)
	}
}

// perTarget keeps the per-target families of the collector.
func perTarget(name string) bool {
	return !strings.HasPrefix(name, "icmp_engine_") && !strings.HasPrefix(name, "icmp_exporter_") &&
		name != "icmp_source_info"
}

// scrapeTimeout is the scraper's timeout less a margin, 10s when not given.
func scrapeTimeout(r *http.Request) time.Duration {
	if s, err := strconv.ParseFloat(r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), 64); err == nil && s > 0 {
		return max(time.Duration(s*float64(time.Second))-500*time.Millisecond, 100*time.Millisecond)
	}
	return 10 * time.Second
}

// find returns a snapshot that holds the group's target name with at least
// one finished probe, waiting for one until ctx is done (then the last
// snapshot, with or without the target).
func (h *probeHandler) find(ctx context.Context, group, name string) (*probe.Snapshot, []int) {
	key := group + "\x00" + name
	maxAge := snapshotMaxAge
	for {
		h.mu.Lock()
		// One snapshot serves every request: at most one a second, or ten a
		// second while requests wait for new targets.
		if h.snap == nil || time.Since(h.snap.Time) > maxAge {
			h.snap = h.o.Engine.Snapshot(nil) // a new one: earlier requests may still read the old
			h.index = make(map[string][]int, len(h.snap.Targets))
			for i := range h.snap.Targets {
				if s := h.snap.Targets[i].Spec; s != nil {
					k := s.Group + "\x00" + s.Name
					h.index[k] = append(h.index[k], i)
				}
			}
		}
		snap, idx := h.snap, h.index[key]
		h.mu.Unlock()
		if finished(snap, idx) {
			return snap, idx
		}
		select {
		case <-ctx.Done():
			return snap, idx
		case <-time.After(snapshotWait):
			maxAge = snapshotWait
		}
	}
}

// finished reports whether every address of the target has a probe result.
func finished(snap *probe.Snapshot, idx []int) bool {
	if len(idx) == 0 {
		return false
	}
	for _, i := range idx {
		t := &snap.Targets[i]
		n := t.Replies + t.Lost
		for _, e := range t.ErrorCounts().ByType {
			n += e
		}
		if n == 0 {
			return false
		}
	}
	return true
}

// oneTarget is a SnapshotSource of some targets of a snapshot.
type oneTarget struct {
	snap *probe.Snapshot
	idx  []int
}

func (o *oneTarget) Snapshot(dst *probe.Snapshot) *probe.Snapshot {
	if dst == nil {
		dst = &probe.Snapshot{}
	}
	dst.Time, dst.Source, dst.Engine = o.snap.Time, o.snap.Source, o.snap.Engine
	dst.Targets = dst.Targets[:0]
	for _, i := range o.idx {
		dst.Targets = append(dst.Targets, o.snap.Targets[i])
	}
	return dst
}

// verdict returns blackbox's probe_success, probe_duration_seconds and
// probe_ip_protocol for the target: success when every address of it is
// up; the duration is the largest last RTT (the timeout for an address
// that is down).
func (o *oneTarget) verdict(spec probe.TargetSpec) (success, duration, proto float64) {
	success, proto = 1, 4
	for _, i := range o.idx {
		t := &o.snap.Targets[i]
		d := t.LastRTT
		if !t.Up {
			success, d = 0, spec.Timeout
		}
		duration = max(duration, d.Seconds())
		if t.IP.Is6() && !t.IP.Is4In6() {
			proto = 6
		}
	}
	return success, duration, proto
}
