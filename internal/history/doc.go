// Package history keeps a bounded, in-memory history of every target of an
// engine for the status pages: per time bucket (one minute by default) the
// probes that ended, how many of them failed (lost or answered by an ICMP
// error) and three RTT quantiles (10th, 50th, 90th percentile).
//
// # Sampling
//
// A Store takes no part in the packet path. Store.Run takes one
// probe.Engine.Snapshot at every bucket boundary of the wall clock and
// Store.Record turns the difference to the previous snapshot into one bucket
// per target: counter deltas for the counts, the delta of the native RTT
// histogram for the quantiles. A missed boundary (a stalled process) leaves
// empty buckets and counts the probes of the whole span in the next one.
// Readers (Store.Points, Store.Summaries) add the running bucket, counted
// from the last record up to their own snapshot, so a fresh exporter shows
// data at once.
//
// # Reloads
//
// The Store follows the targets of the snapshots it sees, index by index.
// When they change it matches them by probe.TargetSpec.Key: a target whose
// key a reload kept keeps its buckets; new targets start empty; removed ones
// are forgotten. Retention is set per group (Options.Retention,
// Store.SetRetention on reload); a shorter retention keeps the newest
// buckets, retention 0 keeps none.
//
// # Memory
//
// A bucket takes 5 bytes: the probe count as a byte-sized floating point
// number (exact to 31, within 3% above), the failed share in steps of
// 1/250 (exact failed counts up to 250 probes per bucket, any loss at least
// one step), and each quantile as the byte-sized index of the native
// histogram bucket it falls in (the histogram's own resolution: the value
// shown is the bucket's geometric middle, within 4.5%). All rings live in
// one slab, so a target costs its ring plus about 100 bytes of base state
// (previous counters and native histogram counts): 3 hours of minutes are
// 900 + ~100 bytes. BenchmarkMemory measures it. Above Options.MaxTargets
// targets (DefaultMaxTargets) the history is off and its memory freed.
//
// # Concurrency
//
// A Store's methods are safe for concurrent use. Points and Summaries take
// the snapshot of the caller, who must not modify it during the call.
package history
