//go:build linux

package probe

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// openDF opens the DF sender of path MTU probes: send-only raw sockets
// (like afpacket's transmit side) with IP_MTU_DISCOVER = IP_PMTUDISC_PROBE
// (IPv4: DF set on every packet, the kernel's cached path MTU ignored, so a
// packet larger than the path is never fragmented here) and
// IPV6_MTU_DISCOVER = IPV6_PMTUDISC_PROBE with IPV6_DONTFRAG (IPv6: no
// fragmentation by this host either). A packet larger than the local link
// fails with EMSGSIZE. Linux has no per-packet DF control message for
// IPv4, hence sockets of their own. Answers come back through the engine's
// datapath: raw sockets and captures see every ICMP message, and ping
// sockets get the replies and errors of echo requests that carry their id.
func openDF(es EngineSpec) (dfSender, error) {
	d, err := openICMPWith(es, true)
	if err != nil {
		return nil, fmt.Errorf("open path MTU sockets (raw sockets, CAP_NET_RAW): %w", err)
	}
	for _, s := range []*icmpSock{d.s4, d.s6} {
		if s == nil {
			continue
		}
		if s.v6 {
			err = unix.SetsockoptInt(s.fd, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_PROBE)
			if err == nil {
				err = unix.SetsockoptInt(s.fd, unix.IPPROTO_IPV6, unix.IPV6_DONTFRAG, 1)
			}
		} else {
			err = unix.SetsockoptInt(s.fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE)
			s.noFrag = false // the mode is PROBE for every size (see maxNoFragV4)
		}
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("set path MTU discovery to probe: %w", err)
		}
	}
	return d, nil
}
