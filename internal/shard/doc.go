// Package shard splits one target list between several exporter instances.
//
// # Rendezvous hashing
//
// Every instance reads the same configuration and is started with its own
// share, written "i/n" (instance i of n, counting from 0). For each target,
// every share j in 0..n-1 gets a weight derived from the target's
// probe.TargetSpec.Key and j; the share with the highest weight owns the
// target (highest random weight, or rendezvous, hashing). The weights come
// from FNV-1a 64 over the key followed by a 64-bit finalizer mixing in the
// share index, so ownership is the same in every process, on every
// architecture, and in every release that keeps this package's golden test.
//
// Properties the tests check:
//
//   - n instances together probe every target exactly once;
//   - going from n to n+1 instances moves about 1/(n+1) of the targets, all
//     of them to the new instance; the rest stay where they were and keep
//     their counters and outage history;
//   - a target's owner depends only on its key and n, never on the order of
//     the targets in the configuration or on the other targets.
//
// # Use
//
//	s, err := shard.Parse("1/3")
//	spec = s.Filter(spec)             // on load and on every reload
//	reg.MustRegister(s.InfoCollector()) // icmp_exporter_shard_info{shard="1",shards="3"} 1
//
// The zero Shard means "not sharded": it owns every target.
package shard
