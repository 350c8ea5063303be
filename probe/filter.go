package probe

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// filterProg is the classic BPF program of the afpacket datapath, over
// packets that start at the network header (an AF_PACKET SOCK_DGRAM socket
// bound to every protocol). It keeps snap bytes of:
//   - IPv4 (not a later fragment) ICMP echo reply or request with id id4,
//     and the ICMP types that fail a probe (failTypes4);
//   - IPv6 with ICMPv6 as the first next header: echo reply or request with
//     id id6, and failTypes6;
//
// and drops everything else. It reads only packet bytes and the packet
// length (no ancillary loads such as the link protocol), so x/net/bpf's VM
// runs it in tests exactly as the kernel does. What a packet is, it learns
// from the IP version nibble, checked against the length fields: a frame
// that is not IP (ARP; a VLAN-tagged frame on the real device of a software
// VLAN, whose data starts at the tag and is seen again untagged on the
// VLAN device) has a version nibble of 4 or 6 only by chance, and then a
// length field that does not fit the packet.
//
// Jumps are written with labels and resolved here, so the program reads
// top to bottom.
func filterProg(id4, id6 uint16, snap uint32) ([]bpf.Instruction, error) {
	type insn struct {
		label  string
		i      bpf.Instruction
		jt, jf string // jump targets of a JumpIf / JumpIfX ("" = next)
	}
	p := []insn{
		{i: bpf.LoadAbsolute{Off: 0, Size: 1}},
		{i: bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0}},
		{i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x60}, jt: "v6"},
		{i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x40}, jf: "drop"},
		// IPv4: total length within the packet (link-layer padding may follow).
		{i: bpf.LoadExtension{Num: bpf.ExtLen}},
		{i: bpf.TAX{}},
		{i: bpf.LoadAbsolute{Off: 2, Size: 2}},
		{i: bpf.JumpIfX{Cond: bpf.JumpGreaterThan}, jt: "drop"},
		{i: bpf.LoadAbsolute{Off: 9, Size: 1}},
		{i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: 1}, jf: "drop"},
		{i: bpf.LoadAbsolute{Off: 6, Size: 2}},
		{i: bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff}, jt: "drop"},
		{i: bpf.LoadMemShift{Off: 0}},
		{i: bpf.LoadIndirect{Off: 0, Size: 1}},
	}
	// With the ICMP type in A: echo request or reply go on to the id check
	// (idLoad, then id), the types that fail a probe are kept, others dropped.
	byType := func(v6 bool, idLabel string, idLoad bpf.Instruction, id uint16) {
		p = append(p,
			insn{i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(echoReplyType(v6))}, jt: idLabel},
			insn{i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(echoRequestType(v6))}, jt: idLabel})
		for _, t := range failTypes(v6) {
			p = append(p, insn{i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(t)}, jt: "accept"})
		}
		p = append(p, insn{i: bpf.Jump{}, jt: "drop"}, insn{label: idLabel, i: idLoad},
			insn{i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(id)}, jt: "accept", jf: "drop"})
	}
	byType(false, "id4", bpf.LoadIndirect{Off: 4, Size: 2}, id4)
	p = append(p,
		// IPv6: payload length within the packet, ICMPv6 first.
		insn{label: "v6", i: bpf.LoadExtension{Num: bpf.ExtLen}},
		insn{i: bpf.TAX{}},
		insn{i: bpf.LoadAbsolute{Off: 4, Size: 2}},
		insn{i: bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 40}},
		insn{i: bpf.JumpIfX{Cond: bpf.JumpGreaterThan}, jt: "drop"},
		insn{i: bpf.LoadAbsolute{Off: 6, Size: 1}},
		insn{i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: 58}, jf: "drop"},
		insn{i: bpf.LoadAbsolute{Off: 40, Size: 1}},
	)
	byType(true, "id6", bpf.LoadAbsolute{Off: 44, Size: 2}, id6)
	p = append(p,
		insn{label: "accept", i: bpf.RetConstant{Val: snap}},
		insn{label: "drop", i: bpf.RetConstant{Val: 0}},
	)
	at := map[string]int{}
	for i, in := range p {
		if in.label != "" {
			at[in.label] = i
		}
	}
	skip := func(from int, label string) (uint8, error) {
		if label == "" {
			return 0, nil
		}
		to, ok := at[label]
		if !ok || to <= from || to-from-1 > 255 {
			return 0, fmt.Errorf("bpf filter: bad jump from %d to %q", from, label)
		}
		return uint8(to - from - 1), nil
	}
	out := make([]bpf.Instruction, len(p))
	for i, in := range p {
		t, err := skip(i, in.jt)
		if err != nil {
			return nil, err
		}
		f, err := skip(i, in.jf)
		if err != nil {
			return nil, err
		}
		switch x := in.i.(type) {
		case bpf.JumpIf:
			x.SkipTrue, x.SkipFalse = t, f
			out[i] = x
		case bpf.JumpIfX:
			x.SkipTrue, x.SkipFalse = t, f
			out[i] = x
		case bpf.Jump:
			x.Skip = uint32(t)
			out[i] = x
		default:
			out[i] = in.i
		}
	}
	return out, nil
}
