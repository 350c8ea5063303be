package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

const (
	sendBatch = 32 // probes per Send: small batches, never a burst of everything
	recvBatch = 64
)

// Engine probes every target of a Spec continuously with one sender and one
// receiver goroutine over one Datapath. Its methods are safe for concurrent use.
type Engine struct {
	mu    sync.Mutex // guards c
	c     core
	spec  Spec
	dp    Datapath
	info  DatapathInfo
	clock Clock
	log   *slog.Logger

	// Receive progress (see expiryHorizon). rxDrained is the mono time up
	// to which every arrived packet has been processed; written by the
	// receiver goroutine only. rxState counts the datapath's idle events
	// (times 2) and has bit 0 set while the receiver blocks in Recv.
	rxDrained atomic.Int64
	rxState   atomic.Uint64
	rxPending int64      // receiver goroutine only: drained time of the batch being processed
	rxStart   int64      // receiver goroutine only: mono time the current Recv started
	hook      idleHooker // nil when the datapath reports no idle events
	inOrder   bool       // DatapathInfo.StampsInOrder

	// sender goroutine only
	nextExpiry  int64 // earliest probe deadline after the last pass; -1 none
	lastPendChk int64 // mono time of the last hook.pending() check

	wake       chan struct{}
	resolveNow chan struct{}
	stop       chan struct{}
	wg         sync.WaitGroup // receiver and resolver
	senderDone chan struct{}
	closed     sync.Once
	cancel     context.CancelFunc
}

// New validates spec, opens the datapath and starts probing.
func New(spec Spec, opts Options) (*Engine, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("invalid spec: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Clock == nil {
		opts.Clock = systemClock{}
	}
	tagger, err := NewTagger()
	if err != nil {
		return nil, err
	}
	dp := opts.Datapath
	if dp == nil {
		dp, err = OpenDatapath(spec.Engine, len(spec.Targets))
		if err != nil {
			return nil, err
		}
	}
	e := &Engine{
		spec:       spec,
		dp:         dp,
		info:       dp.Info(),
		clock:      opts.Clock,
		log:        opts.Logger,
		wake:       make(chan struct{}, 1),
		resolveNow: make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	now := e.clock.Now()
	e.c = core{
		epoch:    now,
		tagger:   tagger,
		id4:      e.info.ID4,
		id6:      e.info.ID6,
		logger:   opts.Logger,
		onResult: opts.OnResult,
		onOutage: opts.OnOutage,
	}
	e.c.stats.Datapath = e.info.Name
	e.c.stats.TimestampSource = e.info.TimestampSource
	e.c.stats.StartTime = now
	e.c.apply(&e.spec, 0)
	e.inOrder = e.info.StampsInOrder
	e.nextExpiry = -1
	if h, ok := dp.(idleHooker); ok {
		e.hook = h
		delay := int64(e.info.DeliveryDelay)
		h.setIdleHook(func(ev idleEvent) {
			// Not the time of the event: a packet may arrive between the
			// datapath's look at its queues and the event. Recv started
			// before that look, and had returned nothing yet.
			now := e.rxStart - delay
			switch ev {
			case idleBlocking:
				e.rxDrained.Store(max(e.rxDrained.Load(), now))
				e.rxState.Store((e.rxState.Load() &^ 1) + 2 | 1)
			case idleWoke:
				e.rxState.Store((e.rxState.Load() &^ 1) + 2)
			case idleEmptied:
				e.rxPending = now // published once this batch is processed
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.wg.Add(2)
	e.senderDone = make(chan struct{})
	go e.sender()
	go e.receiver()
	go e.resolver(ctx)
	e.log.Info("engine started", "datapath", e.info.Name, "mode", e.info.Mode,
		"timestamp_source", e.info.TimestampSource, "targets", len(spec.Targets))
	return e, nil
}

func (e *Engine) mono(t time.Time) int64 { return int64(t.Sub(e.c.epoch)) }

// Apply replaces the running Spec. Targets whose TargetSpec.Key is
// unchanged keep their counters, histograms, state and outage history.
// Engine-wide settings (EngineSpec) cannot change at run time.
func (e *Engine) Apply(spec Spec) error {
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("invalid spec: %w", err)
	}
	e.mu.Lock()
	if spec.Engine != e.spec.Engine {
		e.mu.Unlock()
		return fmt.Errorf("engine settings changed: restart the exporter to apply them")
	}
	e.spec = spec
	e.c.apply(&e.spec, e.mono(e.clock.Now()))
	e.mu.Unlock()
	e.nudge()
	select {
	case e.resolveNow <- struct{}{}:
	default:
	}
	return nil
}

func (e *Engine) nudge() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Info describes the datapath in use.
func (e *Engine) Info() DatapathInfo { return e.info }

// Snapshot copies the engine state into dst (allocated when nil), reusing
// dst's slices, and returns it. Targets are copied in chunks so the packet
// path is never held up for long.
func (e *Engine) Snapshot(dst *Snapshot) *Snapshot {
	if dst == nil {
		dst = &Snapshot{}
	}
	const chunk = 1024
	e.mu.Lock()
	dst.Time = e.clock.Now()
	dst.Source = e.spec.Source
	dst.Engine = e.c.stats
	if e.info.Drops != nil {
		dst.Engine.KernelDrops = e.info.Drops()
	}
	if e.info.Freezes != nil {
		dst.Engine.RingFreezes = e.info.Freezes()
	}
	targets := e.c.targets // the slice header is replaced, never mutated in place, by apply
	n := len(targets)
	if cap(dst.Targets) < n {
		dst.Targets = append(dst.Targets[:cap(dst.Targets)], make([]TargetSnapshot, n-cap(dst.Targets))...)
	}
	dst.Targets = dst.Targets[:n]
	for i := 0; i < n; i++ {
		if i%chunk == 0 && i > 0 {
			e.mu.Unlock()
			e.mu.Lock()
		}
		targets[i].copyTo(&dst.Targets[i], e.c.epoch)
	}
	e.mu.Unlock()
	return dst
}

// Close stops probing and closes the datapath. It is safe to call twice.
func (e *Engine) Close() error {
	var err error
	e.closed.Do(func() {
		close(e.stop)
		e.cancel()
		<-e.senderDone // no Send in flight when the sockets close
		err = e.dp.Close()
		e.wg.Wait()
	})
	return err
}

func (e *Engine) sender() {
	defer close(e.senderDone)
	pkts := make([]Packet, 0, sendBatch)
	buf := make([]byte, 0, sendBatch*(icmpHeaderLen+MaxPayload))
	timer := e.clock.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		// Checked on every pass, not only when idle: a saturated sender
		// always has probes due and would otherwise never see a stop.
		select {
		case <-e.stop:
			return
		default:
		}
		// The horizon may poll the datapath: before the lock, with the
		// deadlines of the previous pass.
		horizon := e.expiryHorizon(e.mono(e.clock.Now()))
		e.mu.Lock()
		// The send stamp is read once the lock is held: a wait for the lock
		// is not part of any RTT.
		t := e.clock.Now()
		now := e.mono(t)
		e.c.expire(min(horizon, now))
		if e.overloaded(now) {
			e.c.skipDue(now, skipBatch)
		}
		pkts, buf = e.c.collect(now, t.UnixNano(), pkts, buf[:0])
		e.nextExpiry = e.earliestDeadline()
		next, maxPPS := e.c.nextWake(), e.c.maxPPS
		e.mu.Unlock()
		if len(pkts) > 0 {
			_, _ = e.dp.Send(pkts) // failures are marked per packet
			e.mu.Lock()
			e.c.sent(pkts, now)
			e.mu.Unlock()
			continue
		}
		wait := time.Hour
		if next >= 0 {
			wait = time.Duration(next - now)
		}
		if wait <= 0 {
			// Due but held back: a send by max_pps, or a deadline waiting
			// for the receiver to catch up (expiryHorizon). Look again soon.
			wait = time.Millisecond
			if maxPPS > 0 {
				wait = min(wait, time.Second/time.Duration(maxPPS))
			}
		}
		timer.Reset(wait)
		select {
		case <-timer.C():
		case <-e.wake:
		case <-e.stop:
			return
		}
	}
}

// maxExpiryDelay bounds how long probes wait for a receiver that fell
// behind before they are declared lost anyway.
const maxExpiryDelay = int64(500 * time.Millisecond)

// pendingCheckEvery bounds how often the sender asks an idle datapath
// whether packets wait in its queues.
const pendingCheckEvery = int64(5 * time.Millisecond)

// expiryHorizon is the time up to which probes may be declared lost: the
// moment up to which every packet that arrived has been processed, so that
// "lost" means "no reply arrived in time", never "a reply arrived in time
// but was not read yet". Sources, best first:
//   - the receiver blocks (idleBlocking) and has not been woken since,
//     and the datapath's queues are empty now (pending): everything that
//     arrived before now, less DeliveryDelay, is processed. The second
//     read of rxState closes the race with a receiver woken meanwhile:
//     it reads its queues only after idleWoke changed rxState.
//   - rxDrained: the last idle moment or batch that emptied the queues,
//     and, for datapaths whose stamps are in arrival order, the arrival
//     stamp of the newest packet processed.
//   - a receiver that fell behind by more than maxExpiryDelay does not
//     hold losses back any longer.
//
// Datapaths that report nothing (fakes that deliver at once) use now.
// Sender goroutine only.
func (e *Engine) expiryHorizon(now int64) int64 {
	if e.hook == nil && !e.inOrder {
		return now
	}
	h := min(now, e.rxDrained.Load())
	if e.nextExpiry < 0 || e.nextExpiry <= h {
		return h
	}
	if s := e.rxState.Load(); e.hook != nil && s&1 == 1 && now-e.lastPendChk >= pendingCheckEvery {
		e.lastPendChk = now
		if !e.hook.pending() && e.rxState.Load() == s {
			return now - int64(e.info.DeliveryDelay)
		}
	}
	return max(h, now-maxExpiryDelay)
}

// earliestDeadline returns the first deadline of the in-flight probes, or
// -1. Under e.mu.
func (e *Engine) earliestDeadline() int64 {
	next := int64(-1)
	for i := range e.c.fifos {
		f := &e.c.fifos[i]
		if f.head < len(f.q) {
			if d := f.q[f.head].at; next < 0 || d < next {
				next = d
			}
		}
	}
	return next
}

// overloadLag is how far the receiver may fall behind before the sender
// stops sending: probes due meanwhile are skipped (counted, never lost),
// which also gives the receiver the CPU it needs to catch up.
const (
	overloadLag = int64(200 * time.Millisecond)
	skipBatch   = 4096 // probes skipped per sender pass at most (bounds the lock hold)
)

func (e *Engine) overloaded(now int64) bool {
	return e.hook != nil && e.rxState.Load()&1 == 0 && now-e.rxDrained.Load() > overloadLag
}

func (e *Engine) receiver() {
	defer e.wg.Done()
	msgs := make([]Received, recvBatch)
	for {
		e.rxStart = e.mono(e.clock.Now())
		n, err := e.dp.Recv(msgs)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-e.stop:
				return
			default:
			}
			e.mu.Lock()
			e.c.stats.Invalid++
			e.mu.Unlock()
			continue
		}
		t := e.clock.Now()
		now := e.mono(t)
		e.mu.Lock()
		for i := range msgs[:n] {
			e.c.handle(&msgs[i], now)
		}
		e.mu.Unlock()
		drained := e.rxPending // this batch emptied the queues
		e.rxPending = 0
		if e.inOrder {
			// Everything that arrived before the newest packet of this
			// batch is processed now (stamps are Unix ns: convert).
			var last int64
			for i := range msgs[:n] {
				last = max(last, msgs[i].KernelStamp)
			}
			if last != 0 {
				drained = max(drained, min(now, last-(t.UnixNano()-now)))
			}
		}
		if drained > e.rxDrained.Load() {
			e.rxDrained.Store(drained)
		}
	}
}

// resolver resolves host-name targets at start and every DNSRefresh. On
// failure a target keeps its last address and counts the error.
func (e *Engine) resolver(ctx context.Context) {
	defer e.wg.Done()
	refresh := e.spec.Engine.DNSRefresh
	if refresh <= 0 {
		refresh = time.Minute
	}
	for {
		e.resolveAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(refresh):
		case <-e.resolveNow:
		}
	}
}

func (e *Engine) resolveAll(ctx context.Context) {
	type job struct {
		t          *target
		host, prot string
	}
	var jobs []job
	e.mu.Lock()
	for _, t := range e.c.targets {
		if t.spec.Host != "" {
			jobs = append(jobs, job{t, t.spec.Host, t.spec.IPProtocol})
		}
	}
	e.mu.Unlock()
	for _, j := range jobs {
		ip, err := resolve(ctx, j.host, j.prot)
		if ctx.Err() != nil {
			return
		}
		e.mu.Lock()
		if err != nil {
			j.t.dnsErrors++
			e.log.Debug("resolve failed", "target", j.host, "err", err)
		} else {
			e.c.setIP(j.t, ip, e.mono(e.clock.Now()))
		}
		e.mu.Unlock()
	}
	e.nudge()
}

func resolve(ctx context.Context, host, prot string) (netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	network := "ip"
	if prot != IPAny {
		network = prot
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, network, host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap(), nil
		}
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("resolve %s: no address", host)
	}
	return addrs[0].Unmap(), nil
}
