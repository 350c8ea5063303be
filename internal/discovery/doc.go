// Package discovery adds targets from Prometheus-style service discovery
// to the engine's Spec.
//
// # Sources
//
// Each group of the configuration can list file_sd_configs (target-group
// files matched by globs, re-read when their directory changes and every
// refresh_interval) and http_sd_configs (Prometheus' HTTP SD, fetched every
// refresh_interval with Prometheus' HTTP client options). A source that
// fails keeps its last good targets: a broken file keeps its last good
// content (logged and counted once), a failed fetch keeps the last list.
//
// # Targets
//
// A Manager relabels every discovered target with the group's
// relabel_configs (Prometheus' model/relabel) and turns it into
// probe.TargetSpecs with config.DiscoveryGroup.Targets, which checks
// override labels (__interval__ and friends) with the configuration's own
// rules. Invalid targets are counted and logged once each. Host names of
// groups with resolve: all become one target per address.
//
// # Applying
//
// The Manager combines the static targets (passed to Apply on every
// configuration load), the discovered targets of this --shard share, and
// the targets enrolled through the /probe endpoint (Enrol), and hands the
// result to the engine (probe.Engine.Apply), whose diff keeps the state of
// every unchanged target. Changes of several sources that arrive while an
// apply runs are coalesced into one apply. Only the changed source is
// relabelled again.
//
// # Metrics
//
// The Manager is a prometheus.Collector: icmp_discovery_targets,
// icmp_discovery_targets_dropped, icmp_discovery_targets_invalid,
// icmp_discovery_last_refresh_success_timestamp_seconds and
// icmp_discovery_refresh_failures_total, labelled by group and sd_config.
//
// A Manager is safe for concurrent use.
package discovery
