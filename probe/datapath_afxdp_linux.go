//go:build linux

package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// UMEM geometry of one XSK: xskFrames frames of xskFrameSize bytes; the first
// half is lent to the kernel for receiving (fill ring), the second half is
// ours for sending. 8 MiB per receive queue.
const (
	xskFrameSize = 2048
	xskFrames    = 4096
	xskRingSize  = 2048 // every ring; a power of two
	xskMetaLen   = 16   // the XDP program's metadata: magic, ktime
)

// afXDP receives through AF_XDP sockets (one per receive queue of the
// interface) fed by an XDP program that redirects only our echo replies and
// the ICMP errors quoting our probes (afxdp_prog_linux.go); everything else
// goes on to the kernel. It sends by writing whole Ethernet frames into the
// first socket's TX ring: the next hop and source address come from the
// kernel's routing table (RTM_GETROUTE per destination, cached) and the
// next hop's MAC from its neighbour table, both re-read when netlink says
// they changed. A probe whose next hop is not resolved yet, or whose route
// leaves by another interface, is sent through a raw socket instead, which
// also makes the kernel resolve the neighbour.
//
// Native XDP is used where the driver supports it, generic (SKB) XDP
// elsewhere (veth); sockets bind in zero-copy mode where possible and in
// copy mode otherwise. Receive stamps are bpf_ktime_get_ns() taken in the
// XDP program (the driver's receive path), converted to Unix time; send
// stamps are the engine's, taken just before the send batch: RTTs are
// TimestampKernelRX.
type afXDP struct {
	slow    *icmpDatapath // raw sockets for probes the frame path cannot send
	ifindex int
	mac     net.HardwareAddr
	mtu     int
	xsks    *ebpf.Map
	prog    *ebpf.Program
	lnk     link.Link
	socks   []*xsk
	pfd     []unix.PollFd
	evfd    int
	info    DatapathInfo
	mode    string
	nl      *netlink.Handle
	nlDone  chan struct{}
	closed  atomic.Bool
	// everRecv: a blocking receiver uses the UMEM, so only it may unmap it
	// (see Close); the engine's polled reads (recvNow) never run after Close
	everRecv atomic.Bool
	freed    sync.Once

	// next hops, re-read when routes or neighbours change (gen moves)
	gen      atomic.Uint64
	mu       sync.Mutex // guards routes, neigh, seenGen; taken once per Send
	seenGen  uint64
	routes   map[netip.Addr]hop
	neigh    map[netip.Addr]net.HardwareAddr
	slowPkts []Packet
	slowIdx  []int
}

// hop is where a destination's frames go.
type hop struct {
	via   netip.Addr // next hop: a gateway or the destination itself
	src   netip.Addr
	local bool // the route leaves by our interface
}

// xsk is one AF_XDP socket with its own UMEM and rings.
type xsk struct {
	fd                 int
	umem               []byte
	fill, comp, rx, tx xskRing
	txFree             []uint64 // free TX frame addresses
	held               []uint64 // RX frames handed to the engine, refilled on the next Recv
	mmaps              [][]byte
}

// xskRing is a single-producer single-consumer ring shared with the kernel.
// Kernel ABI: producer and consumer are free-running u32 indices; the
// producer writes descriptors before publishing the new producer index and
// the consumer reads them after loading it. Go's sync/atomic loads and
// stores are sequentially consistent, which gives the ordering the kernel's
// smp_load_acquire/smp_store_release pairs expect.
type xskRing struct {
	prod, cons, flags *uint32
	descs             unsafe.Pointer // []unix.XDPDesc (rx, tx) or []uint64 (fill, comp)
	mask              uint32
}

func (r *xskRing) addr(i uint32) *uint64 {
	return (*uint64)(unsafe.Add(r.descs, uintptr(i&r.mask)*8))
}

func (r *xskRing) desc(i uint32) *unix.XDPDesc {
	return (*unix.XDPDesc)(unsafe.Add(r.descs, uintptr(i&r.mask)*unsafe.Sizeof(unix.XDPDesc{})))
}

var _ Datapath = (*afXDP)(nil)

func openAFXDP(es EngineSpec) (Datapath, error) {
	slow, err := openICMPWith(es, true)
	if err != nil {
		return nil, fmt.Errorf("afxdp datapath needs CAP_NET_RAW for its fallback send sockets: %w", err)
	}
	d := &afXDP{slow: slow, evfd: -1, nlDone: make(chan struct{}),
		routes: make(map[netip.Addr]hop), neigh: make(map[netip.Addr]net.HardwareAddr)}
	if err := d.open(es); err != nil {
		d.release()
		return nil, err
	}
	d.info = DatapathInfo{Name: DatapathAFXDP, Mode: d.mode, ID4: slow.info.ID4, ID6: slow.info.ID6,
		TimestampSource: TimestampKernelRX, Drops: d.kernelDrops,
		// One RX ring per queue, each in arrival order with its XDP stamp;
		// with several queues the rings interleave, so only one is ordered.
		StampsInOrder: len(d.socks) == 1}
	return d, nil
}

func (d *afXDP) open(es EngineSpec) error {
	ifname, err := xdpInterface(es.Interface)
	if err != nil {
		return err
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return fmt.Errorf("afxdp interface %s: %w", ifname, err)
	}
	d.ifindex, d.mac, d.mtu = ifi.Index, ifi.HardwareAddr, ifi.MTU
	if len(d.mac) != 6 {
		return fmt.Errorf("afxdp interface %s has no Ethernet address: %w", ifname, ErrNotSupported)
	}
	if d.nl, err = netlink.NewHandle(unix.NETLINK_ROUTE); err != nil {
		return fmt.Errorf("afxdp netlink: %w", err)
	}
	queues := 1
	if lk, err := d.nl.LinkByIndex(d.ifindex); err == nil && lk.Attrs().NumRxQueues > 1 {
		// From netlink, not sysfs: /sys shows the namespace it was mounted in.
		queues = lk.Attrs().NumRxQueues
	}
	d.xsks, err = ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.XSKMap, KeySize: 4, ValueSize: 4, MaxEntries: uint32(queues)})
	if err != nil {
		return fmt.Errorf("afxdp: create XSKMAP (needs CAP_BPF and CAP_NET_ADMIN, or root): %w", err)
	}
	d.prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.XDP, License: "Dual MIT/GPL",
		Instructions: xdpProgram(d.xsks, d.slow.info.ID4, d.slow.info.ID6)})
	if err != nil {
		return fmt.Errorf("afxdp: load XDP program: %w", err)
	}
	mode := "native"
	d.lnk, err = link.AttachXDP(link.XDPOptions{Program: d.prog, Interface: d.ifindex, Flags: link.XDPDriverMode})
	if err != nil {
		mode = "generic"
		d.lnk, err = link.AttachXDP(link.XDPOptions{Program: d.prog, Interface: d.ifindex, Flags: link.XDPGenericMode})
	}
	if err != nil {
		return fmt.Errorf("afxdp: attach XDP program to %s (another XDP program may be attached): %w", ifname, err)
	}
	bind := "zerocopy"
	for q := 0; q < queues; q++ {
		s, copyMode, err := openXSK(d.ifindex, q)
		if q > 0 && errors.Is(err, unix.EINVAL) {
			// Netlink reports the queues allocated; the kernel binds only
			// those in use (real_num_rx_queues), which come first.
			break
		}
		if err != nil {
			return fmt.Errorf("afxdp: socket for %s queue %d: %w", ifname, q, err)
		}
		if copyMode {
			bind = "copy"
		}
		d.socks = append(d.socks, s)
		if err := d.xsks.Put(uint32(q), uint32(s.fd)); err != nil {
			return fmt.Errorf("afxdp: register socket of queue %d: %w", q, err)
		}
		d.pfd = append(d.pfd, unix.PollFd{Fd: int32(s.fd), Events: unix.POLLIN})
	}
	d.mode = mode + "-" + bind
	if d.evfd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	d.pfd = append(d.pfd, unix.PollFd{Fd: int32(d.evfd), Events: unix.POLLIN})
	return d.watchNetlink()
}

// xdpInterface is the configured interface, or the only interface that is
// up, not loopback and has an address that is not link-local.
func xdpInterface(name string) (string, error) {
	if name != "" {
		return name, nil
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("afxdp: list interfaces: %w", err)
	}
	var found []string
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		// Link-local addresses do not count: the port of a bridge or
		// the lower device of a macvlan or VXLAN has one, and the probe
		// address sits on the upper device, where the frames must go.
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLinkLocalUnicast() {
				found = append(found, ifi.Name)
				break
			}
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("afxdp attaches to one interface: set engine.interface (interfaces up with addresses: %s)", strings.Join(found, ", "))
	}
	return found[0], nil
}

func openXSK(ifindex, queue int) (*xsk, bool, error) {
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, false, fmt.Errorf("open AF_XDP socket: %w", err)
	}
	s := &xsk{fd: fd}
	fail := func(err error) (*xsk, bool, error) { s.close(); return nil, false, err }
	s.umem, err = unix.Mmap(-1, 0, xskFrames*xskFrameSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return fail(fmt.Errorf("map UMEM: %w", err))
	}
	reg := unix.XDPUmemReg{Addr: uint64(uintptr(unsafe.Pointer(&s.umem[0]))), Len: uint64(len(s.umem)), Size: xskFrameSize}
	if _, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_XDP, unix.XDP_UMEM_REG,
		uintptr(unsafe.Pointer(&reg)), unsafe.Sizeof(reg), 0); e != 0 {
		return fail(fmt.Errorf("register UMEM: %w", e))
	}
	for _, o := range []int{unix.XDP_UMEM_FILL_RING, unix.XDP_UMEM_COMPLETION_RING, unix.XDP_RX_RING, unix.XDP_TX_RING} {
		if err := unix.SetsockoptInt(fd, unix.SOL_XDP, o, xskRingSize); err != nil {
			return fail(fmt.Errorf("size XSK ring %d: %w", o, err))
		}
	}
	var off unix.XDPMmapOffsets
	ol := uint32(unsafe.Sizeof(off))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_XDP, unix.XDP_MMAP_OFFSETS,
		uintptr(unsafe.Pointer(&off)), uintptr(unsafe.Pointer(&ol)), 0); e != 0 {
		return fail(fmt.Errorf("XSK ring offsets: %w", e))
	}
	mapRing := func(r *xskRing, o unix.XDPRingOffset, pgoff int64, descSize uintptr) error {
		m, err := unix.Mmap(fd, pgoff, int(o.Desc+uint64(xskRingSize)*uint64(descSize)), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			return fmt.Errorf("map XSK ring: %w", err)
		}
		s.mmaps = append(s.mmaps, m)
		base := unsafe.Pointer(&m[0])
		*r = xskRing{prod: (*uint32)(unsafe.Add(base, o.Producer)), cons: (*uint32)(unsafe.Add(base, o.Consumer)),
			flags: (*uint32)(unsafe.Add(base, o.Flags)), descs: unsafe.Add(base, o.Desc), mask: xskRingSize - 1}
		return nil
	}
	descSize := unsafe.Sizeof(unix.XDPDesc{})
	if err := errors.Join(
		mapRing(&s.fill, off.Fr, unix.XDP_UMEM_PGOFF_FILL_RING, 8),
		mapRing(&s.comp, off.Cr, unix.XDP_UMEM_PGOFF_COMPLETION_RING, 8),
		mapRing(&s.rx, off.Rx, unix.XDP_PGOFF_RX_RING, descSize),
		mapRing(&s.tx, off.Tx, unix.XDP_PGOFF_TX_RING, descSize)); err != nil {
		return fail(err)
	}
	// Lend the first half of the frames to the kernel for receiving.
	for i := uint32(0); i < xskFrames/2; i++ {
		*s.fill.addr(i) = uint64(i) * xskFrameSize
	}
	atomic.StoreUint32(s.fill.prod, xskFrames/2)
	s.txFree = make([]uint64, 0, xskFrames/2)
	for i := uint64(xskFrames / 2); i < xskFrames; i++ {
		s.txFree = append(s.txFree, i*xskFrameSize)
	}
	s.held = make([]uint64, 0, xskRingSize)
	copyMode := false
	err = unix.Bind(fd, &unix.SockaddrXDP{Flags: unix.XDP_ZEROCOPY, Ifindex: uint32(ifindex), QueueID: uint32(queue)})
	if err != nil {
		copyMode = true
		err = unix.Bind(fd, &unix.SockaddrXDP{Flags: unix.XDP_COPY, Ifindex: uint32(ifindex), QueueID: uint32(queue)})
	}
	if err != nil {
		return fail(fmt.Errorf("bind AF_XDP socket: %w", err))
	}
	return s, copyMode, nil
}

func (s *xsk) close() {
	if s.fd >= 0 {
		unix.Close(s.fd)
		s.fd = -1
	}
	for _, m := range s.mmaps {
		_ = unix.Munmap(m)
	}
	s.mmaps = nil
	if s.umem != nil {
		_ = unix.Munmap(s.umem)
		s.umem = nil
	}
}

// watchNetlink bumps gen whenever a route or a neighbour changes, so the
// sender re-reads them; the subscription sockets are opened here, in the
// network namespace the datapath is opened in.
func (d *afXDP) watchNetlink() error {
	rch := make(chan netlink.RouteUpdate, 64)
	nch := make(chan netlink.NeighUpdate, 64)
	if err := netlink.RouteSubscribe(rch, d.nlDone); err != nil {
		return fmt.Errorf("afxdp: subscribe to route changes: %w", err)
	}
	if err := netlink.NeighSubscribe(nch, d.nlDone); err != nil {
		return fmt.Errorf("afxdp: subscribe to neighbour changes: %w", err)
	}
	d.gen.Store(1)
	go func() {
		for {
			select {
			case _, ok := <-rch:
				if !ok {
					return
				}
			case _, ok := <-nch:
				if !ok {
					return
				}
			}
			d.gen.Add(1)
		}
	}()
	return nil
}

// kernelDrops sums the frames the kernel could not hand to our sockets
// (RX ring full, no fill-ring frame, or dropped), from XDP_STATISTICS.
func (d *afXDP) kernelDrops() uint64 {
	if d.closed.Load() {
		return 0
	}
	var n uint64
	for _, s := range d.socks {
		var st unix.XDPStatistics
		l := uint32(unsafe.Sizeof(st))
		if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(s.fd), unix.SOL_XDP, unix.XDP_STATISTICS,
			uintptr(unsafe.Pointer(&st)), uintptr(unsafe.Pointer(&l)), 0); e == 0 {
			n += st.Rx_dropped + st.Rx_ring_full
		}
	}
	return n
}

func (d *afXDP) Info() DatapathInfo { return d.info }

// refresh re-reads the neighbour table after a netlink change and forgets
// cached routes. Called with mu held.
func (d *afXDP) refresh() {
	g := d.gen.Load()
	if g == d.seenGen {
		return
	}
	d.seenGen = g
	clear(d.routes)
	clear(d.neigh)
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		ns, err := d.nl.NeighList(d.ifindex, fam)
		if err != nil {
			continue
		}
		for _, n := range ns {
			if len(n.HardwareAddr) != 6 || n.State&(netlink.NUD_REACHABLE|netlink.NUD_STALE|netlink.NUD_DELAY|netlink.NUD_PROBE|netlink.NUD_PERMANENT) == 0 {
				continue
			}
			if a, ok := netip.AddrFromSlice(n.IP); ok {
				d.neigh[a.Unmap()] = n.HardwareAddr
			}
		}
	}
}

// route finds dst's next hop, asking the kernel on a cache miss. Called
// with mu held.
func (d *afXDP) route(dst netip.Addr) hop {
	if h, ok := d.routes[dst]; ok {
		return h
	}
	var h hop
	if rs, err := d.nl.RouteGet(dst.AsSlice()); err == nil && len(rs) > 0 {
		r := rs[0]
		h.local = r.LinkIndex == d.ifindex && r.Type == unix.RTN_UNICAST
		h.via = dst
		if gw, ok := netip.AddrFromSlice(r.Gw); ok && gw.IsValid() && !gw.IsUnspecified() {
			h.via = gw.Unmap()
		}
		if src, ok := netip.AddrFromSlice(r.Src); ok {
			h.src = src.Unmap()
		}
		if !h.src.IsValid() {
			h.local = false
		}
	}
	d.routes[dst] = h
	return h
}

// Send writes a frame for every probe whose next hop is known into the TX
// ring, kicks the kernel, and sends the rest through the raw sockets.
func (d *afXDP) Send(pkts []Packet) (int, error) {
	if d.closed.Load() {
		return 0, net.ErrClosed
	}
	s := d.socks[0]
	s.reclaim()
	d.mu.Lock()
	d.refresh()
	d.slowPkts, d.slowIdx = d.slowPkts[:0], d.slowIdx[:0]
	queued := 0
	prod := *s.tx.prod
	for i := range pkts {
		p := &pkts[i]
		p.Failed = false
		dst := p.Dst.Unmap()
		h := d.route(dst)
		mac, ok := d.neigh[h.via]
		if !h.local || !ok || len(s.txFree) == 0 || 14+40+len(p.Buf) > xskFrameSize || 14+40+len(p.Buf) > d.mtu+14 {
			d.slowPkts = append(d.slowPkts, *p)
			d.slowIdx = append(d.slowIdx, i)
			continue
		}
		addr := s.txFree[len(s.txFree)-1]
		s.txFree = s.txFree[:len(s.txFree)-1]
		n := d.frame(s.umem[addr:addr+xskFrameSize], mac, h.src, dst, p)
		*s.tx.desc(prod) = unix.XDPDesc{Addr: addr, Len: uint32(n)}
		prod++
		queued++
	}
	d.mu.Unlock()
	var lastErr error
	if queued > 0 {
		atomic.StoreUint32(s.tx.prod, prod)
		lastErr = s.kick()
	}
	sent := queued
	if len(d.slowPkts) > 0 {
		n, err := d.slow.Send(d.slowPkts)
		sent += n
		if err != nil {
			lastErr = err
		}
		for k, i := range d.slowIdx {
			pkts[i].Failed = d.slowPkts[k].Failed
		}
	}
	return sent, lastErr
}

// frame writes the Ethernet frame of p into b and returns its length.
func (d *afXDP) frame(b []byte, mac net.HardwareAddr, src, dst netip.Addr, p *Packet) int {
	copy(b[0:6], mac)
	copy(b[6:12], d.mac)
	if dst.Is4() {
		binary.BigEndian.PutUint16(b[12:], 0x0800)
		ip := b[14:34]
		ttl := p.TTL
		if ttl <= 0 {
			ttl = 64
		}
		tot := 20 + len(p.Buf)
		ip[0], ip[1] = 0x45, byte(p.TOS)
		binary.BigEndian.PutUint16(ip[2:], uint16(tot))
		binary.BigEndian.PutUint16(ip[4:], 0)      // id
		binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF
		ip[8], ip[9] = byte(ttl), 1
		ip[10], ip[11] = 0, 0
		s4, d4 := src.As4(), dst.As4()
		copy(ip[12:16], s4[:])
		copy(ip[16:20], d4[:])
		binary.BigEndian.PutUint16(ip[10:], checksum(ip))
		copy(b[34:], p.Buf)
		return 14 + tot
	}
	binary.BigEndian.PutUint16(b[12:], 0x86dd)
	ip := b[14:54]
	hl := p.TTL
	if hl <= 0 {
		hl = 64
	}
	ip[0], ip[1], ip[2], ip[3] = 0x60|byte(p.TOS>>4), byte(p.TOS<<4), 0, 0
	binary.BigEndian.PutUint16(ip[4:], uint16(len(p.Buf)))
	ip[6], ip[7] = 58, byte(hl)
	s16, d16 := src.As16(), dst.As16()
	copy(ip[8:24], s16[:])
	copy(ip[24:40], d16[:])
	msg := b[54 : 54+len(p.Buf)]
	copy(msg, p.Buf)
	msg[2], msg[3] = 0, 0
	// ICMPv6 checksum: the pseudo-header (addresses, length, next header)
	// and the message, summed like frame.go verifies it.
	cs := fold(sum16(msg, sum16(ip[8:40], uint64(len(msg))+58)))
	msg[2], msg[3] = byte(cs>>8), byte(cs)
	return 54 + len(p.Buf)
}

// reclaim takes sent frames back from the completion ring.
func (s *xsk) reclaim() {
	cons := *s.comp.cons
	prod := atomic.LoadUint32(s.comp.prod)
	for ; cons != prod; cons++ {
		s.txFree = append(s.txFree, *s.comp.addr(cons))
	}
	atomic.StoreUint32(s.comp.cons, cons)
}

// kick makes the kernel transmit what the TX ring holds. In copy mode one
// sendto sends a bounded batch, so it repeats until the ring is drained
// (bounded: a ring's worth of rounds).
func (s *xsk) kick() error {
	for range xskRingSize / 16 {
		_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(s.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0, unix.EAGAIN, unix.EBUSY, unix.ENOBUFS:
		default:
			return fmt.Errorf("afxdp send: %w", e)
		}
		if atomic.LoadUint32(s.tx.cons) == *s.tx.prod {
			return nil
		}
	}
	return fmt.Errorf("afxdp send: TX ring not drained: %w", unix.EAGAIN)
}

// Recv returns frames from the RX rings. The frames handed out by the
// previous call go back to the fill rings first (Received.Buf is valid only
// until the next Recv).
func (d *afXDP) Recv(msgs []Received) (int, error) {
	d.everRecv.Store(true) // before reading closed: pairs with Close
	return pollRecv(msgs, &d.closed, d.release, d.read, d.pfd, "AF_XDP sockets")
}

// recvNow returns what the RX rings hold without blocking
// (polledReceiver). It runs in the engine's sender goroutine, and never
// after Close, which then frees the sockets itself.
func (d *afXDP) recvNow(msgs []Received) (int, bool, error) {
	if d.closed.Load() {
		return 0, true, net.ErrClosed
	}
	n := d.read(msgs)
	return n, d.rxEmpty(), nil
}

// read lends the frames of the previous read back to the kernel, then
// decodes what the RX rings hold into msgs.
func (d *afXDP) read(msgs []Received) int {
	for _, s := range d.socks {
		s.refill()
	}
	var mono, wall unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono)
	_ = unix.ClockGettime(unix.CLOCK_REALTIME, &wall)
	offset := wall.Nano() - mono.Nano()
	n := 0
	for _, s := range d.socks {
		cons := *s.rx.cons
		prod := atomic.LoadUint32(s.rx.prod)
		for ; cons != prod && n < len(msgs); cons++ {
			desc := *s.rx.desc(cons)
			s.held = append(s.held, desc.Addr)
			if desc.Len < 14 || desc.Addr+uint64(desc.Len) > uint64(len(s.umem)) {
				continue
			}
			frame := s.umem[desc.Addr : desc.Addr+uint64(desc.Len)]
			var stamp int64 // none: the engine falls back to user-space stamps
			if desc.Addr%xskFrameSize >= xskMetaLen {
				meta := s.umem[desc.Addr-xskMetaLen : desc.Addr]
				if binary.NativeEndian.Uint64(meta) == xdpMetaMagic {
					stamp = int64(binary.NativeEndian.Uint64(meta[8:])) + offset
				}
			}
			if decodeFrame(&msgs[n], frame[14:], false, stamp) {
				n++
			}
		}
		atomic.StoreUint32(s.rx.cons, cons)
	}
	return n
}

func (d *afXDP) rxEmpty() bool {
	for _, s := range d.socks {
		if *s.rx.cons != atomic.LoadUint32(s.rx.prod) {
			return false
		}
	}
	return true
}

// refill lends the frames returned by the previous Recv back to the kernel.
func (s *xsk) refill() {
	if len(s.held) == 0 {
		return
	}
	prod := *s.fill.prod
	for _, a := range s.held {
		*s.fill.addr(prod) = a - a%xskFrameSize
		prod++
	}
	atomic.StoreUint32(s.fill.prod, prod)
	s.held = s.held[:0]
}

func (d *afXDP) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	wakeEventfd(d.evfd)
	// Give the interface back to the kernel at once.
	if d.lnk != nil {
		d.lnk.Close()
	}
	// The receiver may still be processing frames that point into the UMEM
	// (Received.Buf): it frees everything when it next calls Recv. Only if
	// no receiver ever ran do we free here. closed is stored before
	// everRecv is loaded, and Recv stores everRecv before loading closed,
	// so one of the two always sees the other (sequentially consistent
	// atomics).
	if !d.everRecv.Load() {
		d.release()
	}
	return nil
}

// release detaches the program and frees sockets, maps and memory.
func (d *afXDP) release() {
	d.freed.Do(func() {
		if d.lnk != nil {
			d.lnk.Close()
		}
		close(d.nlDone)
		for _, s := range d.socks {
			s.close()
		}
		if d.prog != nil {
			d.prog.Close()
		}
		if d.xsks != nil {
			d.xsks.Close()
		}
		if d.nl != nil {
			d.nl.Close()
		}
		if d.evfd >= 0 {
			unix.Close(d.evfd)
		}
		d.slow.Close()
		d.slow.closeFDs()
	})
}
