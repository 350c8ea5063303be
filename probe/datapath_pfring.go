//go:build pfring && cgo

package probe

/*
#cgo LDFLAGS: -lpfring
#include <pfring.h>

#include <string.h>
#include <stdint.h>

// shutdownRing makes a blocked pfring_recv() return (after at most the poll
// duration) and every later one fail at once: pfring_shutdown() sets the
// ring's is_shutting_down and break_recv_loop flags, which pfring_recv checks
// on entry and after each poll.
static void shutdownRing(void *ring) { pfring_shutdown((pfring *)ring); }

// recvFrame reads one frame (blocking up to the poll duration when wait is
// set) and copies at most cap bytes of it into buf. It returns 1 with
// *caplen, *ns and *src set, 0 when no frame came, or pfring_recv's error.
// The capture time comes from the field the module filled: the extended
// header's timestamp_ns (the kernel module with PF_RING_TIMESTAMP or
// PF_RING_LONG_HEADER, hardware stamps) else ts (the pcap: module and
// others fill only it, in microseconds); *src says which: 2, 1, or 0 for
// none. (gopacket's pfring reads only timestamp_ns.)
static int recvFrame(void *ring, u_char *buf, u_int cap, u_int8_t wait, u_int32_t *caplen, int64_t *ns, int *src) {
	struct pfring_pkthdr hdr;
	u_char *p = NULL;
	memset(&hdr, 0, sizeof hdr);
	int rc = pfring_recv((pfring *)ring, &p, 0, &hdr, wait);
	if (rc <= 0) return rc;
	u_int32_t n = hdr.caplen < cap ? hdr.caplen : cap;
	if (p != NULL) memcpy(buf, p, n);
	*caplen = p != NULL ? n : 0;
	if (hdr.extended_hdr.timestamp_ns != 0) {
		*ns = (int64_t)hdr.extended_hdr.timestamp_ns;
		*src = 2;
	} else if (hdr.ts.tv_sec != 0 || hdr.ts.tv_usec != 0) {
		*ns = (int64_t)hdr.ts.tv_sec * 1000000000 + (int64_t)hdr.ts.tv_usec * 1000;
		*src = 1;
	} else {
		*ns = 0;
		*src = 0;
	}
	return 1;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/google/gopacket/pfring"
	"golang.org/x/sys/unix"
)

// PF_RING settings.
const (
	// pfRingSnap is the capture length: the Ethernet header with up to two
	// VLAN tags, then ringSnap bytes from the IP header (what afpacket keeps).
	pfRingSnap = 14 + 2*4 + ringSnap
	// pfRingPollMs bounds how long a blocked read takes to notice Close.
	pfRingPollMs = 100
	// pfRingErrPause slows a ring that keeps failing to one error per pause,
	// so the engine's receiver (which counts errors and calls Recv again)
	// cannot spin.
	pfRingErrPause = 10 * time.Millisecond
)

// errRingIdle is returned by ringSource.read when nothing arrived within the
// poll period; Recv then checks for Close and reads again.
var errRingIdle = errors.New("no packet")

// ringSource is what the pfring datapath needs of a capture ring: the PF_RING
// handle in production, a pcap handle or a fake in tests.
type ringSource interface {
	// start installs the BPF filter (pcap syntax, compiled by libpcap),
	// captures both directions and starts capturing.
	start(filter string) error
	// read returns the next frame (valid until the next read) and its
	// capture time in Unix ns (0 when the ring gave none). With wait it
	// blocks until a frame arrived or the poll period passed, without it
	// it returns at once; either way errRingIdle when there was no frame.
	read(wait bool) (frame []byte, stamp int64, err error)
	// drops reports the frames the ring dropped so far.
	drops() (uint64, error)
	// shutdown makes a blocked read return soon; safe from any goroutine.
	shutdown()
	// close frees the ring; never called while read runs.
	close()
}

// pfRing receives on a PF_RING ring bound to one Ethernet interface, behind
// a BPF filter that passes our echo requests and replies (by echo id) and
// ICMP errors, in both directions: PF_RING stamps every frame in the kernel,
// our requests on the way out and replies on the way in, which gives TX and
// RX stamps of one clock as with afpacket. Frames are told apart by source
// MAC: a frame whose source is the interface's own address left this host
// (see docs/pfring.md for why not by IP address). Sending goes through raw
// ICMP sockets with sendmmsg, as with afpacket.
//
// Recv returns every frame already queued, up to the batch, so the engine
// takes its lock once per batch, not per packet: one blocking read, then
// reads that do not wait. Each frame is copied out of the ring at once
// (PF_RING hands the slot back when it returns the next one).
type pfRing struct {
	tx   *icmpDatapath
	src  ringSource
	mac  [6]byte
	info DatapathInfo

	closed atomic.Bool
	inRecv atomic.Bool

	// mu orders shutdown, drops and close of src: none may run after close.
	mu        sync.Mutex
	released  bool
	lastDrops uint64

	bufs []byte // receiver goroutine only: the frames last returned, pfRingSnap bytes each
}

var _ Datapath = (*pfRing)(nil)

func openPFRing(es EngineSpec) (Datapath, error) {
	if es.Interface == "" {
		return nil, errors.New("pfring datapath: engine interface is required: name the PF_RING-capable Ethernet interface to capture on (engine: {datapath: pfring, interface: eth0}, or a module's device such as zc:eth0)")
	}
	dev := es.Interface
	module, kif, err := pfRingDevice(dev)
	if err != nil {
		return nil, err
	}
	ifi, err := net.InterfaceByName(kif)
	if err != nil {
		return nil, fmt.Errorf("pfring datapath: interface %s (of device %s): %w", kif, dev, err)
	}
	src, err := openPFRingSource(dev)
	if err != nil {
		return nil, err
	}
	es.Interface = kif // the send sockets bind to the kernel interface
	d, err := newPFRing(es, ifi, src)
	if err != nil {
		return nil, err
	}
	d.info.Mode = "pfring"
	if module != "" {
		d.info.Mode += " " + module
	}
	d.info.TimestampSource = pfRingStamps(module)
	return d, nil
}

// pfRingDevice splits a PF_RING device name into its module and the kernel
// interface it captures on: "eth1" (the kernel module), "zc:eth1",
// "pcap:eth1", "zc:eth1@2" (one queue). The kernel interface is needed for
// its MAC address (direction) and for the send sockets. Devices without one
// (a ZC cluster such as "zc:99@0") or several ("eth1,eth2") are refused.
func pfRingDevice(dev string) (module, kif string, err error) {
	kif = dev
	if i := strings.LastIndexByte(kif, ':'); i >= 0 {
		module, kif = kif[:i], kif[i+1:]
	}
	if i := strings.IndexByte(kif, '@'); i >= 0 {
		kif = kif[:i]
	}
	switch {
	case strings.ContainsAny(kif, ",;") || strings.Contains(module, ":"):
		return "", "", fmt.Errorf("pfring datapath: device %q: name one interface (like eth1 or zc:eth1)", dev)
	case kif == "" || strings.Trim(kif, "0123456789") == "":
		return "", "", fmt.Errorf("pfring datapath: device %q names no kernel interface (a ZC cluster?): the datapath needs one interface whose MAC address tells our frames apart and whose kernel stack sends the probes; use a device like zc:eth1", dev)
	}
	return module, kif, nil
}

// pfRingStamps is the timestamp source a PF_RING module offers: the kernel
// module (no prefix) stamps every frame in the kernel, and the pcap: module
// passes libpcap's kernel stamps, both for our requests leaving and the
// replies arriving. Other modules (zc:, xdp:, ...) stamp only with hardware
// support: the datapath claims no stamps for them; replies whose frames do
// carry one are still counted by their real source
// (EngineStats.RepliesByTimestamp).
func pfRingStamps(module string) string {
	switch module {
	case "", "pcap":
		return TimestampKernelTXRX
	}
	return TimestampUserspace
}

// newPFRing checks the interface, opens the send sockets and starts src with
// the filter for their echo ids. On error it closes src.
func newPFRing(es EngineSpec, ifi *net.Interface, src ringSource) (*pfRing, error) {
	if len(ifi.HardwareAddr) != 6 {
		src.close()
		return nil, fmt.Errorf("pfring datapath: interface %s has no Ethernet address: frames are told apart by source MAC, use an Ethernet interface (or the afpacket datapath)", ifi.Name)
	}
	tx, err := openICMPWith(es, true)
	if err != nil {
		src.close()
		return nil, fmt.Errorf("pfring datapath needs CAP_NET_RAW for its send sockets: %w", err)
	}
	d := &pfRing{tx: tx, src: src, mac: [6]byte(ifi.HardwareAddr), bufs: make([]byte, recvBatch*pfRingSnap)}
	d.info = DatapathInfo{Name: DatapathPFRing, Mode: "pfring", ID4: tx.info.ID4, ID6: tx.info.ID6,
		TimestampSource: TimestampKernelTXRX, Drops: d.drops, StampsInOrder: true}
	if err := src.start(pfRingFilter(d.info.ID4, d.info.ID6)); err != nil {
		d.Close()
		d.release()
		return nil, fmt.Errorf("pfring datapath on %s: %w", ifi.Name, err)
	}
	return d, nil
}

// pfRingFilter is the BPF filter in libpcap syntax (libpfring compiles it
// with libpcap for Ethernet frames). It passes what filterProg passes on
// afpacket, untagged or behind one VLAN tag:
//   - IPv4 ICMP (first fragment only) echo reply or request with id id4;
//     destination unreachable, time exceeded, parameter problem;
//   - IPv6 with ICMPv6 as the first next header: echo reply or request with
//     id id6; destination unreachable, packet too big, time exceeded,
//     parameter problem.
func pfRingFilter(id4, id6 uint16) string {
	types := func(field string, v6 bool) string {
		var b strings.Builder
		for _, t := range failTypes(v6) {
			fmt.Fprintf(&b, " or %s = %d", field, t)
		}
		return b.String()
	}
	f := fmt.Sprintf("(ip and ip[9] = 1 and ip[6:2] & 0x1fff = 0 and "+
		"(((icmp[0] = 0 or icmp[0] = 8) and icmp[4:2] = %d)%s)) or "+
		"(ip6 and ip6[6] = 58 and "+
		"(((ip6[40] = 129 or ip6[40] = 128) and ip6[44:2] = %d)%s))",
		id4, types("icmp[0]", false), id6, types("ip6[40]", true))
	return f + " or (vlan and (" + f + "))"
}

func (d *pfRing) Info() DatapathInfo { return d.info }

func (d *pfRing) Send(pkts []Packet) (int, error) {
	if d.closed.Load() {
		return 0, net.ErrClosed
	}
	return d.tx.Send(pkts)
}

// Recv returns the frames that decode as ours: it waits for the first,
// then takes those already queued, up to len(msgs) and the batch.
// Received.Buf points into datapath buffers that the next call overwrites.
func (d *pfRing) Recv(msgs []Received) (int, error) {
	d.inRecv.Store(true)
	defer d.inRecv.Store(false)
	msgs = msgs[:min(len(msgs), len(d.bufs)/pfRingSnap)]
	n := 0
	for {
		if d.closed.Load() {
			d.release()
			return 0, net.ErrClosed
		}
		if len(msgs) == 0 {
			return 0, nil
		}
		frame, stamp, err := d.src.read(n == 0)
		switch {
		case errors.Is(err, errRingIdle):
			if n > 0 {
				return n, nil // the queue is empty
			}
			continue
		case err != nil:
			if n > 0 {
				return n, nil // the error comes again on the next call
			}
			if d.closed.Load() {
				continue
			}
			time.Sleep(pfRingErrPause)
			return 0, fmt.Errorf("read PF_RING: %w", err)
		}
		buf := d.bufs[n*pfRingSnap : (n+1)*pfRingSnap]
		c := copy(buf, frame)
		ip, outgoing, ok := stripEthernet(buf[:c], d.mac)
		if ok && decodeFrame(&msgs[n], ip, outgoing, stamp) {
			n++
			if n == len(msgs) {
				return n, nil
			}
		}
	}
}

// stripEthernet returns the IP packet in an Ethernet frame (untagged, or
// behind 802.1Q / 802.1ad tags) and whether the frame left this host (its
// source MAC is ours).
func stripEthernet(frame []byte, mac [6]byte) (ip []byte, outgoing, ok bool) {
	if len(frame) < 14 {
		return nil, false, false
	}
	outgoing = [6]byte(frame[6:12]) == mac
	off := 12
	for range 3 {
		if len(frame) < off+2 {
			return nil, false, false
		}
		switch et := uint16(frame[off])<<8 | uint16(frame[off+1]); et {
		case 0x8100, 0x88a8:
			off += 4
		case 0x0800, 0x86dd:
			ip = frame[off+2:]
			if len(ip) == 0 || (ip[0]>>4 == 4) != (et == 0x0800) {
				return nil, false, false
			}
			return ip, outgoing, true
		default:
			return nil, false, false
		}
	}
	return nil, false, false
}

func (d *pfRing) drops() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.released {
		if n, err := d.src.drops(); err == nil {
			d.lastDrops = n
		}
	}
	return d.lastDrops
}

func (d *pfRing) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	if d.tx != nil {
		d.tx.Close()
		d.tx.closeFDs()
	}
	d.mu.Lock()
	if !d.released {
		d.src.shutdown()
	}
	d.mu.Unlock()
	// A receiver inside read returns within the poll period and frees the
	// ring on its way out; the ring is never freed under it. (Unlike
	// afpacket, no Received.Buf points into the ring: frames are copied, so
	// a receiver still processing its last frames is no reason to wait.)
	// closed is stored before inRecv is loaded, and Recv stores inRecv
	// before loading closed: one of the two sees the other.
	if !d.inRecv.Load() {
		d.release()
	}
	return nil
}

// release frees the ring once, keeping the last drop count for Drops.
func (d *pfRing) release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.released {
		return
	}
	if n, err := d.src.drops(); err == nil {
		d.lastDrops = n
	}
	d.released = true
	d.src.close()
}

// pfRingSource is a PF_RING ring opened through gopacket.
type pfRingSource struct {
	r   *pfring.Ring
	c   unsafe.Pointer // the ring's C handle (pfring *), for pfring_recv and pfring_shutdown
	buf []byte         // the frame last read
}

func openPFRingSource(iface string) (*pfRingSource, error) {
	c, err := ringHandleOffset()
	if err != nil {
		return nil, err
	}
	// LONG_HEADER: the extended header (with timestamp_ns) is filled;
	// TIMESTAMP: the kernel stamps every frame. Not promiscuous: replies are
	// addressed to us.
	r, err := pfring.NewRing(iface, pfRingSnap, pfring.FlagLongHeader|pfring.FlagTimestamp)
	if err != nil {
		return nil, errPFRingOpen(iface, err)
	}
	return &pfRingSource{r: r, c: *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(r), c)), buf: make([]byte, pfRingSnap)}, nil
}

// ringHandleOffset finds the C handle inside gopacket's pfring.Ring, whose
// field cptr is not exported: gopacket offers no way to break a blocked read,
// and Close must not free the ring under one. The field's name and type are
// checked, so a gopacket whose Ring differs fails to open instead of
// misbehaving.
func ringHandleOffset() (uintptr, error) {
	f, ok := reflect.TypeFor[pfring.Ring]().FieldByName("cptr")
	if !ok || f.Type.Kind() != reflect.Pointer || !strings.Contains(f.Type.Elem().Name(), "pfring") {
		return 0, fmt.Errorf("pfring datapath: %w: github.com/google/gopacket/pfring.Ring has no field cptr *C.pfring (gopacket changed; this code expects v1.1.19)", ErrNotSupported)
	}
	return f.Offset, nil
}

// errPFRingOpen explains a failed pfring_open. gopacket formats the C errno
// into its message, so EAFNOSUPPORT (PF_RING sockets unknown to the kernel:
// pf_ring.ko not loaded) is recognised by its text and wrapped as
// ErrNotSupported.
func errPFRingOpen(iface string, err error) error {
	if strings.Contains(err.Error(), unix.EAFNOSUPPORT.Error()) {
		return fmt.Errorf("pfring datapath: %w on this host: open PF_RING ring on %s: %w; load PF_RING's kernel module (modprobe pf_ring) or choose another datapath (see docs/pfring.md)", ErrNotSupported, iface, err)
	}
	return fmt.Errorf("pfring datapath: open PF_RING ring on %s (needs root or CAP_NET_RAW, CAP_NET_ADMIN and CAP_IPC_LOCK): %w", iface, err)
}

func (s *pfRingSource) start(filter string) error {
	steps := []struct {
		what string
		do   func() error
	}{
		{"set direction rx+tx", func() error { return s.r.SetDirection(pfring.ReceiveAndTransmit) }},
		{"set socket mode read-only", func() error { return s.r.SetSocketMode(pfring.ReadOnly) }},
		{"set poll duration", func() error { return s.r.SetPollDuration(pfRingPollMs) }},
		{"set BPF filter", func() error { return s.r.SetBPFFilter(filter) }},
		{"enable ring", s.r.Enable},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			return fmt.Errorf("%s: %w", st.what, err)
		}
	}
	return nil
}

func (s *pfRingSource) read(wait bool) ([]byte, int64, error) {
	var caplen C.u_int32_t
	var ns C.int64_t
	var src C.int
	w := C.u_int8_t(0)
	if wait {
		w = 1
	}
	rc := C.recvFrame(s.c, (*C.u_char)(unsafe.Pointer(&s.buf[0])), C.u_int(len(s.buf)), w, &caplen, &ns, &src)
	switch {
	case rc == 0:
		return nil, 0, errRingIdle
	case rc < 0:
		return nil, 0, fmt.Errorf("pfring_recv: error %d", int(rc))
	}
	return s.buf[:caplen], int64(ns), nil
}

func (s *pfRingSource) drops() (uint64, error) {
	st, err := s.r.Stats()
	return st.Dropped, err
}

func (s *pfRingSource) shutdown() { C.shutdownRing(s.c) }

func (s *pfRingSource) close() { s.r.Close() }
