// Package integration holds the end-to-end tests: the probe
// engine in process and the built exporter binary, both running in a
// network-namespace lab (test/lab) against thousands of targets that the
// kernel of the lab's target namespace answers.
//
// # Requirements
//
// Root (network namespaces, nftables), iproute2, nftables, Go (to build the
// exporter) and promtool in .cache/bin (scripts/deps.d/20-prometheus.sh).
// Without root every test skips; as root a missing tool is a failure.
//
// # Figures
//
// TestExporter10k logs the exporter's CPU use and peak RSS at 10 000 targets
// probed every second and writes them to bench/results/lab-10k.txt. Nothing
// asserts speed.
package integration
