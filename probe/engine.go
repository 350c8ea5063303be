package probe

import (
	"errors"
	"log/slog"
	"time"
)

// ErrNotSupported is returned (wrapped) when a datapath or feature is not
// available in this build or on this platform. Match it with errors.Is.
var ErrNotSupported = errors.New("not supported")

// Options are the optional parts of an Engine.
type Options struct {
	// Logger receives engine events (start, outages, reloads); never one
	// line per packet. Nil discards.
	Logger *slog.Logger
	// Datapath replaces the one EngineSpec.Datapath names (tests, fakes).
	Datapath Datapath
	// Clock replaces the system clock (tests).
	Clock Clock
	// OnResult, when set, is called from the engine goroutine for every
	// probe that ends (reply, lost or error). It must not block.
	OnResult func(Result)
	// Resolver resolves host-name targets (resolve.go); nil uses
	// net.DefaultResolver.
	Resolver Resolver
	// OnOutage, when set, is called from the engine goroutine when an outage
	// starts and when it ends. It must not block.
	OnOutage func(OutageEvent)
}

// ResultKind says how a probe ended.
type ResultKind uint8

// Result kinds.
const (
	ResultReply ResultKind = iota
	ResultLost
	ResultError
)

// Result is the fate of one probe.
type Result struct {
	Target *TargetSpec
	IP     [16]byte // address probed (v4 in v4-mapped form); use Addr()
	Kind   ResultKind
	Sent   time.Time // wall clock send time
	RTT    time.Duration
	Error  ErrorType // with ResultError
}

// OutageEvent reports the start (Outage.Ongoing) or the end of an outage.
type OutageEvent struct {
	Target *TargetSpec
	Outage Outage
}

// Clock is the time source of the engine. Monotonic readings come from Now;
// wall time is derived from the wall clock at start plus monotonic offsets.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once after d.
	NewTimer(d time.Duration) Timer
}

// Timer is a stoppable, resettable one-shot timer.
type Timer interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
func (systemClock) NewTimer(d time.Duration) Timer {
	return sysTimer{time.NewTimer(d)}
}

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time   { return t.t.C }
func (t sysTimer) Reset(d time.Duration) { t.t.Reset(d) }
func (t sysTimer) Stop()                 { t.t.Stop() }

// Engine API (implemented in engine_run.go):
//
//	func New(spec Spec, opts Options) (*Engine, error)   // validates, opens the datapath, starts probing
//	func (e *Engine) Apply(spec Spec) error               // reload: diff by TargetSpec.Key, keep state of unchanged keys
//	func (e *Engine) Snapshot(dst *Snapshot) *Snapshot    // copy state, reusing dst's buffers when dst != nil
//	func (e *Engine) Info() DatapathInfo
//	func (e *Engine) Close() error                        // stop goroutines, close datapath
