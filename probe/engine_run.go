package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
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

	// Receive progress (see expiryHorizon): rxDrained is the mono time up
	// to which every arrived packet has been processed; hooked says the
	// datapath reports it.
	rxDrained atomic.Int64
	rxBlocked atomic.Bool // the receiver waits for packets: nothing is queued
	rxPending int64       // receiver goroutine only: drained time of the batch being processed
	hooked    bool

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
	if h, ok := dp.(idleHooker); ok {
		e.hooked = true
		delay := int64(e.info.DeliveryDelay)
		h.setIdleHook(func(blocking bool) {
			now := e.mono(e.clock.Now()) - delay
			if !blocking {
				e.rxPending = now // published once this batch is processed
				return
			}
			e.rxDrained.Store(now)
			e.rxBlocked.Store(true)
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.wg.Add(2)
	e.senderDone = make(chan struct{})
	go e.sender()
	go e.receiver()
	go e.resolver(ctx, spec.Engine.DNSRefresh, opts.Resolver)
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
		t := e.clock.Now()
		e.mu.Lock()
		now := e.mono(t)
		e.c.expire(e.expiryHorizon(now))
		if e.overloaded(now) {
			e.c.skipDue(now, skipBatch)
		}
		pkts, buf = e.c.collect(now, t.UnixNano(), pkts, buf[:0])
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

// expiryHorizon is the time up to which probes may be declared lost: the
// moment up to which every packet that arrived has been processed, so a
// reply that arrived in time but was not yet read never becomes a loss.
// Datapaths that do not report it use now.
func (e *Engine) expiryHorizon(now int64) int64 {
	if !e.hooked {
		return now
	}
	if e.rxBlocked.Load() {
		// A receiver blocked in poll has processed everything that arrived
		// before it blocked (less what the datapath may still hold back);
		// a reply arriving after that and before a deadline that is already
		// due came after timeout+grace: late anyway.
		return now - int64(e.info.DeliveryDelay)
	}
	return min(now, max(e.rxDrained.Load(), now-maxExpiryDelay))
}

// overloadLag is how far the receiver may fall behind before the sender
// stops sending: probes due meanwhile are skipped (counted, never lost),
// which also gives the receiver the CPU it needs to catch up.
const (
	overloadLag = int64(200 * time.Millisecond)
	skipBatch   = 4096 // probes skipped per sender pass at most (bounds the lock hold)
)

func (e *Engine) overloaded(now int64) bool {
	return e.hooked && !e.rxBlocked.Load() && now-e.rxDrained.Load() > overloadLag
}

func (e *Engine) receiver() {
	defer e.wg.Done()
	msgs := make([]Received, recvBatch)
	for {
		n, err := e.dp.Recv(msgs)
		e.rxBlocked.Store(false)
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
		now := e.mono(e.clock.Now())
		e.mu.Lock()
		for i := range msgs[:n] {
			e.c.handle(&msgs[i], now)
		}
		e.mu.Unlock()
		if e.rxPending != 0 {
			// This batch emptied the queues: everything that arrived before
			// it was read is processed now.
			e.rxDrained.Store(max(e.rxDrained.Load(), e.rxPending))
			e.rxPending = 0
		}
	}
}
