package collector

import (
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	dto "github.com/prometheus/client_model/go"
)

// SnapshotSource is what a Collector reads: normally the *probe.Engine.
// Snapshot must copy the state into dst, reusing dst's buffers when dst is
// not nil, and return it; the Collector owns the returned snapshot until its
// next call. If the source also has a method Info() probe.DatapathInfo (as
// the Engine does), its Mode becomes the mode label of icmp_engine_info.
type SnapshotSource interface {
	Snapshot(dst *probe.Snapshot) *probe.Snapshot
}

// Options are the optional parts of a Collector.
type Options struct {
	// Logger receives configuration problems found while collecting (for
	// example a user label that clashes with a built-in label). Nil discards.
	Logger *slog.Logger
	// BuildInfo adds icmp_exporter_build_info (client_golang's version
	// collector, fed by github.com/prometheus/common/version).
	BuildInfo bool
}

// Collector is a prometheus.Collector for one SnapshotSource. It is safe for
// concurrent use; concurrent scrapes are serialised because they share the
// snapshot buffer and label caches.
type Collector struct {
	src    SnapshotSource
	info   func() probe.DatapathInfo
	logger *slog.Logger
	build  prometheus.Collector

	// Engine-level descriptors, built once.
	engineInfo, sourceInfo                         *prometheus.Desc
	pktSent, pktRecv, foreign, invalid, sendErrors *prometheus.Desc
	kernelDrops, ringFreezes, skipped, repliesByTS *prometheus.Desc
	clockSteps                                     *prometheus.Desc
	scheduleLag, targets                           *prometheus.Desc
	vant                                           vantageDescs // vantage.go
	pathProbes, pathSnaps, pathPending             *prometheus.Desc

	// Immutable values that the written metrics point to; never written
	// after New.
	schema        int32
	ipdvSchema    int32
	zeroThreshold float64
	outageBounds  []float64
	lossRunBounds []float64
	typePairs     [probe.NumErrorTypes]*dto.LabelPair

	mu sync.Mutex // guards the fields below
	// snap is reused by every scrape; its histograms are deferred and read
	// one chunk at a time into hbuf (eachHist), for the targets in hidx.
	snap     *probe.Snapshot
	hbuf     []probe.Histogram
	hidx     []int
	gen      uint64
	entries  map[*probe.TargetSpec]*targetEntry
	descSets map[string]*descSet
	groups   map[groupKey]*groupAgg
	groupSeq []*groupAgg
	// ents[i] is the entry of snapshot target i (nil without spec);
	// entsSpare is the previous scrape's slice, reused.
	ents, entsSpare []*targetEntry
	emitOrder       []int // indices of targets to export, in registry order
	stream          *streamState
}

// New returns a Collector reading src. It does not call src.
func New(src SnapshotSource, opts Options) *Collector {
	c := &Collector{
		src:           src,
		logger:        opts.Logger,
		schema:        probe.NativeSchema,
		ipdvSchema:    probe.IPDVSchema,
		zeroThreshold: probe.NativeZeroThreshold,
		outageBounds:  append([]float64(nil), probe.OutageBuckets[:]...),
		entries:       make(map[*probe.TargetSpec]*targetEntry),
		descSets:      make(map[string]*descSet),
		groups:        make(map[groupKey]*groupAgg),
		lossRunBounds: append([]float64(nil), probe.LossRunBuckets...),
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if i, ok := src.(interface{ Info() probe.DatapathInfo }); ok {
		c.info = i.Info
	}
	if opts.BuildInfo {
		c.build = versioncollector.NewCollector("icmp_exporter")
	}
	for t, name := range probe.ErrorTypeNames {
		c.typePairs[t] = &dto.LabelPair{Name: new(errorTypeLabel), Value: new(name)}
	}
	d := func(f *family) *prometheus.Desc { return prometheus.NewDesc(f.name, f.help, f.labels, nil) }
	c.engineInfo, c.sourceInfo = d(&famEngineInfo), d(&famSourceInfo)
	c.pktSent, c.pktRecv, c.foreign, c.invalid = d(&famPktSent), d(&famPktRecv), d(&famForeign), d(&famInvalid)
	c.sendErrors, c.kernelDrops, c.ringFreezes = d(&famSendErrors), d(&famKernelDrops), d(&famRingFreezes)
	c.skipped, c.repliesByTS, c.scheduleLag, c.targets = d(&famEngSkipped), d(&famRepliesByTS), d(&famSchedLag), d(&famTargets)
	c.clockSteps = d(&famClockSteps)
	c.vant = newVantageDescs()
	c.pathProbes, c.pathSnaps, c.pathPending = d(&famPathProbes), d(&famPathSnaps), d(&famPathPending)
	return c
}

// deferred returns the snapshot to take the next scrape into, with its
// histograms deferred.
func (c *Collector) deferred() *probe.Snapshot {
	if c.snap == nil {
		c.snap = new(probe.Snapshot)
		c.snap.DeferHistograms()
	}
	return c.snap
}

// Describe sends nothing: the per-target label names depend on the running
// configuration, so the Collector is unchecked (see the package doc).
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect takes a snapshot of the source and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snap = c.src.Snapshot(c.deferred())
	defer c.snap.ReleaseEngine()
	if c.build != nil {
		c.build.Collect(ch)
	}
	if c.snap == nil {
		return
	}
	c.collectEngine(ch, c.snap)
	c.collectTargets(ch, c.snap)
}

func (c *Collector) collectEngine(ch chan<- prometheus.Metric, s *probe.Snapshot) {
	e := &s.Engine
	mode := ""
	datapath, tsSource := e.Datapath, e.TimestampSource
	if c.info != nil {
		i := c.info()
		mode = i.Mode
		if datapath == "" {
			datapath = i.Name
		}
		if tsSource == "" {
			tsSource = i.TimestampSource
		}
	}
	ch <- prometheus.MustNewConstMetric(c.engineInfo, prometheus.GaugeValue, 1, datapath, mode, tsSource)
	lat, lon := "", ""
	if s.Source.HasLocation {
		lat = strconv.FormatFloat(s.Source.Latitude, 'f', -1, 64)
		lon = strconv.FormatFloat(s.Source.Longitude, 'f', -1, 64)
	}
	ch <- prometheus.MustNewConstMetric(c.sourceInfo, prometheus.GaugeValue, 1, s.Source.Name, lat, lon)
	// Engine counters count from the engine start (their created timestamp).
	counter := func(d *prometheus.Desc, v uint64, labelValues ...string) {
		if e.StartTime.IsZero() {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labelValues...)
			return
		}
		ch <- prometheus.MustNewConstMetricWithCreatedTimestamp(d, prometheus.CounterValue, float64(v), e.StartTime, labelValues...)
	}
	counter(c.pktSent, e.PacketsSent)
	counter(c.pktRecv, e.PacketsReceived)
	counter(c.foreign, e.Foreign)
	counter(c.invalid, e.Invalid)
	counter(c.sendErrors, e.SendErrors)
	counter(c.kernelDrops, e.KernelDrops)
	counter(c.ringFreezes, e.RingFreezes)
	counter(c.skipped, e.Skipped)
	for i, name := range probe.TimestampSourceNames {
		counter(c.repliesByTS, e.RepliesByTimestamp[i], name)
	}
	counter(c.clockSteps, e.ClockSteps)
	ch <- prometheus.MustNewConstMetric(c.scheduleLag, prometheus.GaugeValue, e.MaxScheduleLag.Seconds())
	ch <- prometheus.MustNewConstMetric(c.targets, prometheus.GaugeValue, float64(e.Targets))
	c.collectVantage(ch, s)
	counter(c.pathProbes, e.Path.ProbesSent)
	counter(c.pathSnaps, e.Path.Snapshots)
	ch <- prometheus.MustNewConstMetric(c.pathPending, prometheus.GaugeValue, float64(e.Path.Queued+e.Path.Active))
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unixSeconds is t as Unix seconds with nanosecond fraction; 0 for the zero time.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
