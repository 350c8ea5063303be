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
// safe for concurrent use. Like a capture ring, it delivers a transmit
// stamp of every probe (Received.TxStamp) and then the replies, all in one
// queue ordered by time, stamped (Received.KernelStamp) with that time
// (no goroutine or timer per packet); so the engine can tell how far its
// receiver got even when the machine is loaded (DatapathInfo.StampsInOrder).
type Network struct {
	Respond func(dst netip.Addr, sent time.Time) (delay time.Duration, ok bool)

	once    sync.Once
	mu      sync.Mutex
	q       replyQueue
	free    [][]byte      // reply buffers to reuse
	queued  chan struct{} // a reply was queued (capacity 1)
	closed  chan struct{}
	last    [][]byte // buffers of the replies the last Recv returned
	seq     uint64
	timer   *time.Timer
	closeMu sync.Once
}

var _ probe.Datapath = (*Network)(nil)

type reply struct {
	due time.Time
	seq uint64 // ties: a probe's TX stamp before its reply
	r   probe.Received
}

type replyQueue []reply

func (q replyQueue) Len() int { return len(q) }
func (q replyQueue) Less(i, j int) bool {
	if !q[i].due.Equal(q[j].due) {
		return q[i].due.Before(q[j].due)
	}
	return q[i].seq < q[j].seq
}
func (q replyQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *replyQueue) Push(x any)   { *q = append(*q, x.(reply)) }
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
		v6 := p.Dst.Is6() && !p.Dst.Is4In6()
		n.push(now, probe.Received{Src: p.Dst, V6: v6, TxStamp: true, TTL: -1, KernelStamp: now.UnixNano()}, p.Buf, -1)
		delay, ok := time.Millisecond, true
		if n.Respond != nil {
			delay, ok = n.Respond(p.Dst, now)
		}
		if !ok {
			continue
		}
		typ := 0 // echo reply
		if v6 {
			typ = 129
		}
		due := now.Add(delay)
		n.push(due, probe.Received{Src: p.Dst, V6: v6, TTL: 64, KernelStamp: due.UnixNano()}, p.Buf, typ)
	}
	n.mu.Unlock()
	select {
	case n.queued <- struct{}{}:
	default:
	}
	return len(pkts), nil
}

// push queues r at due with a copy of b as its Buf, its first byte (the
// ICMP type) set to typ unless typ < 0. Under n.mu.
func (n *Network) push(due time.Time, r probe.Received, b []byte, typ int) {
	var c []byte
	if k := len(n.free); k > 0 {
		c, n.free = n.free[k-1][:0], n.free[:k-1]
	}
	c = append(c, b...)
	if typ >= 0 {
		c[0] = byte(typ)
	}
	r.Buf = c
	n.seq++
	heap.Push(&n.q, reply{due, n.seq, r})
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
	return probe.DatapathInfo{Name: "fake", Mode: "memory", ID4: 1, ID6: 2, TimestampSource: probe.TimestampKernelTXRX, StampsInOrder: true}
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
