//go:build linux

package probe

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Ring geometry: 256 blocks of 64 KiB (16 MiB, locked in memory, so all of
// it counts in the resident set). A block is handed to us when full or
// after at most 4 ms. At low rates that uses one block per 4 ms, so the
// receiver has 1 s of slack before the ring freezes; at 100k probes/s
// (about 20 MB/s of request and reply frames) about 0.8 s.
const (
	ringBlockSize = 64 << 10
	ringBlocks    = 256
	ringFrameSize = 2048
	ringRetireMs  = 4
	// ringSnap is how many bytes of each packet the filter keeps: a whole
	// packet of a 1500-byte MTU and more, so decodeFrame can verify the
	// ICMP checksum of every reply and error that fits one frame.
	ringSnap = 1600
)

// afPacket receives on a TPACKET_V3 mmap ring of an AF_PACKET socket
// (SOCK_DGRAM: frames start at the network header) behind a classic BPF
// filter that passes only our echo requests and replies (by echo id) and
// ICMP errors. The ring stamps every frame with the kernel's receive time;
// it also sees our own requests leave (PACKET_OUTGOING), stamped the same
// way, which gives kernel TX and RX stamps of one clock. Sending goes through
// raw ICMP sockets with sendmmsg, which keeps the kernel's routing and
// neighbour resolution.
type afPacket struct {
	tx   *icmpDatapath
	fd   int
	ring []byte
	evfd int
	info DatapathInfo

	closed   atomic.Bool
	everRecv atomic.Bool // a blocking receiver uses the ring: only it may unmap it
	fdOnce   sync.Once

	drops, freezes atomic.Uint64

	// receive side (the goroutine that calls Recv or recvNow only)
	pfd   []unix.PollFd
	block int    // current block
	pkt   uint32 // packets of the current block already returned
	next  uint32 // offset of the next packet in the current block
	held  bool   // the current block is ours (TP_STATUS_USER) and not yet returned
	seen  stackSeen
}

// stackSeen remembers the last arriving frames, to see one packet only once
// when the ring captures it on several stacked interfaces.
//
// The ring captures on every interface (unless the engine names one). A
// packet that arrives on a device with an upper device is delivered to
// packet taps on the lower device first and then again on the upper one,
// as the same buffer: a bridge port then the bridge, a macvlan's lower
// device then the macvlan, a bond slave then the bond, a team port then
// the team, a VLAN's real device (with VLAN offload: the tag is already
// stripped) then the VLAN device. The kernel stamps a buffer once, when it
// first receives it (net_timestamp_check, kept across those rounds; the
// socket enables the stamping with SO_TIMESTAMPNS), so these copies have
// the same capture time and the same bytes, on different interfaces. A
// duplicate made by the network is another buffer with its own stamp and
// still counts as a duplicate. Encapsulations (VXLAN, GRE, IPsec) are seen
// once as ICMP: the outer packet is UDP or another protocol and the filter
// drops it.
//
// Binding the socket to ETH_P_IP and ETH_P_IPV6 instead of ETH_P_ALL would
// see a packet only where the IP layer takes it, but such sockets do not
// see outgoing packets, which give the TX stamps.
type stackSeen struct {
	next int
	recs [8]seenFrame
}

type seenFrame struct {
	stamp   int64
	ifindex int32
	n       int
	head    [64]byte
}

// again records an arriving frame and reports whether the same packet (same
// stamp and bytes) was just seen on another interface.
func (s *stackSeen) again(stamp int64, ifindex int32, data []byte) bool {
	h := data[:min(len(data), 64)]
	for i := range s.recs {
		r := &s.recs[i]
		if r.stamp == stamp && r.ifindex != ifindex && r.n == len(data) && string(r.head[:len(h)]) == string(h) {
			return true
		}
	}
	r := &s.recs[s.next]
	s.next = (s.next + 1) % len(s.recs)
	r.stamp, r.ifindex, r.n = stamp, ifindex, len(data)
	copy(r.head[:], h)
	return false
}

var _ Datapath = (*afPacket)(nil)

func openAFPacket(es EngineSpec) (Datapath, error) {
	tx, err := openICMPWith(es, true)
	if err != nil {
		return nil, fmt.Errorf("afpacket datapath needs CAP_NET_RAW for its send sockets: %w", err)
	}
	d := &afPacket{tx: tx, fd: -1, evfd: -1}
	if err := d.open(es); err != nil {
		d.closeFDs()
		tx.Close()
		tx.closeFDs()
		return nil, err
	}
	d.info = DatapathInfo{Name: DatapathAFPacket, Mode: "tpacket_v3", ID4: tx.info.ID4, ID6: tx.info.ID6,
		TimestampSource: TimestampKernelTXRX, Drops: d.drops.Load, Freezes: d.freezes.Load,
		// Frames wait in the block the kernel is filling until it retires.
		DeliveryDelay: ringRetireMs * time.Millisecond, StampsInOrder: true}
	if err := d.attachFilter(); err != nil {
		d.Close()
		d.closeFDs()
		return nil, err
	}
	return d, nil
}

func (d *afPacket) open(es EngineSpec) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return fmt.Errorf("open AF_PACKET socket (needs CAP_NET_RAW: run as root or setcap cap_net_raw+ep): %w", err)
	}
	d.fd = fd
	// Have the kernel stamp every packet when it first receives it (see
	// stackSeen): a socket asking for stamps turns that on.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fmt.Errorf("enable SO_TIMESTAMPNS: %w", err)
	}
	// Drop everything until the real filter is attached, then flush: no
	// foreign frame sneaks into the ring in between.
	if err := setFilter(fd, []unix.SockFilter{{Code: 0x06, K: 0}}); err != nil {
		return err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fmt.Errorf("set TPACKET_V3: %w", err)
	}
	req := unix.TpacketReq3{
		Block_size: ringBlockSize, Block_nr: ringBlocks, Frame_size: ringFrameSize,
		Frame_nr: ringBlockSize / ringFrameSize * ringBlocks, Retire_blk_tov: ringRetireMs,
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("set up PACKET_RX_RING: %w", err)
	}
	ring, err := unix.Mmap(fd, 0, ringBlockSize*ringBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_LOCKED)
	if err != nil {
		ring, err = unix.Mmap(fd, 0, ringBlockSize*ringBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	}
	if err != nil {
		return fmt.Errorf("mmap packet ring: %w", err)
	}
	d.ring = ring
	sll := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL)}
	if es.Interface != "" {
		ifi, err := net.InterfaceByName(es.Interface)
		if err != nil {
			return fmt.Errorf("afpacket interface %s: %w", es.Interface, err)
		}
		sll.Ifindex = ifi.Index
	}
	if err := unix.Bind(fd, sll); err != nil {
		return fmt.Errorf("bind AF_PACKET socket: %w", err)
	}
	d.evfd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	d.pfd = []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(d.evfd), Events: unix.POLLIN}}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func setFilter(fd int, prog []unix.SockFilter) error {
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp); err != nil {
		return fmt.Errorf("attach BPF filter: %w", err)
	}
	return nil
}

// attachFilter installs the real filter (filterProg) and flushes the ring
// of anything the drop-all filter let through (nothing, but a block may
// have retired).
func (d *afPacket) attachFilter() error {
	prog, err := filterProg(d.info.ID4, d.info.ID6, ringSnap)
	if err != nil {
		return err
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return fmt.Errorf("assemble BPF filter: %w", err)
	}
	f := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		f[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	if err := setFilter(d.fd, f); err != nil {
		return err
	}
	d.pollStats()
	return nil
}

func (d *afPacket) Info() DatapathInfo { return d.info }

func (d *afPacket) Send(pkts []Packet) (int, error) {
	if d.closed.Load() {
		return 0, net.ErrClosed
	}
	return d.tx.Send(pkts)
}

// pollStats reads PACKET_STATISTICS (which resets on read) into the totals.
func (d *afPacket) pollStats() {
	var st unix.TpacketStatsV3
	l := uint32(unsafe.Sizeof(st))
	_, _, errno := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(d.fd), unix.SOL_PACKET, unix.PACKET_STATISTICS,
		uintptr(unsafe.Pointer(&st)), uintptr(unsafe.Pointer(&l)), 0)
	if errno == 0 {
		d.drops.Add(uint64(st.Drops))
		d.freezes.Add(uint64(st.Freeze_q_cnt))
	}
}

func (d *afPacket) blockHdr(i int) *unix.TpacketHdrV1 {
	bd := (*unix.TpacketBlockDesc)(unsafe.Pointer(&d.ring[i*ringBlockSize]))
	return (*unix.TpacketHdrV1)(unsafe.Pointer(&bd.Hdr[0]))
}

// Recv returns packets from the ring. The block the previous call read
// from is handed back to the kernel first, so Received.Buf (pointing into
// the ring) is valid until the next call, as the Datapath contract says.
func (d *afPacket) Recv(msgs []Received) (int, error) {
	d.everRecv.Store(true) // before reading closed: pairs with Close
	return pollRecv(msgs, &d.closed, d.closeFDs, d.read, d.pfd, "packet ring")
}

// recvNow returns what the ring holds without blocking (polledReceiver).
// Frames in the block the kernel still fills wait until it retires
// (DeliveryDelay). It runs in the engine's sender goroutine, and never
// after Close, which may then unmap the ring itself.
func (d *afPacket) recvNow(msgs []Received) (int, bool, error) {
	if d.closed.Load() {
		return 0, true, net.ErrClosed
	}
	n := d.read(msgs)
	return n, n == 0, nil
}

// read returns frames from the ring without blocking; 0 when no retired
// block holds any. Receiving goroutine only.
func (d *afPacket) read(msgs []Received) int {
	for {
		if d.held {
			h := d.blockHdr(d.block)
			if d.pkt >= h.Num_pkts {
				// Kernel ABI: the status word is handed over with a store the
				// kernel reads after its smp_rmb; an atomic store orders it.
				atomic.StoreUint32(&h.Block_status, unix.TP_STATUS_KERNEL)
				d.held = false
				d.block = (d.block + 1) % ringBlocks
				d.pollStats()
			}
		}
		if !d.held {
			h := d.blockHdr(d.block)
			if atomic.LoadUint32(&h.Block_status)&unix.TP_STATUS_USER == 0 {
				return 0
			}
			d.held, d.pkt, d.next = true, 0, h.Offset_to_first_pkt
		}
		h := d.blockHdr(d.block)
		base := d.block * ringBlockSize
		n := 0
		for n < len(msgs) && d.pkt < h.Num_pkts {
			off := base + int(d.next)
			ph := (*unix.Tpacket3Hdr)(unsafe.Pointer(&d.ring[off]))
			d.pkt++
			d.next = ph.Next_offset + d.next
			if d.fill(&msgs[n], ph, off) {
				n++
			}
		}
		if n > 0 {
			return n
		}
	}
}

// fill decodes one ring frame. The sockaddr_ll after the frame header says
// whether we saw it leave (our request: a TX stamp) or arrive.
func (d *afPacket) fill(rc *Received, ph *unix.Tpacket3Hdr, off int) bool {
	sll := (*unix.RawSockaddrLinklayer)(unsafe.Pointer(&d.ring[off+tpacketAlign(unix.SizeofTpacket3Hdr)]))
	data := d.ring[off+int(ph.Net) : off+int(ph.Net)+int(ph.Snaplen)]
	stamp := int64(ph.Sec)*1e9 + int64(ph.Nsec)
	out := sll.Pkttype == unix.PACKET_OUTGOING
	if !out && d.seen.again(stamp, sll.Ifindex, data) {
		return false // the same packet, seen again on a stacked interface
	}
	return decodeFrame(rc, data, out, stamp)
}

func tpacketAlign(n int) int {
	return (n + unix.TPACKET_ALIGNMENT - 1) &^ (unix.TPACKET_ALIGNMENT - 1)
}

func (d *afPacket) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	d.tx.Close()
	d.tx.closeFDs()
	wakeEventfd(d.evfd)
	// The receiver may still be processing frames that point into the ring
	// (Received.Buf): it unmaps the ring when it next calls Recv. Only if no
	// receiver ever ran do we free it here. closed is stored before
	// everRecv is loaded, and Recv stores everRecv before loading closed, so
	// one of the two always sees the other (sequentially consistent atomics).
	if !d.everRecv.Load() {
		d.closeFDs()
	}
	return nil
}

func (d *afPacket) closeFDs() {
	d.fdOnce.Do(func() {
		if d.ring != nil {
			_ = unix.Munmap(d.ring)
		}
		if d.fd >= 0 {
			unix.Close(d.fd)
		}
		if d.evfd >= 0 {
			unix.Close(d.evfd)
		}
	})
}
