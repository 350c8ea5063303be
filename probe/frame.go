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
	var h ipHeader
	if !h.parse(data) {
		return false
	}
	rc.V6, rc.TTL = h.v6, h.ttl
	msg := h.msg
	isRequest := msg[0] == icmpv4Echo && !rc.V6 || msg[0] == icmpv6Echo && rc.V6
	switch {
	case isRequest && outgoing:
		rc.TxStamp, rc.Buf = true, msg
		rc.Src = h.dst
		return true
	case isRequest || outgoing:
		return false
	}
	rc.Src, rc.Buf = h.src, msg
	if h.whole && fold(sum16(msg, h.pseudo)) != 0 {
		rc.Buf = msg[:0] // corrupted: counted invalid
	}
	return true
}

// ipHeader is an IPv4 or IPv6 header read by parse: the one way the packet
// path reads IP headers of captured and raw packets. It is hand-written
// because it runs for every packet and must not allocate
// (TestDecodeFrameAllocs); ICMP errors' quoted headers, read once per
// error, use gopacket (errParser).
type ipHeader struct {
	v6       bool
	src, dst netip.Addr
	ttl      int
	// msg is the ICMP message: from the end of the IP header to the end of
	// the packet as its length field says (link-layer padding cut), or to
	// the end of data when the packet was cut short.
	msg []byte
	// whole says msg is the whole message (not cut, not a fragment), so
	// its checksum can be checked; pseudo is the IPv6 pseudo-header's part
	// of that checksum.
	whole  bool
	pseudo uint64
	// total is the packet length its header gives.
	total int
}

// parse reads the IP header at the start of data (IPv4 with options, or
// IPv6 without extension headers) and reports whether it holds an ICMP
// (ICMPv6) message of at least 8 bytes. It does not allocate.
func (h *ipHeader) parse(data []byte) bool {
	*h = ipHeader{}
	switch {
	case len(data) >= 28 && data[0]>>4 == 4:
		ihl := int(data[0]&0x0f) * 4
		if ihl < 20 || ihl+8 > len(data) || data[9] != 1 {
			return false
		}
		h.src, h.dst = netip.AddrFrom4([4]byte(data[12:16])), netip.AddrFrom4([4]byte(data[16:20]))
		h.ttl = int(data[8])
		h.total = int(binary.BigEndian.Uint16(data[2:]))
		fragmented := binary.BigEndian.Uint16(data[6:])&0x3fff != 0 // MF or an offset
		if h.total >= ihl+8 && h.total <= len(data) && !fragmented {
			data, h.whole = data[:h.total], true
		}
		h.msg = data[ihl:]
	case len(data) >= 48 && data[0]>>4 == 6:
		if data[6] != 58 {
			return false
		}
		h.v6 = true
		h.src, h.dst = netip.AddrFrom16([16]byte(data[8:24])), netip.AddrFrom16([16]byte(data[24:40]))
		h.ttl = int(data[7])
		n := int(binary.BigEndian.Uint16(data[4:]))
		h.total = 40 + n
		if n >= 8 && h.total <= len(data) {
			data, h.whole = data[:h.total], true
			h.pseudo = sum16(data[8:40], uint64(n)+58)
		}
		h.msg = data[40:]
	default:
		return false
	}
	return true
}
