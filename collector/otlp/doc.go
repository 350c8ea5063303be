// Package otlp pushes the engine's measurements to an OpenTelemetry
// collector over OTLP (gRPC or HTTP/protobuf).
//
// # One state, two views
//
// Nothing is recorded twice: a Pusher takes a probe.Snapshot every interval
// (the same snapshot the Prometheus collector reads on a scrape) and
// converts it into OTel metric data in an sdkmetric.Producer registered on
// a ManualReader. Counters become cumulative monotonic Sums starting when
// their target started to be probed (the engine start, or the reload that
// added it: TargetSnapshot.Created; engine counters and group sums at the
// engine start), RTT histograms exponential histograms with scale
// probe.NativeSchema (OTel bucket index = Prometheus native index - 1),
// classic RTT buckets and outage durations explicit-bucket histograms.
//
// # Names
//
// Metric names follow OTel conventions: no unit or _total suffix (units are
// metadata), e.g. icmp.rtt (s), icmp.probes.sent, icmp.errors with
// error.type. They are chosen so that Prometheus' OTLP translation gives
// the names of the /metrics page wherever OTel naming allows. Data points
// carry server.address (the target as written), network.peer.address (the
// address probed), icmp.group and the group's user labels; the resource
// carries service.name, service.version, service.instance.id and
// icmp.source. docs/otlp.md has the full table.
//
// # Failure
//
// Exports run on the Pusher's own goroutine: a slow or dead collector never
// blocks the engine or /metrics. Each request is retried with exponential
// back-off within the configured timeout; a cycle stops at its first failed
// request. Failures are counted (icmp_exporter_otlp_exports_failed_total, the Pusher
// is a prometheus.Collector) and logged once per change between ok and
// failing. Nothing is lost for good: the next successful export carries the
// cumulative totals.
//
// # Size
//
// Data points bypass the SDK's cardinality limit (there are no SDK
// instruments), so every target is its own series. Exports are split into
// requests of at most DefaultMaxBatchPoints data points, well below the
// 4 MiB a gRPC receiver accepts by default.
package otlp
