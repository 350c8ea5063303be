//go:build linux

package lab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Prefixes the responder answers for, and the addresses its replies and
// errors may come from besides the probed one (inside the prefixes, so
// reverse-path checks pass).
var (
	ResponderPrefix4 = netip.MustParsePrefix("10.211.0.0/24")
	ResponderPrefix6 = netip.MustParsePrefix("fd00:211::/64")
	Router4          = netip.MustParseAddr("10.211.0.254") // source of ICMP errors
	Router6          = netip.MustParseAddr("fd00:211::fe")
	Other4           = netip.MustParseAddr("10.211.0.253") // "another source"
	Other6           = netip.MustParseAddr("fd00:211::fd")
)

// Request is an echo request the responder read.
type Request struct {
	Src, Dst netip.Addr
	V6       bool
	ID, Seq  uint16
	// N counts the requests to Dst before this one.
	N int
	// Packet is the whole IP packet.
	Packet []byte
}

// Action is one thing the responder sends for a request.
type Action struct {
	// Delay is how long after reading the request it is sent.
	Delay time.Duration
	// Error, when not 0, sends an ICMP (ICMPv6) error of this type and
	// ErrCode quoting the request instead of an echo reply.
	Error, ErrCode uint8
	// Quote is how many bytes of the request's ICMP message an error
	// quotes after its IP header; 0 quotes all of it.
	Quote int
	// BadQuoteSum changes the checksum field of the quoted ICMP header.
	BadQuoteSum bool
	// Corrupt sends the reply with a wrong ICMP checksum.
	Corrupt bool
	// Truncate, when > 0, keeps only this many bytes of the echo payload
	// (checksum and lengths recomputed).
	Truncate int
	// Alter changes a payload byte (checksum recomputed).
	Alter bool
	// From is the source address; the zero Addr means the probed address
	// (replies) or Router4/Router6 (errors).
	From netip.Addr
}

// Plan says what the responder sends for each request.
type Plan func(Request) []Action

// Record is what the responder did, with the delay it really applied: from
// reading the request to writing the packet.
type Record struct {
	Dst     netip.Addr
	Seq     uint16
	Action  Action
	Applied time.Duration
}

// Responder answers echo requests to ResponderPrefix4/6 in userspace,
// through a TUN device in the target namespace, as its Plan says.
type Responder struct {
	f    *os.File
	plan Plan
	wg   sync.WaitGroup

	mu      sync.Mutex
	count   map[netip.Addr]int
	records []Record
	errs    []error
}

// StartResponder creates tun0 in the target namespace, routes
// ResponderPrefix4/6 to it (the target namespace forwards between the veth
// and the TUN device; the probe namespace routes the prefixes through it)
// and answers every echo request as plan says. It stops in cleanup.
func (l *Lab) StartResponder(plan Plan) *Responder {
	l.t.Helper()
	r := &Responder{plan: plan, count: map[netip.Addr]int{}}
	err := l.DoTarget(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return fmt.Errorf("open /dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq("tun0")
		if err != nil {
			unix.Close(fd)
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUNSETIFF: %w", err)
		}
		r.f = os.NewFile(uintptr(fd), "tun0")
		return nil
	})
	if err != nil {
		l.t.Fatalf("lab: responder: %v", err)
	}
	tg, p := l.Target, l.Probe
	for _, args := range [][]string{
		{"-n", tg, "link", "set", "tun0", "up"},
		{"-n", tg, "route", "add", ResponderPrefix4.String(), "dev", "tun0"},
		{"-n", tg, "-6", "route", "add", ResponderPrefix6.String(), "dev", "tun0"},
		{"-n", p, "route", "add", ResponderPrefix4.String(), "via", l.Hop4.String(), "dev", l.ProbeIf},
		{"-n", p, "-6", "route", "add", ResponderPrefix6.String(), "via", l.Hop6.String(), "dev", l.ProbeIf},
	} {
		if err := run("ip", args...); err != nil {
			r.f.Close()
			l.t.Fatalf("lab: responder: %v", err)
		}
	}
	if err := l.sysctls(tg, map[string]string{"net/ipv4/ip_forward": "1", "net/ipv6/conf/all/forwarding": "1"}); err != nil {
		r.f.Close()
		l.t.Fatalf("lab: responder: %v", err)
	}
	r.wg.Add(1)
	go r.serve()
	l.t.Cleanup(r.stop)
	return r
}

func (r *Responder) stop() {
	r.f.Close()
	r.wg.Wait()
}

// Records returns what the responder sent so far.
func (r *Responder) Records() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Record(nil), r.records...)
}

// Err returns the first error the responder met (a packet it could not
// parse or write), or nil.
func (r *Responder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(r.errs...)
}

func (r *Responder) fail(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

func (r *Responder) serve() {
	defer r.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, err := r.f.Read(buf)
		if err != nil {
			return // closed
		}
		at := time.Now()
		req, ok := parseRequest(append([]byte(nil), buf[:n]...))
		if !ok {
			continue // not an echo request (neighbour discovery, ...)
		}
		r.mu.Lock()
		req.N = r.count[req.Dst]
		r.count[req.Dst]++
		r.mu.Unlock()
		for _, a := range r.plan(req) {
			pkt, err := build(req, a)
			if err != nil {
				r.fail(err)
				continue
			}
			r.wg.Add(1)
			time.AfterFunc(time.Until(at.Add(a.Delay)), func() {
				defer r.wg.Done()
				sent := time.Now()
				if _, err := r.f.Write(pkt); err != nil {
					if !errors.Is(err, os.ErrClosed) {
						r.fail(fmt.Errorf("responder: write: %w", err))
					}
					return
				}
				r.mu.Lock()
				r.records = append(r.records, Record{Dst: req.Dst, Seq: req.Seq, Action: a, Applied: sent.Sub(at)})
				r.mu.Unlock()
			})
		}
	}
}

func parseRequest(p []byte) (Request, bool) {
	switch {
	case len(p) >= 28 && p[0]>>4 == 4 && p[9] == unix.IPPROTO_ICMP:
		ihl := int(p[0]&0xf) * 4
		if len(p) < ihl+8 || p[ihl] != 8 {
			return Request{}, false
		}
		m := p[ihl:]
		return Request{Src: netip.AddrFrom4([4]byte(p[12:16])), Dst: netip.AddrFrom4([4]byte(p[16:20])),
			ID: binary.BigEndian.Uint16(m[4:]), Seq: binary.BigEndian.Uint16(m[6:]), Packet: p}, true
	case len(p) >= 48 && p[0]>>4 == 6 && p[6] == unix.IPPROTO_ICMPV6 && p[40] == 128:
		m := p[40:]
		return Request{Src: netip.AddrFrom16([16]byte(p[8:24])), Dst: netip.AddrFrom16([16]byte(p[24:40])), V6: true,
			ID: binary.BigEndian.Uint16(m[4:]), Seq: binary.BigEndian.Uint16(m[6:]), Packet: p}, true
	}
	return Request{}, false
}

// build makes the packet of one action.
func build(req Request, a Action) ([]byte, error) {
	hl := 20
	if req.V6 {
		hl = 40
	}
	msg := append([]byte(nil), req.Packet[hl:]...) // the echo request's ICMP message
	src := req.Dst
	if a.Error != 0 {
		src = Router4
		if req.V6 {
			src = Router6
		}
		quoted := append([]byte(nil), req.Packet...)
		if a.Quote > 0 && hl+a.Quote < len(quoted) {
			quoted = quoted[:hl+a.Quote]
		}
		if a.BadQuoteSum {
			quoted[hl+2] ^= 0x5a
		}
		msg = append([]byte{a.Error, a.ErrCode, 0, 0, 0, 0, 0, 0}, quoted...)
		switch {
		case !req.V6 && a.Error == 5: // redirect: the gateway address
			g := Router4.As4()
			copy(msg[4:8], g[:])
		case req.V6 && a.Error == 2: // packet too big: the MTU
			binary.BigEndian.PutUint32(msg[4:], 1280)
		}
	} else {
		msg[0] = 0
		if req.V6 {
			msg[0] = 129
		}
		if a.Truncate > 0 && 8+a.Truncate < len(msg) {
			msg = msg[:8+a.Truncate]
		}
		if a.Alter {
			msg[len(msg)-1] ^= 0xff
		}
	}
	if a.From.IsValid() {
		src = a.From
	}
	if src.Is4() != !req.V6 {
		return nil, fmt.Errorf("responder: source %s for a request to %s", src, req.Dst)
	}
	msg[2], msg[3] = 0, 0
	var pkt []byte
	if req.V6 {
		pkt = make([]byte, 40, 40+len(msg))
		pkt[0] = 0x60
		binary.BigEndian.PutUint16(pkt[4:], uint16(len(msg)))
		pkt[6], pkt[7] = unix.IPPROTO_ICMPV6, 64
		s, d := src.As16(), req.Src.As16()
		copy(pkt[8:], s[:])
		copy(pkt[24:], d[:])
		pkt = append(pkt, msg...)
		binary.BigEndian.PutUint16(pkt[42:], ^ones(pkt[40:], uint32(ones(pkt[8:40], uint32(len(msg))+unix.IPPROTO_ICMPV6))))
	} else {
		pkt = make([]byte, 20, 20+len(msg))
		pkt[0] = 0x45
		binary.BigEndian.PutUint16(pkt[2:], uint16(20+len(msg)))
		pkt[8], pkt[9] = 64, unix.IPPROTO_ICMP
		s, d := src.As4(), req.Src.As4()
		copy(pkt[12:], s[:])
		copy(pkt[16:], d[:])
		binary.BigEndian.PutUint16(pkt[10:], ^ones(pkt[:20], 0))
		pkt = append(pkt, msg...)
		binary.BigEndian.PutUint16(pkt[22:], ^ones(pkt[20:], 0))
	}
	if a.Corrupt {
		pkt[hl+2] ^= 0x5a
	}
	return pkt, nil
}

// ones adds the 16-bit words of b to s and folds the one's complement sum
// (RFC 1071; the checksum is its complement).
func ones(b []byte, s uint32) uint16 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
