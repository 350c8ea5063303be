package probe

import (
	"net/netip"
	"slices"
	"time"
)

// ErrorType classifies ICMP errors that quote one of our probes, and local
// send failures.
type ErrorType uint8

// Error types; ErrorTypeNames gives their label values.
const (
	ErrDestUnreachable ErrorType = iota // ICMP destination unreachable (v4 type 3, v6 type 1)
	ErrTimeExceeded                     // TTL / hop limit exceeded in transit
	ErrParamProblem                     // parameter problem
	ErrPacketTooBig                     // IPv6 packet too big / IPv4 fragmentation needed
	ErrOtherICMP                        // any other ICMP error quoting our probe
	ErrSend                             // the local send failed (e.g. no route)
	NumErrorTypes
)

// ErrorTypeNames are the `error_type` label values of icmp_errors_total, indexed by ErrorType.
var ErrorTypeNames = [NumErrorTypes]string{
	"destination_unreachable", "time_exceeded", "parameter_problem", "packet_too_big", "other", "send",
}

// Timestamp sources, from best to worst (DESIGN.md "Time").
const (
	TimestampKernelTXRX = "kernel_tx_rx" // kernel TX stamp and kernel RX stamp
	TimestampKernelRX   = "kernel_rx"    // kernel RX stamp minus user stamp taken just before send
	TimestampUserspace  = "userspace"    // user receive time minus payload send time (degraded)
	NumTimestampSources = 3
)

// TimestampSourceNames are indexed like EngineStats.RepliesByTimestamp.
var TimestampSourceNames = [NumTimestampSources]string{TimestampKernelTXRX, TimestampKernelRX, TimestampUserspace}

// NativeSchema is the schema of RTT histograms: bucket boundaries are powers
// of 2^(2^-NativeSchema) (schema 3: about 9% wide buckets), as in Prometheus
// native histograms and OTel exponential histograms (OTel scale = schema).
const NativeSchema = 3

// NativeZeroThreshold is the width of the zero bucket in seconds: RTTs at or
// below it (only possible on broken clocks) count as zero.
const NativeZeroThreshold = 1e-9

// Histogram is a sparse exponential histogram of RTTs in seconds, laid out as
// a Prometheus native histogram with schema NativeSchema: Buckets[i] counts
// observations v with 2^((Offset+i-1)/8) < v <= 2^((Offset+i)/8).
// Observations at or below NativeZeroThreshold count in ZeroCount.
type Histogram struct {
	Count     uint64
	Sum       float64 // seconds
	ZeroCount uint64
	Offset    int32    // native bucket index of Buckets[0]
	Buckets   []uint64 // non-cumulative counts; may contain zeros
	// Classic holds cumulative counts for the TargetSpec's classic bucket
	// bounds (Histogram.Bounds) when the target's mode needs them; +Inf is Count.
	Classic []uint64
	Bounds  []float64
}

// Outage is one period during which a target was down. Start is the send
// time of the first failed probe of the run; End the send time of the first
// probe answered again. The true boundaries lie within Resolution before
// the reported ones: the gap between the sends around each edge (one
// probing interval, more when probes were skipped).
type Outage struct {
	Start      time.Time
	End        time.Time // zero while Ongoing
	Ongoing    bool
	Resolution time.Duration
	ProbesLost uint64 // probes that failed during the outage
	// Cause is CauseVantage when the outage overlapped an outage of the
	// target's vantage (vantage.go); an ongoing outage may still change to it.
	Cause OutageCause
}

// Duration is End-Start for a completed outage and the time since Start
// (up to now) for an ongoing one.
func (o Outage) Duration(now time.Time) time.Duration {
	if o.Ongoing {
		return now.Sub(o.Start)
	}
	return o.End.Sub(o.Start)
}

// TargetSnapshot is a copy of one target's state.
type TargetSnapshot struct {
	Spec *TargetSpec // shared, read-only
	// IP is the address currently probed; invalid while a host name has never resolved.
	IP netip.Addr
	Up bool
	// StateChange is when Up last changed (the engine start for targets that
	// never changed).
	StateChange time.Time
	// Created is when the target started to be probed: the engine start,
	// or the reload that added it. A reload that keeps its Key keeps it.
	// Its counters and histograms count from then (created timestamps).
	Created time.Time

	Sent       uint64 // probes sent
	Replies    uint64 // replies within the timeout (RTT recorded)
	Lost       uint64 // probes with no reply within the timeout
	Late       uint64 // valid replies after the timeout
	Duplicates uint64 // replies to probes already answered
	Skipped    uint64 // probes not sent because the engine could not keep the schedule

	LastTTL int // TTL / hop limit of the last reply; -1 when unknown
	LastRTT time.Duration
	// RTT, LossRuns and IPDV are nil in a snapshot whose histograms are
	// deferred (Snapshot.DeferHistograms; read them with ReadHistograms)
	// and may be nil in one built by hand; Hist treats nil as empty.
	RTT *Histogram

	// Loss shape and delay variation (see LossRunBuckets): lengths in probes
	// of completed runs of lost probes, |IPDV| of replies to consecutive
	// probes in seconds (both laid out like RTT, but the native buckets of
	// IPDV are of schema IPDVSchema), the RFC 3550 smoothed jitter of the
	// RTT in seconds, and replies that arrived after the reply to a later
	// probe.
	LossRuns  *Histogram
	IPDV      *Histogram
	Jitter    float64
	Reordered uint64

	// Errs are the error counters, nil while all are zero; Outs the outage
	// record, nil before the first outage (most targets have neither: the
	// two are half of a snapshot otherwise). Read them with ErrorCounts and
	// OutageRecord, which treat nil as zero.
	Errs *ErrorCounts
	Outs *OutageRecord
	// Path summarizes the target's path snapshots and path MTU; nil when
	// its spec enables neither (most targets: it saves a tenth of a
	// snapshot).
	Path *PathSummary
}

// ErrorCounts are a target's error counters.
type ErrorCounts struct {
	ByType [NumErrorTypes]uint64 // by ErrorType
	DNS    uint64                // failed resolutions of TargetSpec.Host
}

// OutageRecord is a target's outage record.
type OutageRecord struct {
	Total uint64
	// Vantage counts the outages (of Total) caused by the vantage
	// (Outage.Cause).
	Vantage uint64
	// Durations is a classic histogram of completed outage durations with
	// bounds OutageBuckets; DurationSum is in seconds.
	Durations   [len(OutageBuckets)]uint64 // cumulative
	DurationSum float64
	// Recent are the last completed outages, oldest first, and the ongoing
	// one last if the target is down.
	Recent []Outage
	// Resolution bounds the error of the outage start and end times: that
	// of the last outage (see Outage.Resolution); zero means the interval.
	Resolution time.Duration
}

// noErrors and noOutages are what ErrorCounts and OutageRecord return for
// a target without any.
var (
	noErrors  ErrorCounts
	noOutages OutageRecord
)

// ErrorCounts returns the target's error counters (zero when Errs is nil).
// Read only.
func (t *TargetSnapshot) ErrorCounts() *ErrorCounts {
	if t.Errs != nil {
		return t.Errs
	}
	return &noErrors
}

// OutageRecord returns the target's outage record (empty when Outs is nil).
// Read only.
func (t *TargetSnapshot) OutageRecord() *OutageRecord {
	if t.Outs != nil {
		return t.Outs
	}
	return &noOutages
}

// EditErrors returns t.Errs, allocating it when nil: for filling a
// snapshot by hand.
func (t *TargetSnapshot) EditErrors() *ErrorCounts {
	if t.Errs == nil {
		t.Errs = new(ErrorCounts)
	}
	return t.Errs
}

// EditOutages returns t.Outs, allocating it when nil: for filling a
// snapshot by hand.
func (t *TargetSnapshot) EditOutages() *OutageRecord {
	if t.Outs == nil {
		t.Outs = new(OutageRecord)
	}
	return t.Outs
}

// Clone returns a copy of o with its own Recent; nil for nil.
func (o *OutageRecord) Clone() *OutageRecord {
	if o == nil {
		return nil
	}
	c := *o
	c.Recent = slices.Clone(o.Recent)
	return &c
}

// OutageBuckets are the bounds in seconds of the outage duration histogram.
var OutageBuckets = [...]float64{0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400}

// EngineStats are counters of the engine as a whole.
type EngineStats struct {
	Datapath        string // datapath in use
	TimestampSource string // best timestamp source the datapath offers
	PacketsSent     uint64
	PacketsReceived uint64 // every packet the datapath delivered
	Foreign         uint64 // echo replies whose tag did not verify (not ours, spoofed)
	Invalid         uint64 // truncated or malformed packets
	SendErrors      uint64
	KernelDrops     uint64 // packets the kernel dropped before we read them
	RingFreezes     uint64 // times the afpacket ring was full (its queue frozen)
	Skipped         uint64 // probes not sent on time (overload), summed over targets
	// ScheduleLag is how late the most recent send batch left compared to
	// its schedule; MaxScheduleLag the maximum over the last 5 to 10 s
	// (reading a Snapshot does not reset it).
	ScheduleLag    time.Duration
	MaxScheduleLag time.Duration
	// RepliesByTimestamp counts replies by the timestamp source their RTT
	// came from, indexed like TimestampSourceNames.
	RepliesByTimestamp [NumTimestampSources]uint64
	// ClockSteps counts replies that carried a kernel stamp the engine did
	// not use: it disagreed with the monotonic clock (the wall clock stepped
	// between the send and the receive), so the RTT came from the monotonic
	// clock (they are among RepliesByTimestamp's userspace replies).
	ClockSteps uint64
	Targets    int
	StartTime  time.Time
	// Gaps counts stalls of the prober (vantage.go); GapSeconds adds up
	// their durations.
	Gaps       uint64
	GapSeconds float64
	// ApplyLockHold is the longest the last Engine.Apply held the engine
	// lock at a time (the sender may wait that long); zero before the first
	// Apply.
	ApplyLockHold time.Duration
	// Path counts path snapshots (path_engine.go).
	Path PathStats
}

// Snapshot is a consistent-enough, read-only copy of the engine state: each
// target is copied atomically with respect to its own updates.
type Snapshot struct {
	Time    time.Time
	Source  Source
	Engine  EngineStats
	Targets []TargetSnapshot
	// Vantage is the vantage state of the exporter (first) and of each
	// group; empty when vantage health is off.
	Vantage []VantageSnapshot

	// deferHist is set by DeferHistograms; live and eng are the engine's
	// targets at the time of a deferred snapshot (Engine.Snapshot).
	deferHist bool
	live      []*target
	eng       *Engine
}

// HistKind names one of a target's histograms.
type HistKind uint8

// The histograms of a target.
const (
	HistRTT HistKind = iota
	HistIPDV
	HistLossRuns
	numHistKinds
)

// emptyHist is what Hist returns for a histogram that is not there.
var emptyHist Histogram

// Hist returns the target's histogram of kind k; an empty one when it is
// nil (deferred, or left out of a snapshot built by hand). Read only.
func (t *TargetSnapshot) Hist(k HistKind) *Histogram {
	if h := *t.histField(k); h != nil {
		return h
	}
	return &emptyHist
}

// histField is the field of t that holds its histogram of kind k.
func (t *TargetSnapshot) histField(k HistKind) **Histogram {
	switch k {
	case HistIPDV:
		return &t.IPDV
	case HistLossRuns:
		return &t.LossRuns
	}
	return &t.RTT
}

// DeferHistograms makes an Engine.Snapshot into s leave the histograms of
// its targets nil: a copy of them is most of a snapshot's memory, and a
// reader that needs them one family at a time (the Prometheus collector)
// reads them with ReadHistograms instead. Other sources ignore it.
func (s *Snapshot) DeferHistograms() { s.deferHist = true }

// ReadHistograms copies the histogram of kind k of each target
// s.Targets[idx[j]] into dst[j], reusing dst's slices (dst needs len(idx)
// elements and owns its slices afterwards). For a deferred snapshot of an
// engine they are read from the engine now, under its lock, so they may be
// newer than the snapshot's counters; otherwise they are copied from
// s.Targets. Call it with a few hundred targets at a time: it holds the
// engine lock for the whole call.
func (s *Snapshot) ReadHistograms(k HistKind, idx []int, dst []Histogram) {
	if s.eng != nil && len(s.live) == len(s.Targets) {
		s.eng.readHistograms(s.live, k, idx, dst)
		return
	}
	for j, i := range idx {
		dst[j].copyFrom(s.Targets[i].Hist(k))
	}
}

// Clone returns a copy of h with its own slices; nil for nil.
func (h *Histogram) Clone() *Histogram {
	if h == nil {
		return nil
	}
	c := new(Histogram)
	c.copyFrom(h)
	return c
}

// ReleaseEngine drops a deferred snapshot's hold on the engine's targets,
// so that those a reload removed can be freed; ReadHistograms then reads
// only what the snapshot holds (empty histograms for a deferred one). Call
// it when done reading; the next Engine.Snapshot into s takes hold again.
func (s *Snapshot) ReleaseEngine() {
	if s != nil {
		s.live, s.eng = nil, nil
	}
}

// copyFrom makes h a copy of src in h's own slices.
func (h *Histogram) copyFrom(src *Histogram) {
	h.Count, h.Sum, h.ZeroCount, h.Offset, h.Bounds = src.Count, src.Sum, src.ZeroCount, src.Offset, src.Bounds
	h.Buckets = append(h.Buckets[:0], src.Buckets...)
	h.Classic = append(h.Classic[:0], src.Classic...)
}

// Which series a target has. The Prometheus collector (both its registry and
// its streaming path) and the OTLP producer all ask these methods, so that
// the views of one snapshot never disagree about a series.

// Exports reports whether the target's spec exports the series of kind x
// (TargetSpec.Export); the Has methods below include it.
func (t *TargetSnapshot) Exports(x Export) bool { return t.Spec.Export.Has(x) }

// HasError reports whether the target has the error series of type et: it
// appears with the first error of its type, like a child of a CounterVec
// (six mostly-zero series per target would double the cardinality).
func (t *TargetSnapshot) HasError(et ErrorType) bool {
	return t.ErrorCounts().ByType[et] > 0 && t.Exports(ExportErrors)
}

// HasDNSErrors reports whether the target has the DNS error series: only
// targets written as host names resolve.
func (t *TargetSnapshot) HasDNSErrors() bool { return t.Spec.Host != "" && t.Exports(ExportErrors) }

// HasTTL reports whether the TTL of the last reply is known: only after a
// reply.
func (t *TargetSnapshot) HasTTL() bool {
	return t.LastTTL >= 0 && t.Replies > 0 && t.Exports(ExportTTL)
}

// HasOutageDurations reports whether the target has the outage duration
// histogram: from its first outage on.
func (t *TargetSnapshot) HasOutageDurations() bool {
	o := t.OutageRecord()
	return (o.Total > 0 || len(o.Recent) > 0) && t.Exports(ExportOutages)
}

// LastOutage returns the last outage (the ongoing one if the target is
// down), and false if the target never had one: the last-outage series
// exist only then.
func (t *TargetSnapshot) LastOutage() (Outage, bool) {
	r := t.OutageRecord().Recent
	if len(r) == 0 || !t.Exports(ExportOutages) {
		return Outage{}, false
	}
	return r[len(r)-1], true
}

// CompletedOutages is the count of the outage duration histogram: every
// outage but the ongoing one. Outages longer than the last bound are only in
// the count (+Inf), so it is never below the last cumulative bucket.
func (t *TargetSnapshot) CompletedOutages() uint64 {
	o := t.OutageRecord()
	n := o.Total
	if k := len(o.Recent); k > 0 && o.Recent[k-1].Ongoing && n > 0 {
		n--
	}
	return max(n, o.Durations[len(o.Durations)-1])
}

// RTTExport says how a target's RTT histogram is exported, from its
// HistogramSpec.
type RTTExport struct {
	Group   bool // summed into one histogram per group instead of one per target
	Native  bool // native (exponential) buckets
	Classic bool // classic buckets with the bounds Histogram.ClassicBuckets returns
}

// RTTExport returns how the target's RTT histogram is exported, and false
// when it has none (mode none, or aggregation target without ExportRTT).
// An empty mode is native.
func (t *TargetSnapshot) RTTExport() (RTTExport, bool) {
	h := t.Spec.Histogram
	mode := h.Mode
	if mode == "" {
		mode = HistogramNative
	}
	if mode == HistogramNone || h.Aggregation != AggregateGroup && !t.Exports(ExportRTT) {
		return RTTExport{}, false
	}
	return RTTExport{
		Group:   h.Aggregation == AggregateGroup,
		Native:  mode == HistogramNative || mode == HistogramBoth,
		Classic: mode == HistogramClassic || mode == HistogramBoth,
	}, true
}

// ClassicBuckets returns the classic bucket bounds and their cumulative
// counts, cut to the shorter of Bounds and Classic; +Inf is Count.
func (h *Histogram) ClassicBuckets() (bounds []float64, cum []uint64) {
	n := min(len(h.Bounds), len(h.Classic))
	return h.Bounds[:n], h.Classic[:n]
}
