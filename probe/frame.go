package probe

import (
	"encoding/binary"
	"net/netip"
)

// decodeFrame fills rc from a captured IP packet (data starts at the IP
// header) seen by a capturing datapath (afpacket, pfring): our echo
// requests seen leaving become TX stamps, arriving echo replies and ICMP
// errors are returned; requests arriving and replies leaving (both seen on
// loopback) are dropped. stamp is the capture time in Unix ns. It does not
// allocate; rc.Buf aliases data.
//
// Arriving messages are checked as the kernel checks them before a socket
// sees them: the ICMP checksum (ICMPv6 with its pseudo-header) must verify,
// else rc.Buf is empty and the engine counts an invalid packet. A message
// that is not whole in data (cut by the capture length, or the first
// fragment of a fragmented reply) cannot be checked and is returned as is.
// Link-layer padding after the IP packet is cut off.
func decodeFrame(rc *Received, data []byte, outgoing bool, stamp int64) bool {
	*rc = Received{TTL: -1, KernelStamp: stamp}
	var src, dst netip.Addr
	var msg []byte
	whole := false
	var sum uint64 // pseudo-header part of the checksum (IPv6)
	switch {
	case len(data) >= 28 && data[0]>>4 == 4:
		ihl := int(data[0]&0x0f) * 4
		if ihl < 20 || ihl >= len(data) {
			return false
		}
		src, dst = netip.AddrFrom4([4]byte(data[12:16])), netip.AddrFrom4([4]byte(data[16:20]))
		rc.TTL = int(data[8])
		total := int(binary.BigEndian.Uint16(data[2:]))
		fragmented := binary.BigEndian.Uint16(data[6:])&0x3fff != 0 // MF or an offset
		if total > ihl && total <= len(data) && !fragmented {
			data, whole = data[:total], true
		}
		msg = data[ihl:]
	case len(data) >= 48 && data[0]>>4 == 6:
		rc.V6 = true
		src, dst = netip.AddrFrom16([16]byte(data[8:24])), netip.AddrFrom16([16]byte(data[24:40]))
		rc.TTL = int(data[7])
		if n := int(binary.BigEndian.Uint16(data[4:])); n > 0 && 40+n <= len(data) {
			data, whole = data[:40+n], true
			sum = sum16(data[8:40], uint64(n)+uint64(data[6]))
		}
		msg = data[40:]
	default:
		return false
	}
	isRequest := msg[0] == icmpv4Echo && !rc.V6 || msg[0] == icmpv6Echo && rc.V6
	switch {
	case isRequest && outgoing:
		rc.TxStamp, rc.Buf = true, msg
		rc.Src = dst
		return true
	case isRequest || outgoing:
		return false
	}
	rc.Src, rc.Buf = src, msg
	if whole && fold(sum16(msg, sum)) != 0 {
		rc.Buf = msg[:0] // corrupted: counted invalid
	}
	return true
}
