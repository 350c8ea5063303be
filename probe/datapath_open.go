package probe

import (
	"errors"
	"fmt"
)

// OpenDatapath opens the datapath that es.Datapath names. "auto" (or "")
// picks the best one that opens: afpacket is chosen explicitly, so auto
// means the icmp datapath (ping socket, then raw socket).
func OpenDatapath(es EngineSpec) (Datapath, error) {
	switch es.Datapath {
	case "", DatapathAuto, DatapathICMP:
		return openICMP(es)
	case DatapathAFPacket:
		return openAFPacket(es)
	case DatapathPFRing:
		return openPFRing(es)
	}
	return nil, fmt.Errorf("datapath %q: %w", es.Datapath, ErrNotSupported)
}

// errNoICMP explains how to let the exporter send ICMP.
func errNoICMP(pingErr, rawErr error) error {
	return fmt.Errorf("cannot open ICMP sockets (ping socket: %w; raw socket: %w).\n"+
		"Remedies, any one of:\n"+
		"  - allow ping sockets for this user's group: sudo sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"\n"+
		"  - grant raw sockets to the binary: sudo setcap cap_net_raw+ep ./icmp_exporter\n"+
		"  - run as root, or under systemd with AmbientCapabilities=CAP_NET_RAW\n"+
		"  - Docker: docker run --sysctl net.ipv4.ping_group_range=\"0 2147483647\" ... (or --cap-add NET_RAW)\n"+
		"  - Kubernetes: securityContext.sysctls [{name: net.ipv4.ping_group_range, value: \"0 2147483647\"}]\n"+
		"    or securityContext.capabilities.add [NET_RAW]",
		pingErr, rawErr)
}

var errClosed = errors.New("datapath closed")
