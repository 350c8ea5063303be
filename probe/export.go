package probe

import (
	"fmt"
	"strings"
)

// Export selects which per-target series of a target the exporter's views
// (Prometheus and OTLP) write, by kind; the zero value exports all of them.
// At hundreds of thousands of targets a user may want, say, only up and the
// loss counters per target and the RTT histograms per group
// (HistogramSpec.Aggregation).
type Export uint8

// The kinds of per-target series.
const (
	// ExportUp: icmp_up and icmp_state_change_timestamp_seconds.
	ExportUp Export = 1 << iota
	// ExportCounters: probes sent, replies, lost, late, duplicate,
	// skipped and reordered.
	ExportCounters
	// ExportErrors: icmp_errors_total and icmp_dns_errors_total.
	ExportErrors
	// ExportTTL: icmp_reply_ttl.
	ExportTTL
	// ExportRTT: the target's own RTT, IPDV and loss run histograms (a
	// group aggregate is written whatever its targets export) and its
	// jitter.
	ExportRTT
	// ExportOutages: the outage counter and duration histogram, the last
	// outage's start, end and duration, and the outage resolution.
	ExportOutages

	// ExportAll is every kind; the zero Export means the same.
	ExportAll = ExportUp | ExportCounters | ExportErrors | ExportTTL | ExportRTT | ExportOutages
)

// exportNames are the names of the kinds in the configuration file, in bit
// order.
var exportNames = [...]string{"up", "counters", "errors", "ttl", "rtt", "outages"}

// Has reports whether e exports the kinds of x (all of them for the zero
// Export).
func (e Export) Has(x Export) bool { return e == 0 || e&x == x }

// String lists the kinds of e by name, like "up,counters".
func (e Export) String() string {
	if e == 0 {
		e = ExportAll
	}
	var names []string
	for i, n := range exportNames {
		if e&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}

// ExportNames are the names ParseExport accepts, in a fixed order.
func ExportNames() []string { return append([]string(nil), exportNames[:]...) }

// ParseExport returns the kind called name (one of ExportNames).
func ParseExport(name string) (Export, error) {
	for i, n := range exportNames {
		if n == name {
			return 1 << i, nil
		}
	}
	return 0, fmt.Errorf("%q is not a kind of per-target series; want %s", name, strings.Join(exportNames[:], ", "))
}
