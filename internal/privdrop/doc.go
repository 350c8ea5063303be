// Package privdrop lowers the exporter's privileges once its datapath is
// open.
//
// # Why it is safe
//
// Linux checks CAP_NET_RAW (raw ICMP sockets, AF_PACKET sockets and rings)
// and CAP_NET_ADMIN (forced socket buffer sizes) when a socket is created or
// configured, not when it is used: sockets opened before the drop keep
// sending and receiving. Ping sockets need no capability at all. After
// probe.New returns, the engine opens no socket again, so the process needs
// no capability for probing; the HTTP listener needs CAP_NET_BIND_SERVICE
// only for ports below 1024 (Drop keeps it then, when the process has it).
//
// # What Drop does
//
// On every thread of the process (syscall.AllThreadsSyscall: capabilities
// are per thread in Linux): clears the ambient set, drops the bounding set
// when it may (CAP_SETPCAP), sets no_new_privs (no exec can gain privileges
// back), and sets the effective, permitted and inheritable sets to the kept
// capabilities. A process that runs as root stays uid 0 but without any
// capability, so it can no longer open raw sockets, read other users' files
// or load kernel modules.
//
// AllThreadsSyscall is not available in binaries built with cgo (the
// pfring build): there Drop returns ErrNotSupported and main logs it; such
// deployments should grant only CAP_NET_RAW through systemd or Kubernetes.
//
// Status reads CapEff, CapPrm, CapInh, CapBnd and CapAmb of a process from
// /proc/<pid>/status, for tests and the start-up log.
package privdrop
