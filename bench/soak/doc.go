// Package soak holds the soak test of the exporter (TestSoak, Linux, root):
// thousands of lab targets probed for a long time while the configuration is
// reloaded, nftables injects outages and random loss, and /metrics is
// scraped. bench/soak.sh runs it for an hour (or 10 minutes in CI) and plots
// the resident memory, goroutines, file descriptors and CPU it sampled; the
// figures are in docs/reliability.md. Run without flags it is a 40-second
// version of itself with 600 targets.
package soak
