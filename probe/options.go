package probe

import (
	"log/slog"
	"time"
)

// Options are the optional parts of an Engine.
type Options struct {
	// Logger receives engine events (start, outages, reloads); never one
	// line per packet. Nil discards.
	Logger *slog.Logger
	// Datapath replaces the one EngineSpec.Datapath names (tests, fakes).
	Datapath Datapath
	// OnResult, when set, is called from the engine goroutine for every
	// probe that ends (reply, lost or error). It must not block.
	OnResult func(Result)
	// OnOutage, when set, is called from the engine goroutine when an outage
	// starts and when it ends. It must not block.
	// Resolver resolves host-name targets (resolve.go); nil uses
	// net.DefaultResolver.
	Resolver Resolver
	OnOutage func(OutageEvent)
	// OnPath, when set, is called from the engine goroutine when a path
	// snapshot finished. It must not block.
	OnPath func(PathEvent)
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
