// Package lab builds throw-away network namespaces for integration tests and
// benchmarks of the ICMP engine and the exporter.
//
// # Topology
//
// New creates two network namespaces with unique names (prefix "icmplab-"):
//
//	probe ns                                   target ns
//	veth0 10.250.255.1/30, fd00:250::1/64 ──── veth0 10.250.255.2/30, fd00:250::2/64
//	routes: 10.210.0.0/16 via .2               lo: local 10.210.0.0/16, local fd00:210::/64
//	        fd00:210::/64 via fd00:250::2      (the kernel answers echo requests for
//	        (nothing else, no default route)    every address of both prefixes)
//
// The probe namespace has net.ipv4.ping_group_range widened to every group, so
// ping sockets work there; the target namespace has ICMP rate limits lifted so
// tens of thousands of targets are answered.
//
// # Network rule
//
// Code under test runs in the probe namespace, whose only routes lead to the
// target namespace: packets can reach nothing else. Run an in-process engine
// with Lab.Do (sockets opened inside stay in the namespace), a process with
// Lab.Exec or Lab.Start, and scrape it with Lab.HTTPClient. Lab.Addrs hands
// out target addresses. DoTarget and ExecTarget do the same in the target
// namespace (e.g. to watch its counters). SendForeignEchoes sends echo
// requests of another ping program (ForeignEchoID) to target addresses, to
// check that an engine ignores traffic that is not its own.
//
// # Loss and outages
//
// Lab.Drop and Lab.DropWindow install an nftables table in the target
// namespace that drops echo requests to chosen addresses, and report when the
// rule was in force.
//
// # Exporter binary
//
// BuildExporter builds the module's main package once per test binary
// (CGO_ENABLED=0) and hands each test a copy in its t.TempDir(); the
// ICMPLAB_EXPORTER environment variable points it at a prebuilt binary
// instead.
//
// WriteConfig writes an exporter configuration file from an ExporterConfig;
// Lab.StartExporter runs the exporter on it in the probe namespace (by
// default on ExporterListen) and returns an Exporter, whose Scrape and
// Metrics read /metrics through Lab.HTTPClient. Scrape, ParseMetrics and
// ScrapeMetrics do the same for any URL and client; Label reads a label of a
// parsed series.
//
// # Test helpers
//
// WaitFor polls a condition until it holds or fails the test with its last
// description; SyncBuffer collects the output of a process or logger that a
// test reads while it is still being written.
//
// # Cleanup
//
// Everything a Lab creates (namespaces, nftables tables, processes) is removed
// in t.Cleanup, also when the test fails. Namespaces left behind by a crashed
// test process are removed by the next New: names carry the creating
// process's PID and start time, so labs of concurrently running test binaries
// are never touched.
//
// All helpers need root (CAP_SYS_ADMIN and CAP_NET_ADMIN); New skips the test
// when the process is not root, and fails it when it is root but the lab
// cannot be built.
package lab
