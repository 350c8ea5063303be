//go:build linux

package lab

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// ForeignEchoID is the ICMP echo identifier of the requests that
// SendForeignEchoes sends.
const ForeignEchoID = 0xfeed

// SendForeignEchoes sends, from the probe namespace, one ICMP or ICMPv6 echo
// request with identifier ForeignEchoID and a payload of its own to each
// address, as another ping program on the host would: traffic that an
// engine under test must not take for its own. Every address must be in one
// of the lab's target prefixes. It needs raw sockets (root).
func (l *Lab) SendForeignEchoes(addrs []netip.Addr) error {
	for _, a := range addrs {
		if !l.Prefix4.Contains(a) && !l.Prefix6.Contains(a) {
			return fmt.Errorf("send foreign echoes: %s is not a lab target address (%s, %s)", a, l.Prefix4, l.Prefix6)
		}
	}
	return l.Do(func() error {
		for _, v6 := range []bool{false, true} {
			if err := sendForeign(addrs, v6); err != nil {
				return err
			}
		}
		return nil
	})
}

// sendForeign sends the requests to the addresses of one family from a raw
// socket opened on the calling thread.
func sendForeign(addrs []netip.Addr, v6 bool) error {
	fam, proto, typ := unix.AF_INET, unix.IPPROTO_ICMP, byte(8)
	if v6 {
		fam, proto, typ = unix.AF_INET6, unix.IPPROTO_ICMPV6, 128
	}
	fd, err := unix.Socket(fam, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return fmt.Errorf("send foreign echoes: socket: %w", err)
	}
	defer unix.Close(fd)
	for i, a := range addrs {
		if a.Is6() != v6 {
			continue
		}
		msg := []byte{typ, 0, 0, 0, ForeignEchoID >> 8, ForeignEchoID & 0xff, 0, byte(i),
			'n', 'o', 't', ' ', 'o', 'u', 'r', 's', '!', '!', '!', '!', '!', '!', '!', '!', '!', '!'}
		var sa unix.Sockaddr = &unix.SockaddrInet6{Addr: a.As16()}
		if !v6 {
			// The kernel fills in the ICMPv6 checksum; ICMP's is ours.
			s := ^ones(msg, 0)
			msg[2], msg[3] = byte(s>>8), byte(s)
			sa = &unix.SockaddrInet4{Addr: a.As4()}
		}
		if err := unix.Sendto(fd, msg, 0, sa); err != nil {
			return fmt.Errorf("send foreign echo to %s: %w", a, err)
		}
	}
	return nil
}
