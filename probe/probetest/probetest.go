// Package probetest provides a fake probe.Datapath: a network in memory
// that answers echo requests after a delay chosen by a function, so engine
// users (the downtime command, examples, collectors) can be tested without
// sockets or privileges.
package probetest

import (
	"container/heap"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// Network is a fake datapath. Respond decides for each probe whether it is
// answered and after how long; nil answers everything after 1 ms. It is
// safe for concurrent use. Replies wait in one queue ordered by their due
// time and are delivered by Recv (no goroutine or timer per reply), each
// stamped (Received.KernelStamp) with its due time.
type Network struct {
	Respond func(dst netip.Addr, sent time.Time) (delay time.Duration, ok bool)

	once    sync.Once
	mu      sync.Mutex
	q       replyQueue
	free    [][]byte      // reply buffers to reuse
	queued  chan struct{} // a reply was queued (capacity 1)
	closed  chan struct{}
	last    [][]byte // buffers of the replies the last Recv returned
	timer   *time.Timer
	closeMu sync.Once
}

var _ probe.Datapath = (*Network)(nil)

type reply struct {
	due time.Time
	r   probe.Received
}

type replyQueue []reply

func (q replyQueue) Len() int           { return len(q) }
func (q replyQueue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q replyQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *replyQueue) Push(x any)        { *q = append(*q, x.(reply)) }
func (q *replyQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

func (n *Network) init() {
	n.once.Do(func() {
		n.queued = make(chan struct{}, 1)
		n.closed = make(chan struct{})
		n.timer = time.NewTimer(time.Hour)
		n.timer.Stop()
	})
}

// Send queues a reply to each packet as Respond says.
func (n *Network) Send(pkts []probe.Packet) (int, error) {
	n.init()
	now := time.Now()
	n.mu.Lock()
	for _, p := range pkts {
		delay, ok := time.Millisecond, true
		if n.Respond != nil {
			delay, ok = n.Respond(p.Dst, now)
		}
		if !ok {
			continue
		}
		var b []byte
		if k := len(n.free); k > 0 {
			b, n.free = n.free[k-1][:0], n.free[:k-1]
		}
		b = append(b, p.Buf...)
		v6 := p.Dst.Is6() && !p.Dst.Is4In6()
		if v6 {
			b[0] = 129
		} else {
			b[0] = 0
		}
		due := now.Add(delay)
		heap.Push(&n.q, reply{due, probe.Received{Src: p.Dst, Buf: b, V6: v6, TTL: 64, KernelStamp: due.UnixNano()}})
	}
	n.mu.Unlock()
	select {
	case n.queued <- struct{}{}:
	default:
	}
	return len(pkts), nil
}

// Recv returns the replies whose delay has passed, waiting for the first.
func (n *Network) Recv(msgs []probe.Received) (int, error) {
	n.init()
	for {
		n.mu.Lock()
		n.free = append(n.free, n.last...) // the caller is done with them
		n.last = n.last[:0]
		now := time.Now()
		k := 0
		for k < len(msgs) && len(n.q) > 0 && !n.q[0].due.After(now) {
			msgs[k] = heap.Pop(&n.q).(reply).r
			n.last = append(n.last, msgs[k].Buf)
			k++
		}
		wait := time.Hour
		if len(n.q) > 0 {
			wait = n.q[0].due.Sub(now)
		}
		n.mu.Unlock()
		if k > 0 {
			return k, nil
		}
		n.timer.Reset(wait)
		select {
		case <-n.timer.C:
		case <-n.queued:
			n.timer.Stop()
		case <-n.closed:
			n.timer.Stop()
			return 0, net.ErrClosed
		}
	}
}

// Info describes the fake datapath.
func (n *Network) Info() probe.DatapathInfo {
	return probe.DatapathInfo{Name: "fake", Mode: "memory", ID4: 1, ID6: 2, TimestampSource: probe.TimestampKernelRX}
}

// Close stops delivering replies and unblocks Recv.
func (n *Network) Close() error {
	n.init()
	n.closeMu.Do(func() { close(n.closed) })
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
