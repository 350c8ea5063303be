package probe

import (
	"fmt"
	"slices"
	"strings"
)

// ErrorTypeLabel is the label of icmp_errors_total whose values are
// ErrorTypeNames.
const ErrorTypeLabel = "error_type"

// reservedLabelNames are the label names a user label cannot take: the
// exporter sets them itself (source, group, target and ip on every
// per-target series, error_type on icmp_errors_total, timestamp_source on
// engine series, PathHopLabel and PathHopTTLLabel on icmp_path_last_hop_info)
// or the exposition formats reserve them (le on histogram buckets, quantile
// on summaries).
var reservedLabelNames = [...]string{"source", "group", "target", "ip", ErrorTypeLabel, "le", "quantile", "timestamp_source",
	PathHopLabel, PathHopTTLLabel}

// PathHopLabel and PathHopTTLLabel name the hop (address) and its TTL on
// icmp_path_last_hop_info.
const (
	PathHopLabel    = "hop"
	PathHopTTLLabel = "hop_ttl"
)

// ReservedLabelNames returns the label names CheckUserLabel refuses besides
// those starting with "__", in a fixed order. The slice is a copy.
func ReservedLabelNames() []string { return slices.Clone(reservedLabelNames[:]) }

// CheckUserLabel returns an error saying why name cannot be the name of a
// user label (TargetSpec.Labels), or nil: it is reserved by the exporter
// (ReservedLabelNames) or by Prometheus (names starting with "__"). It does
// not check the characters of name; the configuration file wants legacy
// Prometheus names, library users may use any UTF-8 name.
//
// The configuration refuses such labels with the line they are on; the
// collector skips targets that carry one (a Spec built without config).
func CheckUserLabel(name string) error {
	if strings.HasPrefix(name, "__") {
		return fmt.Errorf("label names starting with __ are reserved by Prometheus")
	}
	if slices.Contains(reservedLabelNames[:], name) {
		return fmt.Errorf("%q is set by the exporter; reserved are %s", name, strings.Join(reservedLabelNames[:], ", "))
	}
	return nil
}
