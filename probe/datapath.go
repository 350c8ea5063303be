package probe

import (
	"errors"
	"net/netip"
	"time"
)

// ErrNotSupported is returned (wrapped) when a datapath or feature is not
// available in this build or on this platform. Match it with errors.Is.
var ErrNotSupported = errors.New("not supported")

// Datapath moves probe packets between the engine and the network. The
// engine has one sender goroutine calling Send and, unless the datapath
// can be read without blocking (the built-in ones), one receiver goroutine
// calling Recv; a Datapath must allow those two to run concurrently, and
// Close to be called from any goroutine to unblock Recv.
//
// Implementations: the icmp datapath (ping or raw sockets), afpacket,
// pfring, and fakes in tests.
type Datapath interface {
	// Send tries to transmit every packet, in order, and returns how many
	// left and the last error. Packets that could not be sent get Failed
	// set. Kernel TX timestamps come back through Recv (Received.TxStamp).
	Send(pkts []Packet) (int, error)
	// Recv blocks until at least one packet arrived, fills msgs and returns
	// how many it filled. Received.Buf points into datapath-owned memory
	// that stays valid until the next call to Recv. After Close it returns
	// an error matching net.ErrClosed.
	Recv(msgs []Received) (int, error)
	// Info describes the datapath; it does not change after open.
	Info() DatapathInfo
	// Close releases the sockets and rings and unblocks Recv.
	Close() error
}

// DatapathInfo describes an open datapath.
type DatapathInfo struct {
	Name string // icmp, afpacket, pfring, fake
	// Mode says more (e.g. "ping" or "raw" sockets).
	Mode string
	// ID4 and ID6 are the ICMP echo identifiers on the wire for IPv4 and
	// IPv6 (ping sockets: the kernel's, from getsockname).
	ID4, ID6 uint16
	// TimestampSource is the best source the datapath provides, one of the
	// Timestamp* constants.
	TimestampSource string
	// Drops reports packets the kernel dropped before they were read
	// (socket or ring overflow); nil when unknown.
	Drops func() uint64
	// Freezes reports how often a receive ring was full (afpacket); nil
	// when the datapath has no ring.
	Freezes func() uint64
	// DeliveryDelay is how long a packet may wait inside the datapath
	// before Recv can return it (afpacket: until the ring block retires).
	// The engine declares probes lost only up to the moment its last read
	// found the queues empty, minus it.
	DeliveryDelay time.Duration
	// StampsInOrder says that Recv returns packets in the order they
	// arrived, each with its KernelStamp (a ring): once the receiver has
	// processed a packet stamped S, every packet that arrived before S has
	// been processed. The engine uses it to declare probes lost only up to
	// there.
	StampsInOrder bool
}

// Packet is one echo request to send. Buf holds the ICMP message (header
// and payload) as built by AppendEcho; the datapath adds the IP header.
type Packet struct {
	Dst netip.Addr
	TTL int // 0 = socket default
	TOS int // 0 = socket default
	Buf []byte
	// Failed is set by Send when this packet could not be sent.
	Failed bool
}

// Received is one packet delivered by a datapath.
type Received struct {
	// Src is the sender: the target for echo replies, a router for errors.
	Src netip.Addr
	// Buf is the ICMP message starting at the ICMP header (echo reply, or an
	// ICMP error with the quoted IP packet). For errors taken from a socket
	// error queue (ping sockets), Buf is the quoted echo request itself and
	// QuotedDst, ErrType and ErrCode are set.
	Buf []byte
	// V6 is true for ICMPv6.
	V6 bool
	// FromErrQueue marks an ICMP error read from the socket error queue.
	FromErrQueue bool
	// TxStamp marks a kernel transmit timestamp of one of our probes: Buf
	// is the echo request we sent (ICMP header on), Src its destination and
	// KernelStamp its transmit time. A datapath delivers it before any
	// reply to that probe.
	TxStamp   bool
	QuotedDst netip.Addr
	ErrType   uint8
	ErrCode   uint8
	// TTL is the IP TTL / hop limit of the packet; -1 when unknown.
	TTL int
	// KernelStamp is the kernel receive time in Unix nanoseconds; 0 when
	// the datapath has none.
	KernelStamp int64
}

// polledReceiver is implemented by datapaths whose receive queues can be
// read without blocking. The engine then has no receiver goroutine: its
// sender goroutine reads the queues at every wake-up (once per send
// window), right before it declares losses, so one goroutine does all
// the packet work and "lost" means "no reply arrived in time".
type polledReceiver interface {
	// recvNow fills msgs with packets that arrived, without blocking, and
	// returns how many; empty says the queues held no more. Buffers follow
	// the rules of Recv (valid until the next call). Never called
	// concurrently with Recv, nor after Close.
	recvNow(msgs []Received) (n int, empty bool, err error)
}
