// Package collector exposes the state of a probe.Engine to Prometheus.
//
// # Model
//
// A Collector is a prometheus.Collector that holds no metric objects of its
// own. On every scrape it asks its SnapshotSource (normally the
// *probe.Engine) for a copy of the engine state, reusing one snapshot buffer
// across scrapes, and turns it into constant metrics. The copy leaves the
// targets' histograms out (probe.Snapshot.DeferHistograms): they are read
// from the engine a few hundred at a time while their families are written
// (Snapshot.ReadHistograms), which saves 40% of the copy. There is no
// per-target prometheus.Histogram: RTT histograms are kept by the engine as
// sparse schema-3 buckets (probe.Histogram) and written straight into the
// client_model protobuf structures; so are the loss run histogram (schema
// 3) and the IPDV histogram (schema probe.IPDVSchema), exported the way the
// RTT histogram is.
//
// The metric names, types and labels are listed in docs/metrics.md; that
// list is a contract that alerts/ and dashboards/ are written against.
//
// # Allocation
//
// With 100k targets a scrape produces about two million samples. Building
// them with prometheus.MustNewConstMetric and prometheus.NewConstNativeHistogram
// costs several allocations per sample (label pairs, maps of buckets). This
// package instead:
//
//   - caches each target's label pairs across scrapes (they only change when
//     the target's spec, probed address or source name changes) and shares
//     them between all series of the target;
//   - carves the metric values, histogram buckets, spans and deltas of one
//     scrape out of large chunks, so a scrape allocates a few hundred chunks
//     instead of millions of small objects.
//
// The chunks are fresh for every scrape and never written again after the
// metric was sent: the registry keeps the written dto.Metric (which points
// into them) until the exposition is encoded, possibly while the next scrape
// already runs.
//
// # Streaming
//
// Collector.WriteMetrics is the path the exporter serves /metrics with: it
// writes the same families as Collect in the text format or delimited
// protobuf straight from the snapshot, one contiguous family at a time, with
// each target's encoded labels cached across scrapes, so a scrape allocates
// a few hundred objects whatever the number of targets (stream.go,
// encode_text.go, encode_proto.go; internal/app combines it with a registry
// for the other collectors). Collect stays for library users who register
// the Collector.
//
// # Which series
//
// Collect and both encoders receive their series from one selection
// (series.go); which series a target has (errors from the first error, DNS
// errors only for host names, TTL only after a reply, outage series from the
// first outage, the RTT histogram per target or per group, the kinds the
// group exports) is decided by the methods of probe.TargetSnapshot, which
// the OTLP producer (collector/otlp) uses too. Families lists every family.
//
// # Use
//
//	engine, err := probe.New(spec, probe.Options{Logger: logger})
//	...
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(collector.New(engine, collector.Options{
//		Logger: logger, BuildInfo: true,
//	}))
//
// # Registration
//
// The per-target label names depend on the user labels of each group, which
// are only known from the running configuration, so the Collector is an
// unchecked collector: Describe sends nothing. Register it once per registry.
//
// icmp_exporter_shard_info comes from internal/shard (Shard.InfoCollector) and the
// icmp_exporter_config_* reload metrics from internal/app (ReloadMetrics), not from
// this package: they describe the exporter process, not the engine.
package collector
