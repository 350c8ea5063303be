// Package downtime implements `icmp_exporter downtime`: measure one outage
// (or several) of one host from the terminal with the same engine and
// datapaths as the exporter.
//
// # Semantics
//
// The target is probed every --interval. It goes down after --down-after
// consecutive lost probes and up after --up-after consecutive replies. The
// outage starts at the send time of the first lost probe and ends at the
// send time of the first probe answered again; both lie at most one
// interval after the true moment, so the duration is exact to ±interval.
package downtime
