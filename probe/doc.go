// Package probe is the ICMP echo engine of icmp_exporter, usable as a
// library: it pings every target of a Spec continuously, as close to real
// time as the machine allows, and keeps per-target counters, RTT
// histograms, up/down state and outage records that a Snapshot copies out.
// It knows nothing of Prometheus or OpenTelemetry; package collector turns
// snapshots into metrics.
//
// # The engine
//
// A Spec is pure data: engine-wide settings (EngineSpec: datapath, source
// addresses, interface, max_pps) and a list of TargetSpec, each with its
// address, interval, timeout, payload size, up/down thresholds and
// histogram layout. Spec.Validate checks it; New validates, opens the
// datapath and starts probing; Engine.Apply installs a new Spec as a diff
// (targets whose TargetSpec.Key is unchanged keep all their state);
// Engine.Snapshot copies the state; Engine.Close stops. Options adds a
// logger, a Datapath of your own (tests, fakes: see package probetest) and
// two callbacks, OnResult (every probe's fate: reply, lost or error) and
// OnOutage (outage start and end).
//
// Every target has a phase inside its interval, so sends are spread
// evenly. The engine works in send windows of 1 to 5 ms (about 32 probes a
// window, never more than half the shortest interval): once per window it
// reads what arrived, declares lost the probes past their deadline, and
// sends every probe that fell due in one batch (one sendmmsg). A probe
// leaves at most one window after its due time; its send stamp is the real
// one. When it cannot keep up (a lagging receive side, a starved process),
// it skips probes rather than send them late: skipped probes are counted
// per target and in EngineStats.Skipped, never counted as lost.
//
// # The packet
//
// An echo request carries an 18-byte payload (configurable larger
// payloads pad after it): the monotonic send time (8 bytes), the high half
// of the 32-bit probe serial (2 bytes; the low half is the ICMP sequence)
// and an 8-byte tag, AES-128 over destination, echo id, serial and send
// time with a per-process random key (Tagger). A reply whose tag does not
// verify is foreign (another program's, or spoofed) and is counted, never
// recorded. A reply to a probe no longer in flight is a duplicate or late.
// ICMP errors (unreachable, time exceeded, ...) that quote one of our
// probes end it as an error of that type. AppendEcho and ParseEcho are the
// codec, on caller buffers.
//
// # Clocks
//
// Schedules, deadlines and the payload's send time use the monotonic clock
// (time since the engine started). RTTs come, best first, from a kernel
// transmit stamp and a kernel receive stamp of the same packet pair
// (TimestampKernelTXRX), from a kernel receive stamp minus the wall-clock
// send stamp taken once the engine lock is held, right before the batch
// is built (TimestampKernelRX), or from user-space receive time minus the
// monotonic send time (TimestampUserspace, degraded). Stamps of different
// clocks are never subtracted; EngineStats.RepliesByTimestamp counts
// replies per source. Wall-clock times appear only in Result.Sent and in
// outage start and end.
//
// A probe is lost when no reply arrived within its timeout: replies are
// read before deadlines are looked at, and a reply stamped by the kernel
// inside the timeout counts even when it is read later (a loaded machine).
//
// # Concurrency
//
// Engine methods are safe for concurrent use. One goroutine does the
// packet work; a Datapath that can only be read blocking (a custom one, or
// PF_RING) gets a receiver goroutine too, and a third goroutine resolves
// host names. The state is guarded by one mutex that the packet path takes
// once per batch; Snapshot copies targets in chunks so a scrape never holds
// probing up for long. OnResult and OnOutage run on the engine's goroutines
// with that mutex held: they must not block or call the Engine.
//
// # Buffers
//
// The packet path allocates nothing per probe. The engine owns the packet
// buffers it hands to Datapath.Send for the duration of the call; a
// Datapath owns the buffers Received.Buf points into until the next Recv.
// Engine.Snapshot fills the Snapshot it is given, reusing its slices: keep
// one per reader and pass it back. Target specs in a Snapshot are shared
// and read-only.
//
// # Datapaths
//
// OpenDatapath opens what EngineSpec.Datapath names: "icmp" (ping sockets,
// or raw sockets with CAP_NET_RAW), "afpacket" (a TPACKET_V3 receive ring
// that stamps requests and replies in the kernel; sends through raw
// sockets), "pfring" (build tag pfring, cgo and libpfring), or "auto". A
// datapath that is not available returns an error matching
// ErrNotSupported, with the remedy in its text.
//
// # Example
//
// Probe one host every second and print each result:
//
//	spec := probe.Spec{Targets: []probe.TargetSpec{{
//		Group: "web", Name: "db-1", Addr: netip.MustParseAddr("192.0.2.10"),
//		Interval: time.Second, Timeout: time.Second,
//		PayloadSize: probe.MinPayload, DownAfter: 3, UpAfter: 1,
//	}}}
//	eng, err := probe.New(spec, probe.Options{OnResult: func(r probe.Result) {
//		fmt.Println(r.Target.Name, r.Kind, r.RTT) // must not block
//	}})
//	if err != nil {
//		return err
//	}
//	defer eng.Close()
//
// The package's examples run against a fake network (package probetest).
package probe
