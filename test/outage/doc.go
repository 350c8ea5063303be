// Package outage holds the network-namespace tests of issue 3: outages made
// by nftables drop rules with known times in a lab (internal/lab), measured
// by the `icmp_exporter downtime` command and by the exporter's outage
// metrics, at a 10 ms interval for one host and at 20 ms for 1 000 hosts
// (50 000 probes per second).
//
// # Bounds
//
// A drop rule takes effect at an instant in [Inserted, InsertedBy] and stops
// at an instant in [Deleted, DeletedBy] (clock readings around the nft
// command). An outage starts at the send time of the first probe that
// failed and ends at the send time of the first probe answered again, each
// at most one interval after the rule's moment. So a measured duration must
// lie in
//
//	[(Deleted − InsertedBy) − interval − slack, (DeletedBy − Inserted) + interval + slack]
//
// with slack 5 ms for one host and 10 ms at scale (the machine is a shared
// 2-core VM). Start and end must lie within their rule bounds ± one interval.
// Every test logs the rule bounds and the measured values.
//
// # Requirements
//
// Root (network namespaces, nftables), iproute2, nftables and Go (to build
// the exporter). Without root every test skips; as root a missing tool is a
// failure.
package outage
