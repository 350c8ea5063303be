package probe

import (
	"net/netip"
	"testing"

	"golang.org/x/net/bpf"
)

// TestFilterProgVM runs the afpacket filter in x/net/bpf's VM over packets
// as an AF_PACKET SOCK_DGRAM socket hands them over (from the network
// header): ours, foreign, errors, ICMP that does not fail a probe,
// fragments, other protocols and VLAN-tagged frames.
func TestFilterProgVM(t *testing.T) {
	const id4, id6, snap = 0x1234, 0x5678, 1600
	prog, err := filterProg(id4, id6, snap)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bpf.Assemble(prog); err != nil {
		t.Fatal(err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	a4, b4 := netip.MustParseAddr("10.250.255.1"), netip.MustParseAddr("10.210.0.7")
	a6, b6 := netip.MustParseAddr("fd00:250::1"), netip.MustParseAddr("fd00:210::7")
	quote4 := ipv4(a4, b4, 1, 0, 64, icmpMsg(icmpv4Echo, id4))
	quote6 := ipv6(a6, b6, 58, 64, icmpMsg(icmpv6Echo, id6))
	err4 := func(typ byte) []byte {
		return ipv4(netip.MustParseAddr("10.250.255.2"), a4, 1, 0, 64, append([]byte{typ, 1, 0, 0, 0, 0, 0, 0}, quote4...))
	}
	err6 := func(typ byte) []byte {
		return ipv6(netip.MustParseAddr("fd00:250::2"), a6, 58, 64, append([]byte{typ, 0, 0, 0, 0, 0, 0, 0}, quote6...))
	}
	// A VLAN-tagged frame on the real device of a software VLAN: the data
	// starts at the tag (TCI, then the inner ethertype). PCP 2 and 3 make
	// the first nibble look like IPv4 and IPv6.
	tagged := func(tci, etype uint16, pkt []byte) []byte {
		return append([]byte{byte(tci >> 8), byte(tci), byte(etype >> 8), byte(etype)}, pkt...)
	}
	reply4 := ipv4(b4, a4, 1, 0, 60, icmpMsg(icmpv4EchoReply, id4))
	reply6 := ipv6(b6, a6, 58, 60, icmpMsg(icmpv6EchoReply, id6))
	for _, tc := range []struct {
		name string
		pkt  []byte
		keep bool
	}{
		{"v4 reply, our id", reply4, true},
		{"v4 reply with link-layer padding", append(append([]byte(nil), reply4...), make([]byte, 10)...), true},
		{"v4 request leaving, our id", quote4, true},
		{"v4 reply, foreign id", ipv4(b4, a4, 1, 0, 60, icmpMsg(icmpv4EchoReply, 0xfeed)), false},
		{"v4 reply with IP options", func() []byte {
			p := ipv4(b4, a4, 1, 0, 60, icmpMsg(icmpv4EchoReply, id4))
			q := append(append(append([]byte(nil), p[:20]...), 1, 1, 1, 0), p[20:]...) // NOP NOP NOP EOL
			q[0], q[3] = 0x46, q[3]+4
			return q
		}(), true},
		{"v4 unreachable", err4(icmpv4Unreach), true},
		{"v4 time exceeded", err4(icmpv4TimeExceed), true},
		{"v4 parameter problem", err4(icmpv4ParamProb), true},
		{"v4 redirect", err4(5), false},
		{"v4 source quench", err4(4), false},
		{"v4 first fragment", ipv4(b4, a4, 1, 0x2000, 60, icmpMsg(icmpv4EchoReply, id4)), true},
		{"v4 later fragment", ipv4(b4, a4, 1, 0x0010, 60, icmpMsg(icmpv4EchoReply, id4)), false},
		{"v4 TCP", ipv4(b4, a4, 6, 0, 60, icmpMsg(icmpv4EchoReply, id4)), false},
		{"v4 truncated length field", func() []byte { p := append([]byte(nil), reply4...); p[2], p[3] = 0x05, 0xdc; return p }(), false},
		{"v6 reply, our id", reply6, true},
		{"v6 request leaving, our id", quote6, true},
		{"v6 reply, foreign id", ipv6(b6, a6, 58, 60, icmpMsg(icmpv6EchoReply, 0xfeed)), false},
		{"v6 unreachable", err6(icmpv6Unreach), true},
		{"v6 packet too big", err6(icmpv6TooBig), true},
		{"v6 time exceeded", err6(icmpv6TimeExceed), true},
		{"v6 parameter problem", err6(icmpv6ParamProb), true},
		{"v6 redirect", err6(137), false},
		{"v6 neighbour solicitation", err6(135), false},
		{"v6 with an extension header first", ipv6(b6, a6, 0, 60, icmpMsg(icmpv6EchoReply, id6)), false},
		{"v6 UDP", ipv6(b6, a6, 17, 60, icmpMsg(icmpv6EchoReply, id6)), false},
		{"ARP", []byte{0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 250, 255, 1, 0, 0, 0, 0, 0, 0, 10, 250, 255, 2}, false},
		{"VLAN-tagged v4 reply (PCP 2)", tagged(0x4064, 0x0800, reply4), false},
		{"VLAN-tagged v4 reply (PCP 0)", tagged(0x0064, 0x0800, reply4), false},
		{"VLAN-tagged v6 reply (PCP 3)", tagged(0x6064, 0x86dd, reply6), false},
		{"empty", nil, false},
		{"one byte", []byte{0x45}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := vm.Run(tc.pkt)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: snap, false: 0}[tc.keep]; n != want {
				t.Errorf("kept %d bytes, want %d", n, want)
			}
		})
	}
}
