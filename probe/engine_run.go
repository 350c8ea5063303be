package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

const (
	sendBatch = 128 // probes per Send at most (a window's worth at 100k probes/s)
	recvBatch = 256
)

// Engine probes every target of a Spec continuously over one Datapath. One
// goroutine sends, reads (datapaths that can be read without blocking) and
// declares losses, once per send window; a datapath that can only be read
// blocking gets a receiver goroutine of its own. Its methods are safe for
// concurrent use.
type Engine struct {
	mu    sync.Mutex // guards c
	c     core
	spec  Spec
	dp    Datapath
	info  DatapathInfo
	clock Clock
	log   *slog.Logger

	// polled is the datapath when it can be read without blocking: then
	// the sender goroutine reads it too, once per send window, and there is
	// no receiver goroutine (see loop).
	polled polledReceiver

	// Blocking datapaths (a receiver goroutine): rxDrained is the mono time
	// up to which every arrived packet has been processed, as far as the
	// datapath's stamps tell (DatapathInfo.StampsInOrder); written by the
	// receiver goroutine only.
	rxDrained atomic.Int64
	inOrder   bool

	window atomic.Int64 // send window, ns (sendWindow); set by New and Apply

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
	e.window.Store(sendWindow(&e.spec))
	e.inOrder = e.info.StampsInOrder
	e.polled, _ = dp.(polledReceiver)
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.senderDone = make(chan struct{})
	go e.loop()
	if e.polled == nil {
		e.wg.Add(1)
		go e.receiver()
	}
	e.wg.Add(1)
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
	e.window.Store(sendWindow(&e.spec))
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

// The send window: the sender wakes at most once per window and sends
// every probe that fell due since in one batch (one sendmmsg), so batches
// are made by time, not by chance. The window adapts to the rate: about
// windowBatch probes per batch, from minWindow to maxWindow, and at most
// half the shortest interval. A probe leaves up to one window after its
// due time (the phase moves by that much, the schedule stays even at the
// window's scale); its send stamp is the real one, so RTTs and outage
// times are unaffected. The receiver reads at most once per window too
// (replies wait in the kernel's queue, stamped on arrival).
const (
	windowBatch = 32
	minWindow   = int64(time.Millisecond)
	maxWindow   = int64(5 * time.Millisecond)
)

// sendWindow returns the window for spec (see windowBatch).
func sendWindow(spec *Spec) int64 {
	var rate float64 // probes per second
	shortest := int64(-1)
	for i := range spec.Targets {
		iv := int64(spec.Targets[i].Interval)
		rate += 1e9 / float64(iv)
		if shortest < 0 || iv < shortest {
			shortest = iv
		}
	}
	w := maxWindow
	if rate > 0 {
		w = min(max(int64(windowBatch/rate*1e9), minWindow), maxWindow)
	}
	if shortest > 0 {
		w = min(w, shortest/2)
	}
	return w
}

// loop is the sender goroutine. Once per send window it reads what
// arrived (polled datapaths), declares lost what is past its deadline,
// sends what fell due and sleeps. Reading before declaring losses, in the
// same goroutine, makes "lost" exact: a reply that arrived in time has
// been processed before its probe's deadline is looked at (frames of a
// ring block not yet retired are covered by DeliveryDelay).
func (e *Engine) loop() {
	defer close(e.senderDone)
	pkts := make([]Packet, 0, sendBatch)
	// Room for a batch of minimum-size probes; larger payloads grow it
	// once (collect appends), not per probe.
	buf := make([]byte, 0, sendBatch*(icmpHeaderLen+MinPayload+8))
	var msgs []Received
	if e.polled != nil {
		msgs = make([]Received, recvBatch)
	}
	drained := int64(0) // polled: mono time up to which every arrival is processed
	unseen := int64(0)  // blocking: the first send the receiver may not have seen yet
	timer := e.clock.NewTimer(time.Hour)
	defer timer.Stop()
	holdP := runtime.GOMAXPROCS(0) > 1 // see threadSleep
	for {
		// Checked on every pass, not only when idle: a saturated sender
		// always has probes due and would otherwise never see a stop.
		select {
		case <-e.stop:
			return
		default:
		}
		behind := false
		if e.polled != nil {
			if d, ok := e.drain(msgs); ok {
				drained = d
			} else {
				behind = true
			}
		} else {
			behind = e.receiverBehind(unseen)
		}
		e.mu.Lock()
		// The send stamp is read once the lock is held: a wait for the lock
		// is not part of any RTT.
		t := e.clock.Now()
		now := e.mono(t)
		horizon := now
		if e.polled != nil {
			horizon = drained
		} else if e.inOrder {
			horizon = e.rxDrained.Load()
		}
		// A receive side that fell far behind does not hold losses back
		// for ever.
		e.c.expire(min(now, max(horizon, now-maxExpiryDelay)))
		if behind {
			e.c.skipDue(now, skipBatch)
		}
		pkts, buf = e.c.collect(now, t.UnixNano(), pkts, buf[:0])
		next, maxPPS, window := e.c.nextWake(), e.c.maxPPS, e.window.Load()
		e.mu.Unlock()
		if len(pkts) > 0 {
			if unseen == 0 || unseen <= e.rxDrained.Load() {
				unseen = now
			}
			_, _ = e.dp.Send(pkts) // failures are marked per packet
			e.mu.Lock()
			e.c.sent(pkts, now)
			e.mu.Unlock()
			if len(pkts) == cap(pkts) {
				continue // more may be due: a full batch is no reason to wait
			}
		}
		wait := time.Duration(window) // the replies of this batch, or a deadline held back
		if len(pkts) == 0 && next < 0 {
			wait = time.Hour
		} else if len(pkts) == 0 && next > now {
			// Not before the window is over: what falls due meanwhile
			// joins the next batch.
			wait = time.Duration(max(next-now, window))
		}
		if next >= 0 && next <= now && maxPPS > 0 {
			wait = min(wait, time.Second/time.Duration(maxPPS)) // held back by max_pps
		}
		// The clock moved on while the batch was sent.
		wait -= time.Duration(e.mono(e.clock.Now()) - now)
		if wait <= 0 {
			continue
		}
		if wait <= time.Duration(maxWindow) {
			threadSleep(wait, holdP)
			continue
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

// maxDrainReads bounds the reads of one drain: a loop that is that far
// behind skips sends until it caught up.
const maxDrainReads = 16

// drain reads and processes everything the polled datapath holds. It
// returns the mono time up to which every packet that arrived has been
// processed, and false when it stopped before the queues were empty.
func (e *Engine) drain(msgs []Received) (int64, bool) {
	delay := int64(e.info.DeliveryDelay)
	for range maxDrainReads {
		start := e.mono(e.clock.Now())
		n, empty, err := e.polled.recvNow(msgs)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				e.mu.Lock()
				e.c.stats.Invalid++
				e.mu.Unlock()
			}
			return 0, false
		}
		if n > 0 {
			now := e.mono(e.clock.Now())
			e.mu.Lock()
			for i := range msgs[:n] {
				e.c.handle(&msgs[i], now)
			}
			e.mu.Unlock()
		}
		if empty {
			// Everything that arrived before this read started is
			// processed, less what the datapath holds back.
			return start - delay, true
		}
	}
	return 0, false
}

// maxExpiryDelay bounds how long probes wait for a receive side that fell
// behind before they are declared lost anyway.
const maxExpiryDelay = int64(500 * time.Millisecond)

// overloadLag is how far the receiver may fall behind before the sender
// stops sending: probes due meanwhile are skipped (counted, never lost),
// which also gives the receiver the CPU it needs to catch up.
const (
	overloadLag = int64(200 * time.Millisecond)
	skipBatch   = 4096 // probes skipped per sender pass at most (bounds the lock hold)
)

// receiverBehind reports whether the receiver goroutine of a blocking
// datapath fell behind by more than overloadLag: a datapath whose stamps
// are in arrival order shows our requests too (a ring), so a send at
// unseen, longer ago than that, not yet processed means it lags. Without
// such stamps it cannot tell.
func (e *Engine) receiverBehind(unseen int64) bool {
	d := e.rxDrained.Load()
	return e.inOrder && d != 0 && unseen > d && e.mono(e.clock.Now())-unseen > overloadLag
}

// receiver is the receiver goroutine of a datapath that can only be read
// blocking (Recv).
func (e *Engine) receiver() {
	defer e.wg.Done()
	msgs := make([]Received, recvBatch)
	for {
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
		if e.inOrder {
			// Everything that arrived before the newest packet of this
			// batch is processed now (stamps are Unix ns: convert).
			var last int64
			for i := range msgs[:n] {
				last = max(last, msgs[i].KernelStamp)
			}
			if d := min(now, last-(t.UnixNano()-now)); last != 0 && d > e.rxDrained.Load() {
				e.rxDrained.Store(d)
			}
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
