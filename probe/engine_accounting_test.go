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
// one: replies arrive in the queue after a delay, stamped with their arrival
// time, and Recv reads them only after its wake-up latency (a loaded
// machine: the receiver goroutine is runnable but not running yet).
type queueNet struct {
	delay, wakeLatency time.Duration
	stampDelay         time.Duration // added to the arrival stamp
	fail               netip.Addr    // sends to it fail

	mu      sync.Mutex
	q       []Received
	arrived chan struct{}
	closed  chan struct{}
	hook    func(idleEvent)
	once    sync.Once
}

func newQueueNet(delay, wakeLatency time.Duration) *queueNet {
	return &queueNet{delay: delay, wakeLatency: wakeLatency, arrived: make(chan struct{}, 1), closed: make(chan struct{})}
}

func (n *queueNet) Send(pkts []Packet) (int, error) {
	sent := 0
	for i := range pkts {
		p := &pkts[i]
		if p.Dst == n.fail {
			p.Failed = true
			continue
		}
		sent++
		b := slices.Clone(p.Buf)
		b[0] = icmpv4EchoReply
		r := Received{Src: p.Dst, Buf: b, TTL: 64, KernelStamp: time.Now().Add(n.delay + n.stampDelay).UnixNano()}
		if n.delay == 0 {
			n.arrive(r)
			continue
		}
		time.AfterFunc(n.delay, func() { n.arrive(r) })
	}
	if sent < len(pkts) {
		return sent, net.ErrClosed
	}
	return sent, nil
}

// arrive queues r. Its stamp is its arrival time by the fake's own clock
// even when a loaded machine runs the timer late: the test is about what
// happens after arrival.
func (n *queueNet) arrive(r Received) {
	n.mu.Lock()
	n.q = append(n.q, r)
	n.mu.Unlock()
	select {
	case n.arrived <- struct{}{}:
	default:
	}
}

func (n *queueNet) Recv(msgs []Received) (int, error) {
	for {
		n.mu.Lock()
		k := copy(msgs, n.q)
		n.q = n.q[k:]
		empty := len(n.q) == 0
		n.mu.Unlock()
		if k > 0 {
			if empty && n.hook != nil {
				n.hook(idleEmptied)
			}
			return k, nil
		}
		if n.hook != nil {
			n.hook(idleBlocking)
		}
		select {
		case <-n.arrived:
		case <-n.closed:
			return 0, net.ErrClosed
		}
		time.Sleep(n.wakeLatency) // woken, not yet running: the reply waits in the queue
		if n.hook != nil {
			n.hook(idleWoke)
		}
	}
}

func (n *queueNet) pending() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.q) > 0
}

func (n *queueNet) setIdleHook(f func(idleEvent)) { n.hook = f }

func (n *queueNet) Info() DatapathInfo {
	return DatapathInfo{Name: "queue", ID4: 7, TimestampSource: TimestampKernelRX, StampsInOrder: true}
}

func (n *queueNet) Close() error {
	n.once.Do(func() { close(n.closed) })
	return nil
}

// plainQueueNet is a queueNet that reports no idle events (as PF_RING):
// only the arrival stamps of what it returns tell how far it has read.
type plainQueueNet struct{ q *queueNet }

func (p plainQueueNet) Send(pkts []Packet) (int, error)   { return p.q.Send(pkts) }
func (p plainQueueNet) Recv(msgs []Received) (int, error) { return p.q.Recv(msgs) }
func (p plainQueueNet) Info() DatapathInfo                { return p.q.Info() }
func (p plainQueueNet) Close() error                      { return p.q.Close() }

func oneTargetSpec(a netip.Addr, interval, timeout time.Duration) Spec {
	return Spec{Targets: []TargetSpec{{Group: "g", Name: a.String(), Addr: a, Interval: interval, Timeout: timeout,
		PayloadSize: MinPayload, DownAfter: 3, UpAfter: 1}}}
}

// TestLostMeansNoReplyInTime: replies arrive at once, stamped 30 ms after
// each probe (inside the 100 ms timeout), but the receiver runs only 150 ms
// after they arrived.
// A probe is lost only when no reply arrived in time, so every probe is a
// reply, whether the datapath reports when its queues are empty (and that
// report is stale while the receiver waits for a CPU) or not at all.
func TestLostMeansNoReplyInTime(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	for _, tc := range []struct {
		name string
		dp   func(*queueNet) Datapath
	}{
		{"idle events", func(q *queueNet) Datapath { return q }},
		{"arrival stamps only", func(q *queueNet) Datapath { return plainQueueNet{q} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newQueueNet(0, 150*time.Millisecond)
			q.stampDelay = 30 * time.Millisecond
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
				if ts.Replies >= 6 {
					// A reply counts only with an RTT inside the timeout, so
					// it comes from the arrival stamp, not the read time.
					if ts.LastRTT < 25*time.Millisecond {
						t.Errorf("RTT %s, want at least the arrival delay of 30 ms", ts.LastRTT)
					}
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
		t.Fatalf("no result for a failed send within 10 s (target: %d sent, errors %v)", ts.Sent, ts.Errors)
	}
}
