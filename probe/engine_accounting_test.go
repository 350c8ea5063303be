package probe

import (
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// queueNet is a fake datapath with a receive queue the way the kernel keeps
// one: a reply becomes readable delay after its probe, stamped with that
// time. Read without blocking (recvNow), it is a polled datapath; through
// blockingNet, its Recv returns a reply only wakeLatency after it became
// readable (a loaded machine: the receiver is runnable but not running).
type queueNet struct {
	delay, wakeLatency time.Duration
	fail               netip.Addr // sends to it fail

	mu     sync.Mutex
	q      []Received // KernelStamp: when it becomes readable
	closed chan struct{}
	once   sync.Once
}

func newQueueNet(delay, wakeLatency time.Duration) *queueNet {
	return &queueNet{delay: delay, wakeLatency: wakeLatency, closed: make(chan struct{})}
}

func (n *queueNet) Send(pkts []Packet) (int, error) {
	sent := 0
	at := time.Now().Add(n.delay).UnixNano()
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := range pkts {
		p := &pkts[i]
		if p.Dst == n.fail {
			p.Failed = true
			continue
		}
		sent++
		b := slices.Clone(p.Buf)
		b[0] = icmpv4EchoReply
		n.q = append(n.q, Received{Src: p.Dst, Buf: b, TTL: 64, KernelStamp: at})
	}
	if sent < len(pkts) {
		return sent, net.ErrClosed
	}
	return sent, nil
}

// recvNow returns the replies readable now.
func (n *queueNet) recvNow(msgs []Received) (int, bool, error) {
	now := time.Now().UnixNano()
	n.mu.Lock()
	defer n.mu.Unlock()
	k := 0
	for k < len(msgs) && k < len(n.q) && n.q[k].KernelStamp <= now {
		msgs[k] = n.q[k]
		k++
	}
	n.q = n.q[k:]
	return k, len(n.q) == 0 || n.q[0].KernelStamp > now, nil
}

func (n *queueNet) Info() DatapathInfo {
	return DatapathInfo{Name: "queue", ID4: 7, TimestampSource: TimestampKernelRX, StampsInOrder: true}
}

func (n *queueNet) Close() error {
	n.once.Do(func() { close(n.closed) })
	return nil
}

// Recv (blocking use only, see blockingNet) waits until a reply is
// readable, then wakeLatency more, and returns what is readable.
func (n *queueNet) Recv(msgs []Received) (int, error) {
	for {
		n.mu.Lock()
		wait := 2 * time.Millisecond // nothing queued: look again soon
		if len(n.q) > 0 {
			wait = time.Duration(n.q[0].KernelStamp - time.Now().UnixNano())
			if wait <= 0 {
				wait = n.wakeLatency
			}
		}
		n.mu.Unlock()
		select {
		case <-n.closed:
			return 0, net.ErrClosed
		case <-time.After(wait):
		}
		if k, _, _ := n.recvNow(msgs); k > 0 {
			return k, nil
		}
	}
}

// blockingNet is a queueNet read through Recv only (as PF_RING): the
// engine learns how far the receiver got from the stamps it returns.
type blockingNet struct{ q *queueNet }

func (b blockingNet) Send(pkts []Packet) (int, error)   { return b.q.Send(pkts) }
func (b blockingNet) Recv(msgs []Received) (int, error) { return b.q.Recv(msgs) }
func (b blockingNet) Info() DatapathInfo                { return b.q.Info() }
func (b blockingNet) Close() error                      { return b.q.Close() }

func oneTargetSpec(a netip.Addr, interval, timeout time.Duration) Spec {
	return Spec{Targets: []TargetSpec{{Group: "g", Name: a.String(), Addr: a, Interval: interval, Timeout: timeout,
		PayloadSize: MinPayload, DownAfter: 3, UpAfter: 1}}}
}

// TestLostMeansNoReplyInTime: replies arrive 95 ms after each probe,
// just inside the 100 ms timeout. A probe is lost only when no reply
// arrived in time: every probe is a reply, whether the engine reads the
// datapath itself right before it declares losses (polled), or a receiver
// goroutine returns each reply only 150 ms after it arrived (blocking, with
// stamps in arrival order).
func TestLostMeansNoReplyInTime(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	for _, tc := range []struct {
		name string
		dp   func(*queueNet) Datapath
	}{
		{"polled", func(q *queueNet) Datapath { return q }},
		{"blocking", func(q *queueNet) Datapath { return blockingNet{q} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newQueueNet(95*time.Millisecond, 150*time.Millisecond)
			e, err := New(oneTargetSpec(a, 400*time.Millisecond, 100*time.Millisecond), Options{Datapath: tc.dp(q)})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			deadline := time.Now().Add(30 * time.Second)
			for {
				ts := e.Snapshot(nil).Targets[0]
				if ts.Lost != 0 || ts.Late != 0 {
					t.Fatalf("after %d replies: %d lost, %d late; want none (every reply arrived within the timeout)", ts.Replies, ts.Lost, ts.Late)
				}
				if ts.Replies >= 5 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("only %d replies in 30 s", ts.Replies)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestSendStampAfterLockWait: while the engine lock is held for 300 ms (a
// slow OnResult here; a long snapshot or reload in production), the
// sender's next probe waits for it. Its send stamp must be taken once it
// holds the lock, or the wait is added to the RTT.
func TestSendStampAfterLockWait(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	q := newQueueNet(time.Millisecond, 0)
	var mu sync.Mutex
	var rtts []time.Duration
	held := false
	e, err := New(oneTargetSpec(a, 20*time.Millisecond, time.Second), Options{Datapath: q, OnResult: func(r Result) {
		if r.Kind != ResultReply {
			return
		}
		mu.Lock()
		rtts = append(rtts, r.RTT)
		first := !held
		held = true
		mu.Unlock()
		if first {
			time.Sleep(300 * time.Millisecond) // called with the engine lock held
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	time.Sleep(time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(rtts) < 5 {
		t.Fatalf("only %d replies", len(rtts))
	}
	for i, r := range rtts {
		if r > 100*time.Millisecond {
			t.Errorf("reply %d: RTT %s for a 1 ms network: the lock wait was counted", i, r)
		}
	}
}

// TestSendFailureReachesOnResult: a probe that cannot be sent ends as an
// error of type send, and OnResult hears of it like of any other result.
func TestSendFailureReachesOnResult(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	q := newQueueNet(time.Millisecond, 0)
	q.fail = a
	got := make(chan Result, 16)
	e, err := New(oneTargetSpec(a, 20*time.Millisecond, time.Second), Options{Datapath: q, OnResult: func(r Result) {
		select {
		case got <- r:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	select {
	case r := <-got:
		if r.Kind != ResultError || r.Error != ErrSend || r.Target == nil || r.Target.Addr != a {
			t.Errorf("result %+v, want an error of type send for %s", r, a)
		}
	case <-time.After(10 * time.Second):
		ts := e.Snapshot(nil).Targets[0]
		t.Fatalf("no result for a failed send within 10 s (target: %d sent, errors %v)", ts.Sent, ts.ErrorCounts().ByType)
	}
}
