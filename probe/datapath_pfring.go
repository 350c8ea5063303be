//go:build pfring && cgo

package probe

/*
#cgo LDFLAGS: -lpfring
#include <pfring.h>

// shutdownRing makes a blocked pfring_recv() return (after at most the poll
// duration) and every later one fail at once: pfring_shutdown() sets the
// ring's is_shutting_down and break_recv_loop flags, which pfring_recv checks
// on entry and after each poll.
static void shutdownRing(void *ring) { pfring_shutdown((pfring *)ring); }
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
	// read blocks until a frame arrived and returns it (valid until the next
	// read) and its capture time in Unix ns (0 when unknown); errRingIdle
	// when the poll period passed without a frame.
	read() (frame []byte, stamp int64, err error)
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
// It reads one frame per Recv: gopacket's pfring API only offers a blocking
// read of one packet. The frame is copied out of the ring at once (PF_RING
// hands the slot back to the kernel when it returns it).
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

	buf []byte // receiver goroutine only: the frame last returned
}

var _ Datapath = (*pfRing)(nil)

func openPFRing(es EngineSpec) (Datapath, error) {
	if es.Interface == "" {
		return nil, errors.New("pfring datapath: engine interface is required: name the PF_RING-capable Ethernet interface to capture on (engine: {datapath: pfring, interface: eth0})")
	}
	ifi, err := net.InterfaceByName(es.Interface)
	if err != nil {
		return nil, fmt.Errorf("pfring datapath: interface %s: %w", es.Interface, err)
	}
	src, err := openPFRingSource(es.Interface)
	if err != nil {
		return nil, err
	}
	return newPFRing(es, ifi, src)
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
	d := &pfRing{tx: tx, src: src, mac: [6]byte(ifi.HardwareAddr), buf: make([]byte, pfRingSnap)}
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
// with libpcap for Ethernet frames). It passes what icmpFilterProg passes on
// afpacket, untagged or behind one VLAN tag:
//   - IPv4 ICMP (first fragment only) echo reply or request with id id4;
//     destination unreachable, time exceeded, parameter problem;
//   - IPv6 with ICMPv6 as the first next header: echo reply or request with
//     id id6; destination unreachable, packet too big, time exceeded,
//     parameter problem.
func pfRingFilter(id4, id6 uint16) string {
	f := fmt.Sprintf("(ip and ip[9] = 1 and ip[6:2] & 0x1fff = 0 and "+
		"(((icmp[0] = 0 or icmp[0] = 8) and icmp[4:2] = %d) or icmp[0] = 3 or icmp[0] = 11 or icmp[0] = 12)) or "+
		"(ip6 and ip6[6] = 58 and "+
		"(((ip6[40] = 129 or ip6[40] = 128) and ip6[44:2] = %d) or ip6[40] = 1 or ip6[40] = 2 or ip6[40] = 3 or ip6[40] = 4))",
		id4, id6)
	return f + " or (vlan and (" + f + "))"
}

func (d *pfRing) Info() DatapathInfo { return d.info }

func (d *pfRing) Send(pkts []Packet) (int, error) {
	if d.closed.Load() {
		return 0, net.ErrClosed
	}
	return d.tx.Send(pkts)
}

// Recv returns the next frame that decodes as one of ours (at most one per
// call). Received.Buf points into a datapath buffer that the next call
// overwrites.
func (d *pfRing) Recv(msgs []Received) (int, error) {
	d.inRecv.Store(true)
	defer d.inRecv.Store(false)
	for {
		if d.closed.Load() {
			d.release()
			return 0, net.ErrClosed
		}
		if len(msgs) == 0 {
			return 0, nil
		}
		frame, stamp, err := d.src.read()
		switch {
		case errors.Is(err, errRingIdle):
			continue
		case err != nil:
			if d.closed.Load() {
				continue
			}
			time.Sleep(pfRingErrPause)
			return 0, fmt.Errorf("read PF_RING: %w", err)
		}
		n := copy(d.buf, frame)
		ip, outgoing, ok := stripEthernet(d.buf[:n], d.mac)
		if ok && decodeFrame(&msgs[0], ip, outgoing, stamp) {
			return 1, nil
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
	r *pfring.Ring
	c unsafe.Pointer // the ring's C handle (pfring *), for pfring_shutdown
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
	return &pfRingSource{r: r, c: *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(r), c))}, nil
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

func (s *pfRingSource) read() ([]byte, int64, error) {
	data, ci, err := s.r.ZeroCopyReadPacketData()
	if err != nil {
		if errors.Is(err, pfring.NextNoPacketNonblocking) {
			return nil, 0, errRingIdle
		}
		return nil, 0, err
	}
	// gopacket builds the time from the header's timestamp_ns; 0 (no stamp)
	// becomes the Unix epoch.
	return data, max(ci.Timestamp.UnixNano(), 0), nil
}

func (s *pfRingSource) drops() (uint64, error) {
	st, err := s.r.Stats()
	return st.Dropped, err
}

func (s *pfRingSource) shutdown() { C.shutdownRing(s.c) }

func (s *pfRingSource) close() { s.r.Close() }
