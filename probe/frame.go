package probe

import "net/netip"

// decodeFrame fills rc from a captured IP packet (data starts at the IP
// header) seen by a capturing datapath (afpacket, pfring): our echo
// requests seen leaving become TX stamps, arriving echo replies and ICMP
// errors are returned; requests arriving and replies leaving (both seen on
// loopback) are dropped. stamp is the capture time in Unix ns. It does not
// allocate; rc.Buf aliases data.
func decodeFrame(rc *Received, data []byte, outgoing bool, stamp int64) bool {
	*rc = Received{TTL: -1, KernelStamp: stamp}
	var src, dst netip.Addr
	var msg []byte
	switch {
	case len(data) >= 28 && data[0]>>4 == 4:
		ihl := int(data[0]&0x0f) * 4
		if ihl < 20 || ihl >= len(data) {
			return false
		}
		src, dst = netip.AddrFrom4([4]byte(data[12:16])), netip.AddrFrom4([4]byte(data[16:20]))
		rc.TTL = int(data[8])
		msg = data[ihl:]
	case len(data) >= 48 && data[0]>>4 == 6:
		rc.V6 = true
		src, dst = netip.AddrFrom16([16]byte(data[8:24])), netip.AddrFrom16([16]byte(data[24:40]))
		rc.TTL = int(data[7])
		msg = data[40:]
	default:
		return false
	}
	isRequest := msg[0] == icmpv4Echo && !rc.V6 || msg[0] == icmpv6Echo && rc.V6
	switch {
	case isRequest && outgoing:
		rc.TxStamp, rc.Src, rc.Buf = true, dst, msg
		return true
	case isRequest || outgoing:
		return false
	}
	rc.Src, rc.Buf = src, msg
	return true
}
