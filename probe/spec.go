package probe

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Datapath names accepted in EngineSpec.Datapath.
const (
	DatapathAuto     = "auto"
	DatapathICMP     = "icmp"
	DatapathAFPacket = "afpacket"
	DatapathPFRing   = "pfring"
	DatapathAFXDP    = "afxdp"
)

// Datapaths lists every accepted EngineSpec.Datapath value, in the order
// error messages name them.
var Datapaths = []string{DatapathAuto, DatapathICMP, DatapathAFPacket, DatapathAFXDP, DatapathPFRing}

// Histogram modes accepted in HistogramSpec.Mode.
const (
	HistogramNative  = "native"  // Prometheus native histogram (default)
	HistogramClassic = "classic" // classic buckets from HistogramSpec.Buckets
	HistogramBoth    = "both"    // native and classic in one series
	HistogramNone    = "none"    // no RTT histogram, counters only
)

// Histogram aggregation levels accepted in HistogramSpec.Aggregation.
const (
	AggregateTarget = "target" // one RTT histogram per target (default)
	AggregateGroup  = "group"  // one RTT histogram per group, summed over its targets
)

// IP protocol preferences for host names, accepted in TargetSpec.IPProtocol.
const (
	IPAny = ""    // first address the resolver returns, IPv4 preferred
	IPv4  = "ip4" // IPv4 only
	IPv6  = "ip6" // IPv6 only
)

// Spec is the pure description of what an Engine probes. It holds no sockets
// or goroutines; config builds it, tests build it by hand, and a reload hands
// the Engine a new Spec that the Engine diffs against the running one.
//
// A Spec must not be modified after it was passed to New or Engine.Apply.
type Spec struct {
	Source  Source
	Engine  EngineSpec
	Targets []TargetSpec
	// Vantage enables vantage health (vantage.go).
	Vantage VantageSpec
}

// Source describes where this exporter probes from. It becomes the
// icmp_source_info metric and the OTel resource.
type Source struct {
	Name        string
	HasLocation bool
	Latitude    float64
	Longitude   float64
}

// EngineSpec holds settings of the engine as a whole. Changing any of them
// requires a restart of the Engine (Apply refuses such a change).
type EngineSpec struct {
	// Datapath is one of DatapathAuto (default when empty), DatapathICMP,
	// DatapathAFPacket, DatapathPFRing.
	Datapath string
	// MaxPPS is the global ceiling of probes sent per second; 0 means no ceiling.
	MaxPPS int
	// SourceV4 and SourceV6 are the local addresses probes are sent from;
	// the zero Addr lets the kernel choose.
	SourceV4 netip.Addr
	SourceV6 netip.Addr
	// Interface binds the sockets to one network interface when not empty.
	Interface string
	// DNSRefresh is how often host names are resolved again; 0 means 1m.
	DNSRefresh time.Duration
	// PathPPS is the budget of path snapshot and path MTU probes per
	// second; 0 is the default (PathPPSFor).
	PathPPS int
}

// Label is one user label attached to a target.
type Label struct {
	Name  string
	Value string
}

// HistogramSpec says which RTT histograms a target exposes.
type HistogramSpec struct {
	// Mode is one of HistogramNative (default when empty), HistogramClassic,
	// HistogramBoth, HistogramNone.
	Mode string
	// Buckets are the classic bucket upper bounds in seconds, sorted
	// ascending, used when Mode is classic or both.
	Buckets []float64
	// Aggregation is AggregateTarget (default when empty) or AggregateGroup.
	Aggregation string
}

// NeedsClassic reports whether classic bucket counts must be kept.
func (h HistogramSpec) NeedsClassic() bool {
	return h.Mode == HistogramClassic || h.Mode == HistogramBoth
}

// DefaultClassicBuckets are the classic RTT bucket bounds in seconds used when
// a group asks for classic buckets without listing them.
var DefaultClassicBuckets = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
}

// TargetSpec is one address to probe, after CIDR expansion. Host names stay
// one TargetSpec whose address the engine resolves (see Host).
type TargetSpec struct {
	// Group is the name of the config group the target belongs to.
	Group string
	// Name is the target as written in the config (an address, an address
	// out of an expanded CIDR block, or a host name); it is the `target` label.
	Name string
	// Addr is the address to probe. It is the zero Addr when Host is set.
	Addr netip.Addr
	// Host is a host name the engine resolves every EngineSpec.DNSRefresh;
	// empty for literal addresses.
	Host string
	// IPProtocol restricts which address family Host resolves to.
	IPProtocol string
	// Labels are user labels, sorted by Name, names unique.
	Labels []Label

	Interval    time.Duration
	Timeout     time.Duration
	PayloadSize int // bytes of ICMP payload, >= MinPayload
	TTL         int // IPv4 TTL / IPv6 hop limit; 0 = kernel default
	TOS         int // IPv4 TOS / IPv6 traffic class; 0 = kernel default
	DownAfter   int // consecutive failed probes that make the target down (>= 1)
	UpAfter     int // consecutive replies that make it up again (>= 1)
	// OutageHistory is how many completed outages are kept in memory.
	OutageHistory int
	Histogram     HistogramSpec
	// Export selects the per-target series the views write; zero: all.
	Export Export
	// Path configures path snapshots and path MTU discovery (path.go).
	Path PathSpec
}

// Key identifies a target across reloads: a target whose Key is unchanged
// keeps its counters, histograms and outage history.
func (t *TargetSpec) Key() string {
	if t.Host != "" {
		return t.Group + "\x00" + t.Name + "\x00" + t.IPProtocol
	}
	return t.Group + "\x00" + t.Name + "\x00" + t.Addr.String()
}

// Equal reports whether two target specs are the same in every field.
func (t *TargetSpec) Equal(o *TargetSpec) bool {
	return t.Group == o.Group && t.Name == o.Name && t.Addr == o.Addr && t.Host == o.Host &&
		t.IPProtocol == o.IPProtocol && slices.Equal(t.Labels, o.Labels) &&
		t.Interval == o.Interval && t.Timeout == o.Timeout && t.PayloadSize == o.PayloadSize &&
		t.TTL == o.TTL && t.TOS == o.TOS && t.DownAfter == o.DownAfter && t.UpAfter == o.UpAfter &&
		t.OutageHistory == o.OutageHistory && t.Histogram.Mode == o.Histogram.Mode &&
		t.Histogram.Aggregation == o.Histogram.Aggregation && slices.Equal(t.Histogram.Buckets, o.Histogram.Buckets) &&
		t.Export == o.Export && t.Path == o.Path
}

// Limits of TargetSpec fields, checked by Validate (config checks them earlier
// with file and line).
const (
	MinInterval   = time.Millisecond
	MaxInterval   = time.Hour
	MinPayload    = 18 // send time, serial high half and tag
	MaxPayload    = 65000
	MaxTTL        = 255
	MaxTOS        = 255
	MaxDownUp     = 1000
	MaxOutageKeep = 10000
)

// Validate checks a Spec for values the engine cannot run with. Config
// validation is stricter and reports file:line; Validate guards library users.
func (s *Spec) Validate() error {
	if s.Engine.Datapath != "" && !slices.Contains(Datapaths, s.Engine.Datapath) {
		return fmt.Errorf("engine datapath %q: want one of %s", s.Engine.Datapath, strings.Join(Datapaths, ", "))
	}
	if s.Engine.MaxPPS < 0 {
		return fmt.Errorf("engine max_pps %d: must be >= 0", s.Engine.MaxPPS)
	}
	seen := make(map[string]struct{}, len(s.Targets))
	for i := range s.Targets {
		t := &s.Targets[i]
		if err := t.validate(); err != nil {
			return fmt.Errorf("target %q in group %q: %w", t.Name, t.Group, err)
		}
		k := t.Key()
		if _, dup := seen[k]; dup {
			return fmt.Errorf("target %q in group %q: listed twice", t.Name, t.Group)
		}
		seen[k] = struct{}{}
	}
	return s.Vantage.validate()
}

func (t *TargetSpec) validate() error {
	switch {
	case t.Name == "":
		return fmt.Errorf("empty name")
	case t.Host == "" && !t.Addr.IsValid():
		return fmt.Errorf("neither address nor host name")
	case t.Host != "" && t.Addr.IsValid():
		return fmt.Errorf("both address and host name")
	case t.Interval < MinInterval || t.Interval > MaxInterval:
		return fmt.Errorf("interval %s: must be between %s and %s", t.Interval, MinInterval, MaxInterval)
	case t.Timeout <= 0:
		return fmt.Errorf("timeout %s: must be > 0", t.Timeout)
	case t.Timeout > TimeoutLimit(t.Interval):
		return fmt.Errorf("timeout %s at interval %s would keep up to %d probes in flight per target (at most %d; and at most max(10 intervals, 1m)): shorten the timeout to %s or less, or lengthen the interval",
			t.Timeout, t.Interval, windowSize(t), MaxWindow, TimeoutLimit(t.Interval))
	case t.PayloadSize < MinPayload || t.PayloadSize > MaxPayload:
		return fmt.Errorf("payload size %d: must be between %d and %d", t.PayloadSize, MinPayload, MaxPayload)
	case t.TTL < 0 || t.TTL > MaxTTL:
		return fmt.Errorf("ttl %d: must be between 0 and %d", t.TTL, MaxTTL)
	case t.TOS < 0 || t.TOS > MaxTOS:
		return fmt.Errorf("tos %d: must be between 0 and %d", t.TOS, MaxTOS)
	case t.DownAfter < 1 || t.DownAfter > MaxDownUp || t.UpAfter < 1 || t.UpAfter > MaxDownUp:
		return fmt.Errorf("down_after %d / up_after %d: must be between 1 and %d", t.DownAfter, t.UpAfter, MaxDownUp)
	case t.OutageHistory < 0 || t.OutageHistory > MaxOutageKeep:
		return fmt.Errorf("outage history %d: must be between 0 and %d", t.OutageHistory, MaxOutageKeep)
	}
	switch t.Histogram.Mode {
	case "", HistogramNative, HistogramClassic, HistogramBoth, HistogramNone:
	default:
		return fmt.Errorf("histogram mode %q: want native, classic, both or none", t.Histogram.Mode)
	}
	switch t.Histogram.Aggregation {
	case "", AggregateTarget, AggregateGroup:
	default:
		return fmt.Errorf("histogram aggregation %q: want target or group", t.Histogram.Aggregation)
	}
	if !slices.IsSorted(t.Histogram.Buckets) {
		return fmt.Errorf("histogram buckets must be sorted ascending")
	}
	return t.Path.validate()
}
