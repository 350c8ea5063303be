//go:build linux

package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Kernel ABI constants not (all) named in x/sys/unix.
const (
	solRaw                = 255 // SOL_RAW
	icmpFilter            = 1   // ICMP_FILTER (linux/icmp.h)
	icmp6Filter           = 1   // ICMP6_FILTER (linux/icmpv6.h)
	eeOriginICMP          = 2   // SO_EE_ORIGIN_ICMP
	eeOriginICMP6         = 3   // SO_EE_ORIGIN_ICMP6
	eeOriginTimestamp     = 4   // SO_EE_ORIGIN_TIMESTAMPING
	sizeofSockExtendedErr = int(unsafe.Sizeof(unix.SockExtendedErr{}))
	rxBufSize             = 2048
	ctlBufSize            = 256
	sockBufBytes          = 8 << 20
)

// icmpSock is one ICMP socket (ping or raw) of one address family.
type icmpSock struct {
	fd    int
	v6    bool
	ping  bool
	drops atomic.Uint64 // last SO_RXQ_OVFL value seen
	// noFrag is set while an IPv4 socket sends with IP_PMTUDISC_DO (see
	// maxNoFragV4); pmtuMode is its IP_MTU_DISCOVER mode before that.
	// Sender goroutine only.
	noFrag   bool
	pmtuMode int
}

// maxNoFragV4 is the largest IPv4 packet that no link fragments: every
// link carries 68 bytes (RFC 791). An IPv4 socket sends with
// IP_PMTUDISC_DO until a larger packet comes: the kernel then gives the
// packet IP ID 0 (DF set) instead of drawing one from its shared ID
// generator (__ip_select_ident: 2-3 % of the sending thread at 100 000
// probes/s in the lab). On the wire nothing else changes: with the default
// IP_PMTUDISC_WANT such a packet leaves with DF set as well. The default
// probe is 46 bytes.
const maxNoFragV4 = 68

// sendNoFrag makes IPv4 socket s send with IP_PMTUDISC_DO when it can.
func (s *icmpSock) sendNoFrag() {
	if s.v6 {
		return
	}
	mode, err := unix.GetsockoptInt(s.fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER)
	if err != nil {
		return
	}
	if unix.SetsockoptInt(s.fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO) == nil {
		s.noFrag, s.pmtuMode = true, mode
	}
}

// mayFrag gives s its own IP_MTU_DISCOVER mode back for good, before the
// first packet that a link might have to fragment is sent. It is tried
// once: should the kernel refuse, such packets fail and count as send
// errors rather than cost a syscall each.
func (s *icmpSock) mayFrag() {
	s.noFrag = false
	_ = unix.SetsockoptInt(s.fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, s.pmtuMode)
}

// icmpDatapath sends and receives over ping sockets (SOCK_DGRAM,
// IPPROTO_ICMP) or raw sockets, one per address family, batched with
// sendmmsg and recvmmsg. The send side is used by one goroutine and the
// receive side by one goroutine (the engine's loop for both when it reads
// with recvNow), so each side owns its buffers without locks.
type icmpDatapath struct {
	s4, s6 *icmpSock
	evfd   int // eventfd that wakes the receiver on Close
	info   DatapathInfo
	closed atomic.Bool
	inRecv atomic.Bool
	fdOnce sync.Once

	ppfds []unix.PollFd // recvNow only (sender goroutine): the sockets without the eventfd

	// send side
	zones  map[string]uint32 // interface index of each IPv6 zone seen
	smsgs  []unix.Mmsghdr
	siov   []unix.Iovec
	snames []unix.RawSockaddrInet6
	sctl   []byte

	// receive side
	pfds  []unix.PollFd
	socks []*icmpSock
	rmsgs []unix.Mmsghdr
	riov  []unix.Iovec
	rname []unix.RawSockaddrInet6
	rbuf  []byte
	rctl  []byte
}

var _ Datapath = (*icmpDatapath)(nil)

func openICMP(es EngineSpec) (Datapath, error) {
	d, err := openICMPWith(es, false)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// openICMPWith opens the icmp datapath; sendOnly opens raw sockets that
// receive nothing and take no timestamps (the afpacket datapath sends
// through them and receives on its ring).
func openICMPWith(es EngineSpec, sendOnly bool) (*icmpDatapath, error) {
	d := &icmpDatapath{evfd: -1}
	mode := ""
	var err4, err6 error
	d.s4, err4 = openICMPSock(false, es, &mode, sendOnly)
	d.s6, err6 = openICMPSock(true, es, &mode, sendOnly)
	if d.s4 == nil && d.s6 == nil {
		return nil, errors.Join(err4, err6)
	}
	if d.s4 == nil && !errors.Is(err4, unix.EAFNOSUPPORT) {
		d.Close()
		return nil, err4
	}
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	d.evfd = fd
	d.info = DatapathInfo{Name: DatapathICMP, Mode: mode, TimestampSource: TimestampKernelTXRX}
	d.info.ID4, d.info.ID6 = uint16(rand.Uint32()), uint16(rand.Uint32())
	for _, s := range []*icmpSock{d.s4, d.s6} {
		if s == nil {
			continue
		}
		if s.ping {
			sa, err := unix.Getsockname(s.fd)
			if err != nil {
				d.Close()
				return nil, fmt.Errorf("getsockname of ping socket: %w", err)
			}
			switch a := sa.(type) {
			case *unix.SockaddrInet4:
				d.info.ID4 = uint16(a.Port)
			case *unix.SockaddrInet6:
				d.info.ID6 = uint16(a.Port)
			}
		}
		d.socks = append(d.socks, s)
		d.pfds = append(d.pfds, unix.PollFd{Fd: int32(s.fd), Events: unix.POLLIN})
	}
	d.ppfds = append([]unix.PollFd(nil), d.pfds...)
	d.pfds = append(d.pfds, unix.PollFd{Fd: int32(d.evfd), Events: unix.POLLIN})
	if sendOnly {
		d.info.Mode = "raw-send"
	}
	d.info.Drops = func() uint64 {
		var n uint64
		for _, s := range d.socks {
			n += s.drops.Load()
		}
		return n
	}
	d.initBuffers()
	return d, nil
}

// openICMPSock opens a ping socket, or a raw socket when ping sockets are
// not permitted. mode collects "ping" / "raw" for DatapathInfo.Mode.
func openICMPSock(v6 bool, es EngineSpec, mode *string, sendOnly bool) (*icmpSock, error) {
	family, proto, src := unix.AF_INET, unix.IPPROTO_ICMP, es.SourceV4
	if v6 {
		family, proto, src = unix.AF_INET6, unix.IPPROTO_ICMPV6, es.SourceV6
	}
	s := &icmpSock{v6: v6, ping: true}
	fd, pingErr := -1, error(unix.EPERM)
	if !sendOnly {
		fd, pingErr = unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, proto)
	}
	if pingErr != nil {
		s.ping = false
		var rawErr error
		fd, rawErr = unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if rawErr != nil {
			if errors.Is(pingErr, unix.EAFNOSUPPORT) {
				return nil, fmt.Errorf("open ICMP socket: %w", pingErr)
			}
			return nil, errNoICMP(pingErr, rawErr)
		}
	}
	s.fd = fd
	if err := s.setup(es, src, sendOnly); err != nil {
		unix.Close(fd)
		return nil, err
	}
	s.sendNoFrag()
	m := "raw"
	if s.ping {
		m = "ping"
	}
	if *mode == "" {
		*mode = m
	} else if *mode != m {
		*mode += "+" + m
	}
	return s, nil
}

func (s *icmpSock) setup(es EngineSpec, src netip.Addr, sendOnly bool) error {
	fd := s.fd
	if sendOnly {
		return s.setupSendOnly(es, src)
	}
	// Large buffers: at 100k probes/s a few ms of scheduling delay must not drop replies.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, sockBufBytes) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, sockBufBytes)
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sockBufBytes) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sockBufBytes)
	}
	setSendTimeout(fd)
	// Software RX and TX timestamps (CLOCK_REALTIME) for every packet; TX
	// stamps come back on the error queue with the packet attached, so we
	// match them by the probe's serial (no OPT_ID counter to keep in step).
	flags := unix.SOF_TIMESTAMPING_SOFTWARE | unix.SOF_TIMESTAMPING_RX_SOFTWARE | unix.SOF_TIMESTAMPING_TX_SOFTWARE
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPING, flags); err != nil {
		return fmt.Errorf("enable SO_TIMESTAMPING: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1)
	if es.Interface != "" {
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, es.Interface); err != nil {
			return fmt.Errorf("bind ICMP socket to interface %s: %w", es.Interface, err)
		}
	}
	if s.v6 {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1)
		if s.ping {
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVERR, 1)
		} else {
			// Pass echo replies and the errors that quote probes; block the rest.
			var filt [8]uint32
			for i := range filt {
				filt[i] = 0xffffffff
			}
			for _, t := range append(failTypes(true), icmpv6EchoReply) {
				filt[t>>5] &^= 1 << (uint(t) & 31)
			}
			b := unsafe.Slice((*byte)(unsafe.Pointer(&filt[0])), 32)
			if err := unix.SetsockoptString(fd, unix.IPPROTO_ICMPV6, icmp6Filter, string(b)); err != nil {
				return fmt.Errorf("set ICMP6_FILTER: %w", err)
			}
		}
	} else {
		if s.ping {
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVTTL, 1)
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVERR, 1)
		} else {
			var pass uint32 = 1 << icmpv4EchoReply
			for _, t := range failTypes(false) {
				pass |= 1 << t
			}
			if err := unix.SetsockoptInt(fd, solRaw, icmpFilter, int(^pass)); err != nil {
				return fmt.Errorf("set ICMP_FILTER: %w", err)
			}
		}
	}
	if src.IsValid() || s.ping {
		var sa unix.Sockaddr
		if s.v6 {
			a := &unix.SockaddrInet6{}
			if src.IsValid() {
				a.Addr = src.As16()
			}
			sa = a
		} else {
			a := &unix.SockaddrInet4{}
			if src.IsValid() {
				a.Addr = src.As4()
			}
			sa = a
		}
		if err := unix.Bind(fd, sa); err != nil {
			return fmt.Errorf("bind ICMP socket to %s: %w", src, err)
		}
	}
	return nil
}

// setupSendOnly makes a raw socket that sends and receives nothing: every
// ICMP type is filtered out of its receive queue.
func (s *icmpSock) setupSendOnly(es EngineSpec, src netip.Addr) error {
	fd := s.fd
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sockBufBytes) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sockBufBytes)
	}
	setSendTimeout(fd)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 0)
	if es.Interface != "" {
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, es.Interface); err != nil {
			return fmt.Errorf("bind ICMP socket to interface %s: %w", es.Interface, err)
		}
	}
	if s.v6 {
		var filt [8]uint32
		for i := range filt {
			filt[i] = 0xffffffff
		}
		b := unsafe.Slice((*byte)(unsafe.Pointer(&filt[0])), 32)
		if err := unix.SetsockoptString(fd, unix.IPPROTO_ICMPV6, icmp6Filter, string(b)); err != nil {
			return fmt.Errorf("set ICMP6_FILTER: %w", err)
		}
	} else if err := unix.SetsockoptInt(fd, solRaw, icmpFilter, -1); err != nil {
		return fmt.Errorf("set ICMP_FILTER: %w", err)
	}
	if src.IsValid() {
		var sa unix.Sockaddr = &unix.SockaddrInet4{Addr: src.As4()}
		if s.v6 {
			sa = &unix.SockaddrInet6{Addr: src.As16()}
		}
		if err := unix.Bind(fd, sa); err != nil {
			return fmt.Errorf("bind ICMP socket to %s: %w", src, err)
		}
	}
	return nil
}

// sendTimeout bounds how long one sendmmsg may block on a full send
// buffer, so the sender (and with it Engine.Close) never hangs in the
// kernel; packets that time out count as send errors.
const sendTimeout = 200 * time.Millisecond

func setSendTimeout(fd int) {
	tv := unix.NsecToTimeval(int64(sendTimeout))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
}

func (d *icmpDatapath) initBuffers() {
	d.smsgs = make([]unix.Mmsghdr, sendBatch)
	d.siov = make([]unix.Iovec, sendBatch)
	d.snames = make([]unix.RawSockaddrInet6, sendBatch)
	d.sctl = make([]byte, sendBatch*2*unix.CmsgSpace(4))
	d.rmsgs = make([]unix.Mmsghdr, recvBatch)
	d.riov = make([]unix.Iovec, recvBatch)
	d.rname = make([]unix.RawSockaddrInet6, recvBatch)
	d.rbuf = make([]byte, recvBatch*rxBufSize)
	d.rctl = make([]byte, recvBatch*ctlBufSize)
}

func (d *icmpDatapath) Info() DatapathInfo { return d.info }

func (d *icmpDatapath) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	wakeEventfd(d.evfd)
	// A receiver inside poll is woken by the eventfd and closes the fds on
	// its way out, so no fd is closed (and its number reused) under it.
	if !d.inRecv.Load() {
		d.closeFDs()
	}
	return nil
}

func (d *icmpDatapath) closeFDs() {
	d.fdOnce.Do(func() {
		for _, s := range []*icmpSock{d.s4, d.s6} {
			if s != nil {
				unix.Close(s.fd)
			}
		}
		if d.evfd >= 0 {
			unix.Close(d.evfd)
		}
	})
}

// Send transmits pkts with one sendmmsg per run of packets of one family.
func (d *icmpDatapath) Send(pkts []Packet) (int, error) {
	if d.closed.Load() {
		return 0, net.ErrClosed
	}
	sent := 0
	var lastErr error
	for i := 0; i < len(pkts); {
		v6 := pkts[i].Dst.Is6() && !pkts[i].Dst.Is4In6()
		j := i
		for j < len(pkts) && (pkts[j].Dst.Is6() && !pkts[j].Dst.Is4In6()) == v6 {
			j++
		}
		s := d.s4
		if v6 {
			s = d.s6
		}
		if s == nil {
			for k := i; k < j; k++ {
				pkts[k].Failed = true
			}
			lastErr = fmt.Errorf("no socket for this address family: %w", ErrNotSupported)
			i = j
			continue
		}
		n, err := d.sendRun(s, pkts[i:j])
		sent += n
		if err != nil {
			lastErr = err
		}
		i = j
	}
	return sent, lastErr
}

func (d *icmpDatapath) sendRun(s *icmpSock, pkts []Packet) (int, error) {
	ctl := d.sctl[:0]
	for k := range pkts {
		p := &pkts[k]
		p.Failed = false
		m := &d.smsgs[k]
		*m = unix.Mmsghdr{}
		name := &d.snames[k]
		if s.v6 {
			*name = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: p.Dst.As16(), Scope_id: d.zoneIndex(s.fd, p.Dst.Zone())}
			m.Hdr.Namelen = unix.SizeofSockaddrInet6
		} else {
			sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(name))
			*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: p.Dst.Unmap().As4()}
			m.Hdr.Namelen = unix.SizeofSockaddrInet4
		}
		m.Hdr.Name = (*byte)(unsafe.Pointer(name))
		d.siov[k] = unix.Iovec{Base: unsafe.SliceData(p.Buf)}
		d.siov[k].SetLen(len(p.Buf))
		m.Hdr.Iov = &d.siov[k]
		m.Hdr.Iovlen = 1
		if s.noFrag && len(p.Buf) > maxNoFragV4-ipHeaderLen(false) {
			s.mayFrag()
		}
		start := len(ctl)
		if p.TTL > 0 {
			lvl, typ := unix.IPPROTO_IP, unix.IP_TTL
			if s.v6 {
				lvl, typ = unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT
			}
			ctl = appendCmsgInt(ctl, lvl, typ, p.TTL)
		}
		if p.TOS > 0 {
			lvl, typ := unix.IPPROTO_IP, unix.IP_TOS
			if s.v6 {
				lvl, typ = unix.IPPROTO_IPV6, unix.IPV6_TCLASS
			}
			ctl = appendCmsgInt(ctl, lvl, typ, p.TOS)
		}
		if len(ctl) > start {
			m.Hdr.Control = &ctl[start]
			m.Hdr.SetControllen(len(ctl) - start)
		}
	}
	sent := 0
	var lastErr error
	retried := -1
	for i := 0; i < len(pkts); {
		// First without blocking, as a raw syscall: the Go scheduler then
		// does not hand this thread's P to another thread while the kernel
		// sends (and, on a veth, processes the replies). Only a full send
		// buffer takes the blocking path (bounded by sendTimeout).
		r, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&d.smsgs[i])), uintptr(len(pkts)-i), unix.MSG_DONTWAIT, 0, 0)
		if errno == unix.EAGAIN {
			r, _, errno = unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&d.smsgs[i])), uintptr(len(pkts)-i), 0, 0, 0)
		}
		switch {
		case errno == unix.EINTR:
			continue
		case errno != 0 && retried != i:
			// An ICMP error received for an earlier probe leaves a pending
			// socket error (sk_err, set with IP_RECVERR and for hard errors)
			// that the next send returns instead of sending: the packet at
			// i may be fine. Try it once more; a real failure repeats.
			retried = i
		case errno != 0:
			pkts[i].Failed = true
			lastErr = fmt.Errorf("sendmmsg to %s: %w", pkts[i].Dst, errno)
			i++
		default:
			sent += int(r)
			i += int(r)
		}
	}
	return sent, lastErr
}

// zoneIndex returns the interface index of an IPv6 zone (a link-local
// target's "%eth0" or "%2"), 0 for none or an unknown interface (the send
// then fails and is counted). Names are looked up once per zone, with an
// ioctl on the socket: in the socket's network namespace.
func (d *icmpDatapath) zoneIndex(fd int, zone string) uint32 {
	if zone == "" {
		return 0
	}
	if i, ok := d.zones[zone]; ok {
		return i
	}
	var i uint32
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		i = uint32(n)
	} else if ifr, err := unix.NewIfreq(zone); err == nil && unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr) == nil {
		i = ifr.Uint32()
	}
	if d.zones == nil {
		d.zones = map[string]uint32{}
	}
	d.zones[zone] = i
	return i
}

// appendCmsgInt appends one control message carrying an int. It does not
// allocate when ctl has room.
func appendCmsgInt(ctl []byte, level, typ, v int) []byte {
	space := unix.CmsgSpace(4)
	start := len(ctl)
	ctl = ctl[:start+space]
	clear(ctl[start:])
	h := (*unix.Cmsghdr)(unsafe.Pointer(&ctl[start]))
	h.Level, h.Type = int32(level), int32(typ)
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(ctl[start+unix.CmsgLen(0):], uint32(v))
	return ctl
}

// Recv waits for packets on any socket, then reads each socket's error
// queue (TX timestamps, ICMP errors of ping sockets) before its receive
// queue, so a probe's TX stamp is always delivered before its reply.
func (d *icmpDatapath) Recv(msgs []Received) (int, error) {
	d.inRecv.Store(true)
	defer d.inRecv.Store(false)
	for {
		if d.closed.Load() {
			d.closeFDs()
			return 0, net.ErrClosed
		}
		for i := range d.pfds {
			d.pfds[i].Revents = 0
		}
		_, err := unix.Poll(d.pfds, -1)
		if d.closed.Load() {
			d.closeFDs()
			return 0, net.ErrClosed
		}
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return 0, fmt.Errorf("poll ICMP sockets: %w", err)
		}
		if n, _ := d.readReady(d.pfds, msgs); n > 0 {
			return n, nil
		}
	}
}

// recvNow reads what the sockets hold without blocking (polledReceiver).
func (d *icmpDatapath) recvNow(msgs []Received) (int, bool, error) {
	if d.closed.Load() {
		return 0, true, net.ErrClosed
	}
	for i := range d.ppfds {
		d.ppfds[i].Revents = 0
	}
	ready, err := pollNow(d.ppfds)
	switch {
	case errors.Is(err, unix.EINTR):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("poll ICMP sockets: %w", err)
	case ready == 0:
		return 0, true, nil
	}
	n, empty := d.readReady(d.ppfds, msgs)
	return n, empty, nil
}

// pollNow polls fds without waiting, as a raw syscall (it never blocks).
func pollNow(fds []unix.PollFd) (int, error) {
	var zero unix.Timespec
	n, _, errno := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)),
		uintptr(unsafe.Pointer(&zero)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// readReady reads the queues that pfds (whose first entries are d.socks)
// say are ready into msgs, error queue first. empty says every queue gave
// less than asked: they held no more.
func (d *icmpDatapath) readReady(pfds []unix.PollFd, msgs []Received) (n int, empty bool) {
	empty = true
	for i, s := range d.socks {
		ev := pfds[i].Revents
		for _, errq := range [2]bool{true, false} {
			if ev&unix.POLLERR == 0 && errq || ev&unix.POLLIN == 0 && !errq {
				continue
			}
			if n == len(msgs) {
				return n, false
			}
			got, full := d.recvFrom(s, msgs, n, errq)
			n += got
			empty = empty && !full
		}
	}
	return n, empty
}

// recvFrom reads packets from one queue of s without blocking into
// msgs[base:], using the receive buffers from slot base on. full says it
// got as many as it asked for (the queue may hold more).
func (d *icmpDatapath) recvFrom(s *icmpSock, msgs []Received, base int, errq bool) (n int, full bool) {
	k := min(len(msgs), len(d.rmsgs)) - base
	for i := base; i < base+k; i++ {
		m := &d.rmsgs[i]
		*m = unix.Mmsghdr{}
		d.riov[i] = unix.Iovec{Base: &d.rbuf[i*rxBufSize]}
		d.riov[i].SetLen(rxBufSize)
		m.Hdr.Iov = &d.riov[i]
		m.Hdr.Iovlen = 1
		d.rname[i].Family = 0
		m.Hdr.Name = (*byte)(unsafe.Pointer(&d.rname[i]))
		m.Hdr.Namelen = unix.SizeofSockaddrInet6
		m.Hdr.Control = &d.rctl[i*ctlBufSize]
		m.Hdr.SetControllen(ctlBufSize)
	}
	flags := unix.MSG_DONTWAIT
	if errq {
		flags |= unix.MSG_ERRQUEUE
	}
	// MSG_DONTWAIT: it never blocks, so a raw syscall (see sendRun).
	r, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&d.rmsgs[base])), uintptr(k), uintptr(flags), 0, 0)
	if errno != 0 {
		return 0, false
	}
	out := base
	for i := base; i < base+int(r); i++ {
		m := &d.rmsgs[i]
		data := d.rbuf[i*rxBufSize : i*rxBufSize+min(int(m.Len), rxBufSize)]
		ctl := d.rctl[i*ctlBufSize : i*ctlBufSize+int(m.Hdr.Controllen)]
		rc := &msgs[out]
		*rc = Received{V6: s.v6, TTL: -1, Src: sockaddrAddr(&d.rname[i])}
		if d.fill(s, rc, data, ctl, errq) {
			out++
		}
	}
	return out - base, int(r) == k
}

// fill turns one received datagram into rc; false drops it.
func (d *icmpDatapath) fill(s *icmpSock, rc *Received, data, ctl []byte, errq bool) bool {
	var ee *unix.SockExtendedErr
	var offender netip.Addr
	for len(ctl) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&ctl[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(ctl) {
			break
		}
		body := ctl[unix.CmsgLen(0):l]
		switch {
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPING && len(body) >= 16:
			sec := int64(binary.NativeEndian.Uint64(body[0:]))
			nsec := int64(binary.NativeEndian.Uint64(body[8:]))
			rc.KernelStamp = sec*1e9 + nsec
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && len(body) >= 4:
			s.drops.Store(uint64(binary.NativeEndian.Uint32(body)))
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_TTL && len(body) >= 4:
			rc.TTL = int(binary.NativeEndian.Uint32(body))
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_HOPLIMIT && len(body) >= 4:
			rc.TTL = int(binary.NativeEndian.Uint32(body))
		case (h.Level == unix.IPPROTO_IP && h.Type == unix.IP_RECVERR || h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_RECVERR) &&
			len(body) >= sizeofSockExtendedErr:
			ee = (*unix.SockExtendedErr)(unsafe.Pointer(&body[0]))
			if off := body[sizeofSockExtendedErr:]; len(off) >= unix.SizeofSockaddrInet4 {
				offender = sockaddrAddr((*unix.RawSockaddrInet6)(unsafe.Pointer(&off[0])))
			}
		}
		ctl = ctl[cmsgAlign(l):]
	}
	if errq {
		if ee == nil {
			return false
		}
		switch ee.Origin {
		case eeOriginTimestamp:
			msg, dst := findEcho(data, s.v6)
			if msg == nil || rc.KernelStamp == 0 {
				return false
			}
			rc.TxStamp, rc.Buf, rc.Src = true, msg, dst
			return true
		case eeOriginICMP, eeOriginICMP6:
			rc.FromErrQueue = true
			rc.QuotedDst, rc.Src = rc.Src, offender
			rc.ErrType, rc.ErrCode = ee.Type, ee.Code
			rc.Buf = data
			return true
		}
		return false
	}
	if !s.v6 && !s.ping {
		// Raw IPv4 sockets deliver the IP header, and deliver before the
		// kernel checks the ICMP checksum: decodeFrame strips the header,
		// takes the TTL and checks the checksum, as on the capture
		// datapaths. What it cannot decode is counted invalid.
		if !decodeFrame(rc, data, false, rc.KernelStamp) {
			rc.Buf = data[:0]
		}
		return true
	}
	rc.Buf = data
	return true
}

func cmsgAlign(l int) int {
	const a = int(unsafe.Sizeof(uintptr(0)))
	return (l + a - 1) &^ (a - 1)
}

// sockaddrAddr reads the address of a sockaddr_in or sockaddr_in6.
func sockaddrAddr(sa *unix.RawSockaddrInet6) netip.Addr {
	switch sa.Family {
	case unix.AF_INET:
		return netip.AddrFrom4((*unix.RawSockaddrInet4)(unsafe.Pointer(sa)).Addr)
	case unix.AF_INET6:
		return netip.AddrFrom16(sa.Addr).Unmap()
	}
	return netip.Addr{}
}

// findEcho locates our echo request inside a packet looped back with a TX
// timestamp and returns it with its destination: the kernel returns it with
// its headers down to the link layer, whose length depends on the device,
// so try the usual offsets for an IP header (ipHeader) that holds exactly
// one echo request.
func findEcho(data []byte, v6 bool) ([]byte, netip.Addr) {
	var h ipHeader
	for _, off := range [...]int{0, 14, 16, 18, 4} {
		if off >= len(data) {
			continue
		}
		p := data[off:]
		if h.parse(p) && h.v6 == v6 && h.total == len(p) && h.msg[0] == echoRequestType(v6) {
			return h.msg, h.dst
		}
	}
	return nil, netip.Addr{}
}
