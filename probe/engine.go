package probe

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Engine probes every target of a Spec continuously over one Datapath. One
// goroutine sends, reads (datapaths that can be read without blocking) and
// declares losses, once per send window; a datapath that can only be read
// blocking gets a receiver goroutine of its own. Its methods are safe for
// concurrent use.
type Engine struct {
	mu   sync.Mutex // guards c
	c    core
	spec Spec
	dp   Datapath
	info DatapathInfo
	log  *slog.Logger

	// applyMu serialises Apply: it plans the new target table outside mu
	// (core.plan) and holds mu only to install it.
	applyMu sync.Mutex

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
	df     dfState      // path MTU probes (pmtu_engine.go)

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
		log:        opts.Logger,
		wake:       make(chan struct{}, 1),
		resolveNow: make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	now := time.Now()
	e.c = core{
		epoch:    now,
		tagger:   tagger,
		id4:      e.info.ID4,
		id6:      e.info.ID6,
		logger:   opts.Logger,
		onResult: opts.OnResult,
		onOutage: opts.OnOutage,
		onPath:   opts.OnPath,
	}
	e.c.stats.Datapath = e.info.Name
	e.c.stats.TimestampSource = e.info.TimestampSource
	e.c.stats.StartTime = now
	e.c.apply(&e.spec, 0)
	e.openDF(&e.spec)
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
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	// e.spec, e.c.targets and the targets' specs change only here, under
	// applyMu: reading them without mu is safe.
	if spec.Engine != e.spec.Engine {
		return fmt.Errorf("engine settings changed: restart the exporter to apply them")
	}
	p := e.c.plan(&spec) // spec shares its Targets array with e.spec below
	window := sendWindow(&spec)
	e.mu.Lock()
	start := time.Now()
	e.spec = spec
	e.c.install(p, &e.spec, e.mono(start))
	e.window.Store(window)
	hold := time.Since(start)
	const chunk = 4096 // kept targets repointed per hold of the lock
	for from := 0; from < len(p.targets); from += chunk {
		e.mu.Unlock()
		e.mu.Lock()
		start = time.Now()
		e.c.repoint(p, &e.spec, from, min(from+chunk, len(p.targets)), e.mono(start))
		hold = max(hold, time.Since(start))
	}
	// Vantage scopes and path state are set up from the repointed targets' groups and
	// states (one pass, no allocation per target).
	start = time.Now()
	e.c.vantageApply(&e.spec, e.mono(start))
	e.c.pathApply(&e.spec, e.mono(start))
	e.openDF(&e.spec)
	hold = max(hold, time.Since(start))
	e.c.stats.ApplyLockHold = hold
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
	dst.Time = time.Now()
	dst.Source = e.spec.Source
	dst.Engine = e.c.stats
	dst.Engine.Path = e.c.pathStats()
	if e.info.Drops != nil {
		dst.Engine.KernelDrops = e.info.Drops()
	}
	if e.info.Freezes != nil {
		dst.Engine.RingFreezes = e.info.Freezes()
	}
	dst.Vantage = e.c.vantageSnapshot(dst.Vantage)
	targets := e.c.targets // the slice header is replaced, never mutated in place, by apply
	n := len(targets)
	if cap(dst.Targets) < n {
		dst.Targets = append(dst.Targets[:cap(dst.Targets)], make([]TargetSnapshot, n-cap(dst.Targets))...)
	}
	dst.Targets = dst.Targets[:n]
	lazy := dst.deferHist
	dst.live, dst.eng = nil, nil
	if lazy {
		dst.live, dst.eng = targets, e
	}
	for i := 0; i < n; i++ {
		if i%chunk == 0 && i > 0 {
			e.mu.Unlock()
			e.mu.Lock()
		}
		targets[i].copyTo(&dst.Targets[i], e.c.epoch, !lazy)
	}
	e.mu.Unlock()
	return dst
}

// readHistograms is Snapshot.ReadHistograms for a deferred snapshot whose
// targets are live.
func (e *Engine) readHistograms(live []*target, k HistKind, idx []int, dst []Histogram) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for j, i := range idx {
		live[i].copyHist(k, &dst[j])
	}
}

// Close stops probing and closes the datapath. It is safe to call twice.
func (e *Engine) Close() error {
	var err error
	e.closed.Do(func() {
		close(e.stop)
		e.cancel()
		<-e.senderDone // no Send in flight when the sockets close
		e.closeDF()
		err = e.dp.Close()
		e.wg.Wait()
	})
	return err
}

// NumTargets is the number of targets the engine probes (what a Snapshot
// would hold), without copying them.
func (e *Engine) NumTargets() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.c.targets)
}
