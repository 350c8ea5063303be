package probe

import (
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// errParser decodes ICMP errors that quote one of our echo requests, with
// gopacket's layer decoders on preallocated layers (no allocation on the
// success path). It is owned by the receiver goroutine; not safe for
// concurrent use.
type errParser struct {
	icmp4 layers.ICMPv4
	icmp6 layers.ICMPv6
	ip4   layers.IPv4
	ip6   layers.IPv6
}

// failTypes4 and failTypes6 are the ICMP types that fail the probe they
// quote: the receive filters of every datapath (raw socket ICMP filters,
// the afpacket and pfring BPF programs) pass exactly these besides echo
// replies, and classifyError maps exactly these. Redirects and source
// quench are not among them: a redirect means the probe was forwarded (its
// reply still comes), and source quench is deprecated advice (RFC 6633);
// neither says the probe failed.
var (
	failTypes4 = [...]uint8{icmpv4Unreach, icmpv4TimeExceed, icmpv4ParamProb}
	failTypes6 = [...]uint8{icmpv6Unreach, icmpv6TooBig, icmpv6TimeExceed, icmpv6ParamProb}
)

// failTypes returns the ICMP types that fail a probe in one family.
func failTypes(v6 bool) []uint8 {
	if v6 {
		return failTypes6[:]
	}
	return failTypes4[:]
}

// classifyError maps an ICMP type that fails a probe to an ErrorType; ok
// is false for every other type.
func classifyError(typ uint8, v6 bool) (ErrorType, bool) {
	if v6 {
		switch typ {
		case icmpv6Unreach:
			return ErrDestUnreachable, true
		case icmpv6TooBig:
			return ErrPacketTooBig, true
		case icmpv6TimeExceed:
			return ErrTimeExceeded, true
		case icmpv6ParamProb:
			return ErrParamProblem, true
		}
		return 0, false
	}
	switch typ {
	case icmpv4Unreach:
		return ErrDestUnreachable, true
	case icmpv4TimeExceed:
		return ErrTimeExceeded, true
	case icmpv4ParamProb:
		return ErrParamProblem, true
	}
	return 0, false
}

// advisory reports ICMP messages that may quote a probe without failing
// it (redirect, source quench; ICMPv6 redirect): they are ignored, neither
// errors nor foreign packets.
func advisory(typ uint8, v6 bool) bool {
	if v6 {
		return typ == 137
	}
	return typ == 4 || typ == 5
}

// parse decodes an ICMP error message b (starting at the ICMP header) and
// returns the error type, the destination of the quoted packet and the
// quoted ICMP echo request (possibly truncated to its 8-byte header).
func (p *errParser) parse(b []byte, v6 bool) (ErrorType, netip.Addr, []byte, error) {
	df := gopacket.NilDecodeFeedback
	if v6 {
		if err := p.icmp6.DecodeFromBytes(b, df); err != nil {
			return 0, netip.Addr{}, nil, errTruncated
		}
		et, ok := classifyError(p.icmp6.TypeCode.Type(), true)
		if !ok || len(p.icmp6.Payload) < 4 {
			return 0, netip.Addr{}, nil, errNotOurs
		}
		et = refineUnreach(et, true, p.icmp6.TypeCode.Code())
		if err := p.ip6.DecodeFromBytes(p.icmp6.Payload[4:], df); err != nil || p.ip6.NextHeader != layers.IPProtocolICMPv6 {
			return 0, netip.Addr{}, nil, errNotOurs
		}
		dst, _ := netip.AddrFromSlice(p.ip6.DstIP)
		return et, dst, p.ip6.Payload, nil
	}
	if err := p.icmp4.DecodeFromBytes(b, df); err != nil {
		return 0, netip.Addr{}, nil, errTruncated
	}
	et, ok := classifyError(p.icmp4.TypeCode.Type(), false)
	if !ok {
		return 0, netip.Addr{}, nil, errNotOurs
	}
	et = refineUnreach(et, false, p.icmp4.TypeCode.Code())
	if err := p.ip4.DecodeFromBytes(p.icmp4.Payload, df); err != nil || p.ip4.Protocol != layers.IPProtocolICMPv4 {
		return 0, netip.Addr{}, nil, errNotOurs
	}
	dst, _ := netip.AddrFromSlice(p.ip4.DstIP)
	quoted := p.ip4.Payload
	return et, dst, quoted, nil
}

// refineUnreach splits "fragmentation needed" (v4 unreachable code 4) into
// ErrPacketTooBig, like IPv6's own message.
func refineUnreach(et ErrorType, v6 bool, code uint8) ErrorType {
	if !v6 && et == ErrDestUnreachable && code == 4 {
		return ErrPacketTooBig
	}
	return et
}

// passesFilter reports whether the receive filters pass ICMP type typ as
// an error (besides echo requests and replies): the failTypes.
func passesFilter(typ uint8, v6 bool) bool {
	for _, f := range failTypes(v6) {
		if f == typ {
			return true
		}
	}
	return false
}
