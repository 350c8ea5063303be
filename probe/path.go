package probe

import (
	"fmt"
	"net/netip"
	"time"
)

// PathSpec configures the path snapshots of a target: TTL-limited echo
// requests (TTL 1..MaxHops) whose ICMP time-exceeded answers name the
// routers on the way (see docs/path.md). The zero value takes none.
type PathSpec struct {
	// Enabled takes a snapshot when the target goes down, when it comes
	// back, and on the Baseline cycle while it is up.
	Enabled bool
	// MaxHops is the highest TTL a snapshot probes (1..MaxPathHops).
	MaxHops int
	// Baseline is how often an up target's path is taken again; 0 is the
	// default (DefaultPathBaseline while the Spec has at most
	// PathBaselineAutoTargets targets with paths, off above), PathBaselineOff
	// never.
	Baseline time.Duration
	// Cooldown is the shortest time between the starts of two snapshots of
	// the target: a snapshot asked for sooner waits until it is over.
	Cooldown time.Duration
	// MTU configures path MTU discovery (pmtu.go).
	MTU MTUSpec
}

// Limits and defaults of PathSpec.
const (
	MaxPathHops             = 64
	DefaultPathMaxHops      = 30
	DefaultPathBaseline     = 10 * time.Minute
	DefaultPathCooldown     = 30 * time.Second
	PathBaselineOff         = time.Duration(-1)
	PathBaselineAutoTargets = 1000
	// DefaultPathPPS is the path probe budget unless EngineSpec.PathPPS
	// sets one; never more than half of EngineSpec.MaxPPS (PathPPSFor).
	DefaultPathPPS = 1000
)

func (p *PathSpec) validate() error {
	if !p.Enabled && !p.MTU.Enabled {
		return nil
	}
	switch {
	case p.MaxHops < 1 || p.MaxHops > MaxPathHops:
		return fmt.Errorf("path max_hops %d: must be between 1 and %d", p.MaxHops, MaxPathHops)
	case p.Baseline < PathBaselineOff:
		return fmt.Errorf("path baseline %s: must be >= 0", p.Baseline)
	case p.Cooldown < 0:
		return fmt.Errorf("path cooldown %s: must be >= 0", p.Cooldown)
	}
	return p.MTU.validate()
}

// PathPPSFor returns the path probe budget (probes per second) of an
// engine: EngineSpec.PathPPS, else DefaultPathPPS, at most half of MaxPPS
// when MaxPPS is set (at least 1). Path probes also take their tokens from
// the MaxPPS bucket, after the regular probes.
func PathPPSFor(e EngineSpec) int {
	pps := e.PathPPS
	if pps <= 0 {
		pps = DefaultPathPPS
	}
	if e.MaxPPS > 0 {
		pps = min(pps, max(e.MaxPPS/2, 1))
	}
	return pps
}

// Reasons a path snapshot is taken (PathResult.Reason).
const (
	PathReasonDown     = "down"     // the target went down
	PathReasonUp       = "up"       // it came back
	PathReasonBaseline = "baseline" // the slow cycle for up targets
	PathReasonTrace    = "trace"    // asked for (Engine.TracePath)
)

// PathHop is one TTL of a snapshot.
type PathHop struct {
	TTL int
	// Addr answered this TTL (a router's time exceeded or other error, or
	// the target's echo reply); invalid when nothing answered in time.
	Addr netip.Addr
	RTT  time.Duration
	// Error is the ICMP error the hop answered with; Reply marks the
	// target's echo reply.
	Error ErrorType
	Reply bool
}

// Answered reports whether anything answered this TTL.
func (h PathHop) Answered() bool { return h.Addr.IsValid() }

// PathResult is one path snapshot of a target.
type PathResult struct {
	Time   time.Time // start of the snapshot
	Reason string    // PathReason*
	Hops   []PathHop // TTL 1 up to the last TTL probed
	// Reached says the target answered; HopCount is then the smallest TTL
	// it answered at.
	Reached  bool
	HopCount int
	// LastHop is the farthest address that answered (the target when
	// Reached), LastHopTTL its TTL; invalid and 0 when nothing answered.
	LastHop    netip.Addr
	LastHopTTL int
	// Changed says the path differs from the baseline (the last snapshot
	// that reached the target): see PathResult.Differs.
	Changed bool
	Probes  int // probes the snapshot sent
}

// Differs reports whether two snapshots show different paths: one reached
// the target and the other not, their hop counts differ, or a TTL that
// answered in both answered from different addresses. A TTL that did not
// answer in one of them (rate-limited routers) is no difference.
func (r *PathResult) Differs(o *PathResult) bool {
	if r.Reached != o.Reached || r.HopCount != o.HopCount {
		return true
	}
	for i := range min(len(r.Hops), len(o.Hops)) {
		a, b := r.Hops[i], o.Hops[i]
		if a.Answered() && b.Answered() && a.Addr != b.Addr {
			return true
		}
	}
	return false
}

// String formats the hops like "1 10.0.0.1 0.2ms, 2 *, 3 10.0.2.1 0.4ms".
func (r *PathResult) String() string {
	b := make([]byte, 0, 32*len(r.Hops))
	for i, h := range r.Hops {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = fmt.Appendf(b, "%d ", h.TTL)
		if !h.Answered() {
			b = append(b, '*')
			continue
		}
		b = fmt.Appendf(b, "%s %.3fms", h.Addr, float64(h.RTT)/1e6)
	}
	return string(b)
}

// PathInfo is a copy of a target's path state.
type PathInfo struct {
	// Last is the newest snapshot, Baseline the newest that reached the
	// target; nil before any.
	Last, Baseline *PathResult
	// History holds the last snapshots, oldest first (at most pathHistory).
	History []PathResult
	// Changes counts snapshots whose path differed from the one before
	// (PathResult.Differs).
	Changes   uint64
	Snapshots uint64
	MTU       MTUInfo
}

// PathEvent reports a finished snapshot (Options.OnPath).
type PathEvent struct {
	Target *TargetSpec
	Result PathResult
}

// pathHistory is how many snapshots a target keeps for PathInfo.History.
const pathHistory = 8
