// Package probetest provides a fake probe.Datapath: a network in memory
// that answers echo requests after a delay chosen by a function, so engine
// users (the downtime command, examples, collectors) can be tested without
// sockets or privileges.
package probetest

import (
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// Network is a fake datapath. Respond decides for each probe whether it is
// answered and after how long; nil answers everything after 1 ms. It is
// safe for concurrent use.
type Network struct {
	Respond func(dst netip.Addr, sent time.Time) (delay time.Duration, ok bool)

	once   sync.Once
	ch     chan probe.Received
	closed chan struct{}
	mu     sync.Mutex
}

var _ probe.Datapath = (*Network)(nil)

func (n *Network) init() {
	n.once.Do(func() {
		n.ch = make(chan probe.Received, 4096)
		n.closed = make(chan struct{})
	})
}

// Send answers each packet as Respond says.
func (n *Network) Send(pkts []probe.Packet) (int, error) {
	n.init()
	now := time.Now()
	for _, p := range pkts {
		delay, ok := time.Millisecond, true
		if n.Respond != nil {
			delay, ok = n.Respond(p.Dst, now)
		}
		if !ok {
			continue
		}
		b := slices.Clone(p.Buf)
		v6 := p.Dst.Is6() && !p.Dst.Is4In6()
		if v6 {
			b[0] = 129
		} else {
			b[0] = 0
		}
		r := probe.Received{Src: p.Dst, Buf: b, V6: v6, TTL: 64, KernelStamp: now.Add(delay).UnixNano()}
		time.AfterFunc(delay, func() { // after Close, the reply is dropped
			select {
			case n.ch <- r:
			case <-n.closed:
			}
		})
	}
	return len(pkts), nil
}

// Recv returns the replies whose delay has passed.
func (n *Network) Recv(msgs []probe.Received) (int, error) {
	n.init()
	select {
	case r := <-n.ch:
		msgs[0] = r
	case <-n.closed:
		return 0, net.ErrClosed
	}
	k := 1
	for k < len(msgs) {
		select {
		case r := <-n.ch:
			msgs[k] = r
			k++
		default:
			return k, nil
		}
	}
	return k, nil
}

// Info describes the fake datapath.
func (n *Network) Info() probe.DatapathInfo {
	return probe.DatapathInfo{Name: "fake", Mode: "memory", ID4: 1, ID6: 2, TimestampSource: probe.TimestampKernelRX}
}

// Close stops delivering replies and unblocks Recv.
func (n *Network) Close() error {
	n.init()
	n.mu.Lock()
	defer n.mu.Unlock()
	select {
	case <-n.closed:
	default:
		close(n.closed)
	}
	return nil
}

// Window answers every probe after delay except those sent between from
// and to (an outage).
func Window(from, to time.Time, delay time.Duration) func(netip.Addr, time.Time) (time.Duration, bool) {
	return func(_ netip.Addr, sent time.Time) (time.Duration, bool) {
		if !sent.Before(from) && sent.Before(to) {
			return 0, false
		}
		return delay, true
	}
}
