package probe

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
)

// ICMP message types used by the codec.
const (
	icmpv4EchoReply   = 0
	icmpv4Unreach     = 3
	icmpv4Echo        = 8
	icmpv4TimeExceed  = 11
	icmpv4ParamProb   = 12
	icmpv6Unreach     = 1
	icmpv6TooBig      = 2
	icmpv6TimeExceed  = 3
	icmpv6ParamProb   = 4
	icmpv6Echo        = 128
	icmpv6EchoReply   = 129
	icmpHeaderLen     = 8
	payloadStampOff   = 0  // 8 bytes monotonic send time (ns since engine epoch)
	payloadSerialOff  = 8  // 2 bytes high half of the 32-bit serial
	payloadTagOff     = 10 // 8 bytes tag
	payloadHeaderSize = 18
)

// Tagger computes the keyed tag carried in every probe: an AES-128 PRF
// (CBC-MAC over two fixed-length blocks) over the destination, echo id,
// serial and send time, with a per-process random key. A reply whose tag
// does not verify is foreign or spoofed.
//
// A Tagger is not safe for concurrent use: it keeps scratch blocks so that
// Tag does not allocate (arguments of the cipher.Block interface escape).
// The engine uses it under its lock.
type Tagger struct {
	block cipher.Block
	a, b  [16]byte
}

// NewTagger returns a Tagger with a fresh random key.
func NewTagger() (*Tagger, error) {
	var key [16]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("read random tag key: %w", err)
	}
	return NewTaggerKey(key)
}

// NewTaggerKey returns a Tagger with the given key (tests and fixtures).
func NewTaggerKey(key [16]byte) (*Tagger, error) {
	b, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("aes key: %w", err)
	}
	return &Tagger{block: b}, nil
}

// Tag returns the 8-byte tag of one probe. It does not allocate.
func (t *Tagger) Tag(dst netip.Addr, id uint16, serial uint32, sent int64) uint64 {
	a, b := &t.a, &t.b
	*a = dst.As16()
	t.block.Encrypt(a[:], a[:])
	*b = [16]byte{}
	binary.BigEndian.PutUint16(b[0:], id)
	binary.BigEndian.PutUint32(b[2:], serial)
	binary.BigEndian.PutUint64(b[6:], uint64(sent))
	for i := range b {
		b[i] ^= a[i]
	}
	t.block.Encrypt(b[:], b[:])
	return binary.BigEndian.Uint64(b[:8])
}

// AppendEcho appends an ICMP echo request (header and payload of
// payloadSize >= MinPayload bytes) to b and returns the extended slice.
// The IPv4 checksum is filled in; for IPv6 the kernel computes it.
// It does not allocate when b has room.
func AppendEcho(b []byte, t *Tagger, dst netip.Addr, id uint16, serial uint32, sent int64, payloadSize int) []byte {
	if payloadSize < payloadHeaderSize {
		payloadSize = payloadHeaderSize
	}
	start := len(b)
	typ := byte(icmpv4Echo)
	v6 := dst.Is6() && !dst.Is4In6()
	if v6 {
		typ = icmpv6Echo
	}
	b = append(b, typ, 0, 0, 0, byte(id>>8), byte(id), byte(serial>>8), byte(serial))
	b = binary.BigEndian.AppendUint64(b, uint64(sent))
	b = binary.BigEndian.AppendUint16(b, uint16(serial>>16))
	b = binary.BigEndian.AppendUint64(b, t.Tag(dst, id, serial, sent))
	for i := payloadHeaderSize; i < payloadSize; i++ {
		b = append(b, byte(i))
	}
	if !v6 {
		cs := checksum(b[start:])
		b[start+2], b[start+3] = byte(cs>>8), byte(cs)
	}
	return b
}

// checksum is the Internet checksum (RFC 1071).
func checksum(b []byte) uint16 { return fold(sum16(b, 0)) }

// sum16 adds the 16-bit big-endian words of b (a last odd byte padded with
// zero) to s, without folding.
func sum16(b []byte, s uint64) uint64 {
	for len(b) >= 2 {
		s += uint64(b[0])<<8 | uint64(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	return s
}

// fold folds a sum16 total into the one's complement checksum.
func fold(s uint64) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// echoChecksum returns the ICMP (IPv4) checksum of the echo request
// AppendEcho builds for these arguments, without building it. An ICMP error
// that quotes only the 8-byte header of a probe carries this checksum,
// which covers the tag. It does not allocate.
func echoChecksum(t *Tagger, dst netip.Addr, id uint16, serial uint32, sent int64, payloadSize int) uint16 {
	var h [icmpHeaderLen + payloadHeaderSize]byte
	h[0], h[4], h[5], h[6], h[7] = icmpv4Echo, byte(id>>8), byte(id), byte(serial>>8), byte(serial)
	binary.BigEndian.PutUint64(h[8:], uint64(sent))
	binary.BigEndian.PutUint16(h[16:], uint16(serial>>16))
	binary.BigEndian.PutUint64(h[18:], t.Tag(dst, id, serial, sent))
	s := sum16(h[:], 0)
	for i := payloadHeaderSize; i < payloadSize; i++ { // the padding, at even offsets from 26
		if (i-payloadHeaderSize)%2 == 0 {
			s += uint64(byte(i)) << 8
		} else {
			s += uint64(byte(i))
		}
	}
	return fold(s)
}

// Echo is a parsed echo reply (or the echo request quoted in an ICMP error).
type Echo struct {
	ID     uint16
	Serial uint32
	Sent   int64 // monotonic send time from the payload
	Tag    uint64
	// Full is false when the payload was truncated (quoted in an ICMP error
	// that kept only 8 bytes): then only ID and the low 16 bits of Serial
	// are known.
	Full bool
}

// ParseEcho parses an ICMP echo message (reply or request, per want) that
// starts at the ICMP header. It does not allocate.
func ParseEcho(b []byte, wantType byte, e *Echo) error {
	if len(b) < icmpHeaderLen {
		return errTruncated
	}
	if b[0] != wantType || b[1] != 0 {
		return errNotEcho
	}
	e.ID = binary.BigEndian.Uint16(b[4:])
	e.Serial = uint32(binary.BigEndian.Uint16(b[6:]))
	p := b[icmpHeaderLen:]
	if len(p) < payloadHeaderSize {
		e.Full = false
		return nil
	}
	e.Full = true
	e.Sent = int64(binary.BigEndian.Uint64(p[payloadStampOff:]))
	e.Serial |= uint32(binary.BigEndian.Uint16(p[payloadSerialOff:])) << 16
	e.Tag = binary.BigEndian.Uint64(p[payloadTagOff:])
	return nil
}

type parseError string

func (e parseError) Error() string { return string(e) }

const (
	errTruncated = parseError("truncated ICMP message")
	errNotEcho   = parseError("not an echo message")
	errNotOurs   = parseError("ICMP error does not quote an echo request")
)

func echoReplyType(v6 bool) uint8 {
	if v6 {
		return icmpv6EchoReply
	}
	return icmpv4EchoReply
}

func echoRequestType(v6 bool) uint8 {
	if v6 {
		return icmpv6Echo
	}
	return icmpv4Echo
}
