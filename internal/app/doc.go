// Package app holds the parts of the icmp_exporter binary that are more than
// wiring: configuration reloads, the HTTP endpoints and the --config.check
// summary. main.go parses flags and connects these pieces.
//
// # Reload
//
// A Reloader reads the configuration file again, builds a new probe.Spec
// and hands it to the running engine (an Applier). Any error keeps the
// running configuration; the outcome is exposed by ReloadMetrics as
// icmp_exporter_config_last_reload_successful and
// icmp_exporter_config_last_reload_success_timestamp_seconds. Reloads are triggered
// by SIGHUP (Reloader.Run) or by POST /-/reload (NewHandler).
//
// # HTTP
//
// NewHandler serves the landing page, the metrics, /-/healthy, /-/ready and
// /-/reload. /metrics writes the small registry (build, process, Go, reload,
// shard and OTLP metrics) through client_golang and then streams the
// collector's per-target families straight from the engine snapshot
// (WebOptions.Stream, collector.WriteMetrics), in text or delimited
// protobuf, so a scrape of 100k targets never builds a million dto objects.
package app
