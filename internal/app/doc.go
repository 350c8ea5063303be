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
// by SIGHUP (Reloader.Run) or by POST /-/reload (NewHandler; main enables it
// only with --web.enable-lifecycle). A reload that changes a section read
// only at start (otlp) applies the rest and returns a note saying so.
//
// # HTTP
//
// NewHandler serves the landing page, the metrics, /-/healthy, /-/ready and
// /-/reload. /metrics writes the small registry (build, process, Go, reload,
// shard and OTLP metrics) through client_golang and then streams the
// collector's per-target families straight from the engine snapshot
// (WebOptions.Stream, collector.WriteMetrics), in text or delimited
// protobuf, so a scrape of 100k targets never builds a million dto objects.
//
// # Limits
//
// Every endpoint refuses oversized (414) or malformed (400) query strings
// before doing any work; a failed reload names the places of the errors but
// never values from the file; each write of a streamed scrape has a deadline
// (WebOptions.WriteStall), so a client that stops reading cannot hold the
// serialised scrape path.
package app
