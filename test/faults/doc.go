// Package faults holds fault-injection tests of the exporter (root, Linux):
// each runs the exporter in a test/lab network namespace lab, breaks one
// thing while it probes — the probe-side link, the route, the source
// address, the DNS server, the OTLP collector, the scrape clients, the
// memory limit, the configuration reload path — and checks that the process
// lives, that the targets behind the fault (and only those) go down with the
// cause counted, and that everything recovers without a restart. Tests that
// need the race detector (reload storms while scraping) run the engine in
// process on the fake network of probe/probetest.
//
// The figures and what each fault showed are in docs/reliability.md.
package faults
