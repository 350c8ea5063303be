package probe

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// Frame builders for the capture datapaths' tests (afpacket, pfring).

// ether builds an Ethernet frame from src to dst MAC, with optional VLAN
// tags, around payload of the given ethertype.
//
//nolint:unused // used by the pfring-tagged tests
func ether(src, dst [6]byte, etype uint16, payload []byte, vlans ...uint16) []byte {
	b := append(append([]byte{}, dst[:]...), src[:]...)
	for _, v := range vlans {
		b = append(b, 0x81, 0x00, byte(v>>8), byte(v))
	}
	b = append(b, byte(etype>>8), byte(etype))
	return append(b, payload...)
}

// ipv4 builds an IPv4 packet (no options) with protocol proto; an ICMP
// payload gets its checksum filled in.
func ipv4(src, dst netip.Addr, proto byte, frag uint16, ttl byte, payload []byte) []byte {
	n := 20 + len(payload)
	h := []byte{0x45, 0, byte(n >> 8), byte(n), 0, 1, byte(frag >> 8), byte(frag), ttl, proto, 0, 0}
	h = append(h, src.AsSlice()...)
	h = append(h, dst.AsSlice()...)
	p := append(h, payload...)
	if proto == 1 && len(payload) >= 4 {
		m := p[20:]
		m[2], m[3] = 0, 0
		binary.BigEndian.PutUint16(m[2:], checksum(m))
	}
	return p
}

// ipv6 builds an IPv6 packet whose first next header is nh; an ICMPv6
// payload gets its checksum (with the pseudo-header) filled in.
func ipv6(src, dst netip.Addr, nh, hops byte, payload []byte) []byte {
	n := len(payload)
	h := []byte{0x60, 0, 0, 0, byte(n >> 8), byte(n), nh, hops}
	h = append(h, src.AsSlice()...)
	h = append(h, dst.AsSlice()...)
	p := append(h, payload...)
	if nh == 58 && n >= 4 {
		m := p[40:]
		m[2], m[3] = 0, 0
		binary.BigEndian.PutUint16(m[2:], fold(sum16(m, sum16(p[8:40], uint64(n)+58))))
	}
	return p
}

// icmpMsg is an ICMP(v6) message of type typ with id and a short payload.
func icmpMsg(typ byte, id uint16) []byte {
	return []byte{typ, 0, 0, 0, byte(id >> 8), byte(id), 0, 1, 'p', 'a', 'y', 'l', 'o', 'a', 'd', '!'}
}

// TestDecodeFrameChecksum: an arriving reply or error whose ICMP checksum
// does not verify comes back with an empty Buf (the engine counts it
// invalid), in IPv4 and in IPv6 (pseudo-header: a changed address breaks
// it too); whole frames with Ethernet padding verify; fragments and frames
// cut by the capture length cannot be checked and pass.
func TestDecodeFrameChecksum(t *testing.T) {
	a4, b4 := netip.MustParseAddr("10.210.0.7"), netip.MustParseAddr("10.250.255.1")
	a6, b6 := netip.MustParseAddr("fd00:210::7"), netip.MustParseAddr("fd00:250::1")
	flip := func(p []byte, i int) []byte { q := append([]byte(nil), p...); q[i] ^= 0x10; return q }
	good4 := ipv4(a4, b4, 1, 0, 60, icmpMsg(0, 7))
	good6 := ipv6(a6, b6, 58, 60, icmpMsg(129, 7))
	err4 := ipv4(netip.MustParseAddr("10.250.255.2"), b4, 1, 0, 60, append([]byte{3, 1, 0, 0, 0, 0, 0, 0}, ipv4(b4, a4, 1, 0, 1, icmpMsg(8, 7))...))
	for _, tc := range []struct {
		name  string
		data  []byte
		valid bool
	}{
		{"v4 reply", good4, true},
		{"v4 reply with Ethernet padding", append(append([]byte(nil), good4...), 0, 0, 0, 0, 0, 0), true},
		{"v4 reply, payload corrupted", flip(good4, len(good4)-1), false},
		{"v4 reply, checksum corrupted", flip(good4, 22), false},
		{"v4 error", err4, true},
		{"v4 error, quote corrupted", flip(err4, len(err4)-3), false},
		{"v6 reply", good6, true},
		{"v6 reply, payload corrupted", flip(good6, len(good6)-1), false},
		{"v6 reply, source changed (pseudo-header)", flip(good6, 9), false},
		{"v4 first fragment (not checkable)", flip(ipv4(a4, b4, 1, 0x2000, 60, icmpMsg(0, 7)), 34), true},
		{"v4 cut by the capture length (not checkable)", flip(good4, 30)[:32], true},
		{"v6 cut by the capture length (not checkable)", flip(good6, 50)[:52], true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rc Received
			if !decodeFrame(&rc, tc.data, false, 1) {
				t.Fatal("dropped")
			}
			if got := len(rc.Buf) >= icmpHeaderLen; got != tc.valid {
				t.Fatalf("Buf % x: valid %v, want %v", rc.Buf, got, tc.valid)
			}
			if tc.valid && len(rc.Buf) > len(icmpMsg(0, 7)) && tc.name != "v4 error" {
				t.Fatalf("Buf % x keeps the link-layer padding", rc.Buf)
			}
		})
	}
	// The engine counts a corrupted reply as invalid, never as a reply
	// (here the checksum field itself: id, serial and tag still verify).
	s, tg, req := oneProbeOut(t)
	req[0] = icmpv4EchoReply
	frame := ipv4(tg.ip, b4, 1, 0, 60, req)
	frame[22] ^= 1
	var rc Received
	decodeFrame(&rc, frame, false, 1)
	s.c.handle(&rc, s.now)
	if s.c.stats.Invalid != 1 || tg.replies != 0 {
		t.Fatalf("invalid %d replies %d, want 1 and 0", s.c.stats.Invalid, tg.replies)
	}
}

// TestDecodeFrameAllocs: decoding and checking a frame does not allocate.
func TestDecodeFrameAllocs(t *testing.T) {
	f4 := ipv4(netip.MustParseAddr("10.210.0.7"), netip.MustParseAddr("10.250.255.1"), 1, 0, 60, icmpMsg(0, 7))
	f6 := ipv6(netip.MustParseAddr("fd00:210::7"), netip.MustParseAddr("fd00:250::1"), 58, 60, icmpMsg(129, 7))
	var rc Received
	if n := testing.AllocsPerRun(1000, func() {
		decodeFrame(&rc, f4, false, 1)
		decodeFrame(&rc, f6, false, 1)
	}); n != 0 {
		t.Errorf("%v allocations per decode", n)
	}
}
