// Package prometheus is the end-to-end test of the shipped alerts and
// dashboards: Debian's Prometheus scrapes two icmp_exporter instances with
// different sources that probe hosts of a network-namespace lab
// (test/lab), evaluates the rules of the monitoring mixin (mixin/, rendered
// with a 3 s target-down threshold through its _config, as users change
// settings), and answers every query of every dashboard. An nftables drop on
// one host must make ICMPTargetDown fire in Prometheus' own rule evaluation
// and resolve after.
//
// The test needs root (network namespaces); CI runs it as root.
package prometheus
