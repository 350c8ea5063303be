//go:build linux

package probe

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// XDP program of the afxdp datapath. It sees every frame arriving on the
// interface, before the kernel's stack, and redirects into the XSK of the
// receive queue only:
//
//   - ICMP echo replies (IPv4 type 0, IPv6 type 129) carrying our echo id;
//   - ICMP errors that fail a probe (IPv4 destination unreachable, time
//     exceeded, parameter problem; IPv6 types 1–4) whose quoted packet is an
//     echo request (IPv4 type 8, IPv6 type 128) carrying our echo id.
//
// Everything else — neighbour discovery, ARP, redirects, other ICMP, all
// other traffic — goes on to the kernel (XDP_PASS), so the host keeps
// working while the exporter runs. A redirected frame gets 16 bytes of
// metadata in front of it: a magic word and bpf_ktime_get_ns() taken here,
// the earliest receive stamp software can take. When the metadata cannot be
// added the frame is redirected without it and the datapath stamps it in
// user space.
//
// The program reads fixed offsets: an Ethernet header without VLAN tag (a
// VLAN device's own XDP hook sees untagged frames; the lower device of a
// VLAN stack is not where this datapath attaches), IPv4 without options
// (IHL 5, outer and quoted) and IPv6 whose next header is ICMPv6 directly.
// Frames outside that shape go to the kernel, and so to no one: the engine
// counts their probes as lost, never as replies with a wrong RTT.

// xdpMetaMagic marks the metadata the program writes ("icmpxdp\x01").
const xdpMetaMagic = 0x69636d7078647001

// Offsets inside an Ethernet frame.
const (
	ethType   = 12
	ip4Start  = 14
	ip4Proto  = ip4Start + 9
	icmp4     = ip4Start + 20 // 34
	quoted4   = icmp4 + 8     // 42
	quoted4P  = quoted4 + 9   // 51
	quoted4IC = quoted4 + 20  // 62
	ip6Start  = 14
	ip6Next   = ip6Start + 6
	icmp6     = ip6Start + 40 // 54
	quoted6   = icmp6 + 8     // 62
	quoted6N  = quoted6 + 6   // 68
	quoted6IC = quoted6 + 40  // 102
)

// bswap16 turns a network-order 16-bit field into the value a little-endian
// 16-bit load of it gives (BPF loads are in host order; the kernels this
// datapath runs on are little-endian: amd64, arm64, armv7).
func bswap16(v uint16) uint16 { return v<<8 | v>>8 }

// xdpProgram assembles the filter for echo ids id4 and id6, redirecting
// into xsks (an XSKMAP indexed by receive queue).
func xdpProgram(xsks *ebpf.Map, id4, id6 uint16) asm.Instructions {
	const (
		ctx     = asm.R6
		data    = asm.R7
		dataEnd = asm.R8
	)
	le := func(off int16, size asm.Size) asm.Instruction {
		return asm.LoadMem(asm.R0, data, off, size)
	}
	// need jumps to "pass" unless data+n <= data_end.
	need := func(n int32, label string) asm.Instructions {
		return asm.Instructions{
			asm.Mov.Reg(asm.R1, data),
			asm.Add.Imm(asm.R1, n),
			asm.JGT.Reg(asm.R1, dataEnd, label),
		}
	}
	var insns asm.Instructions
	add := func(is ...asm.Instruction) { insns = append(insns, is...) }
	addAll := func(is asm.Instructions) { insns = append(insns, is...) }

	add(
		asm.Mov.Reg(ctx, asm.R1),
		asm.LoadMem(data, ctx, 0, asm.Word),    // xdp_md.data
		asm.LoadMem(dataEnd, ctx, 4, asm.Word), // xdp_md.data_end
	)
	addAll(need(icmp4+8, "pass")) // the shortest frame we act on
	add(
		le(ethType, asm.Half),
		asm.JEq.Imm(asm.R0, int32(bswap16(0x0800)), "v4"),
		asm.JEq.Imm(asm.R0, int32(bswap16(0x86dd)), "v6"),
		asm.Ja.Label("pass"),
	)

	// IPv4
	add(asm.LoadMem(asm.R0, data, ip4Start, asm.Byte).WithSymbol("v4"),
		asm.JNE.Imm(asm.R0, 0x45, "pass"),
		le(ip4Proto, asm.Byte),
		asm.JNE.Imm(asm.R0, 1, "pass"),
		le(icmp4, asm.Byte),
		asm.JEq.Imm(asm.R0, 0, "v4reply"),
		asm.JEq.Imm(asm.R0, 3, "v4err"),
		asm.JEq.Imm(asm.R0, 11, "v4err"),
		asm.JEq.Imm(asm.R0, 12, "v4err"),
		asm.Ja.Label("pass"),
	)
	add(le(icmp4+4, asm.Half).WithSymbol("v4reply"),
		asm.JEq.Imm(asm.R0, int32(bswap16(id4)), "redirect"),
		asm.Ja.Label("pass"),
	)
	insns = append(insns, need(quoted4IC+8, "pass")...)
	insns[len(insns)-3] = insns[len(insns)-3].WithSymbol("v4err")
	add(
		le(quoted4, asm.Byte),
		asm.JNE.Imm(asm.R0, 0x45, "pass"),
		le(quoted4P, asm.Byte),
		asm.JNE.Imm(asm.R0, 1, "pass"),
		le(quoted4IC, asm.Byte),
		asm.JNE.Imm(asm.R0, 8, "pass"),
		le(quoted4IC+4, asm.Half),
		asm.JEq.Imm(asm.R0, int32(bswap16(id4)), "redirect"),
		asm.Ja.Label("pass"),
	)

	// IPv6
	insns = append(insns, need(icmp6+8, "pass")...)
	insns[len(insns)-3] = insns[len(insns)-3].WithSymbol("v6")
	add(
		le(ip6Next, asm.Byte),
		asm.JNE.Imm(asm.R0, 58, "pass"),
		le(icmp6, asm.Byte),
		asm.JEq.Imm(asm.R0, 129, "v6reply"),
		asm.JEq.Imm(asm.R0, 1, "v6err"),
		asm.JEq.Imm(asm.R0, 2, "v6err"),
		asm.JEq.Imm(asm.R0, 3, "v6err"),
		asm.JEq.Imm(asm.R0, 4, "v6err"),
		asm.Ja.Label("pass"),
	)
	add(le(icmp6+4, asm.Half).WithSymbol("v6reply"),
		asm.JEq.Imm(asm.R0, int32(bswap16(id6)), "redirect"),
		asm.Ja.Label("pass"),
	)
	insns = append(insns, need(quoted6IC+8, "pass")...)
	insns[len(insns)-3] = insns[len(insns)-3].WithSymbol("v6err")
	add(
		le(quoted6N, asm.Byte),
		asm.JNE.Imm(asm.R0, 58, "pass"),
		le(quoted6IC, asm.Byte),
		asm.JNE.Imm(asm.R0, 128, "pass"),
		le(quoted6IC+4, asm.Half),
		asm.JEq.Imm(asm.R0, int32(bswap16(id6)), "redirect"),
		asm.Ja.Label("pass"),
	)

	// redirect: stamp into metadata when possible, then into the XSK of
	// this receive queue (XDP_PASS if no socket is bound there).
	add(
		asm.Mov.Reg(asm.R1, ctx).WithSymbol("redirect"),
		asm.Mov.Imm(asm.R2, -16),
		asm.FnXdpAdjustMeta.Call(),
		asm.JNE.Imm(asm.R0, 0, "tomap"),
		asm.LoadMem(asm.R7, ctx, 8, asm.Word), // xdp_md.data_meta
		asm.LoadMem(asm.R8, ctx, 0, asm.Word), // xdp_md.data
		asm.Mov.Reg(asm.R1, asm.R7),
		asm.Add.Imm(asm.R1, 16),
		asm.JGT.Reg(asm.R1, asm.R8, "tomap"),
		asm.LoadImm(asm.R1, xdpMetaMagic, asm.DWord),
		asm.StoreMem(asm.R7, 0, asm.R1, asm.DWord),
		asm.FnKtimeGetNs.Call(),
		asm.StoreMem(asm.R7, 8, asm.R0, asm.DWord),
		asm.LoadMapPtr(asm.R1, xsks.FD()).WithSymbol("tomap"),
		asm.LoadMem(asm.R2, ctx, 16, asm.Word), // xdp_md.rx_queue_index
		asm.Mov.Imm(asm.R3, 2),                 // XDP_PASS when the slot is empty
		asm.FnRedirectMap.Call(),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 2).WithSymbol("pass"), // XDP_PASS
		asm.Return(),
	)
	return insns
}
