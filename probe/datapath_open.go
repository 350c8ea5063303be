package probe

import (
	"fmt"
)

// AutoAFPacketTargets is the target count from which "auto" prefers the
// afpacket datapath (when CAP_NET_RAW allows it): below it, the per-packet
// cost of sockets does not matter and ping sockets need no privilege.
const AutoAFPacketTargets = 5000

// OpenDatapath opens the datapath that es.Datapath names for ntargets
// targets. "auto" (or "") picks afpacket from AutoAFPacketTargets targets on
// when it opens, and otherwise the icmp datapath (ping socket, then raw).
func OpenDatapath(es EngineSpec, ntargets int) (Datapath, error) {
	switch es.Datapath {
	case "", DatapathAuto:
		if ntargets >= AutoAFPacketTargets {
			if dp, err := openAFPacket(es); err == nil {
				return dp, nil
			}
		}
		return openICMP(es)
	case DatapathICMP:
		return openICMP(es)
	case DatapathAFPacket:
		return openAFPacket(es)
	case DatapathPFRing:
		return openPFRing(es)
	case DatapathAFXDP:
		return openAFXDP(es)
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
