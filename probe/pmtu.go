package probe

import (
	"fmt"
	"time"
)

// MTUSpec configures path MTU discovery for a target: on a slow cycle, echo
// requests that routers may not fragment (IPv4 DF; IPv6 never fragments in
// transit) of sizes chosen by binary search up to Max bytes; "fragmentation
// needed" / "packet too big" errors quoting them, and which sizes the
// target answers, give the path MTU (see docs/path.md).
type MTUSpec struct {
	Enabled bool
	// Max is the largest IP packet size tried, in bytes (MinMTU4..MaxMTU).
	Max int
	// Interval is how often the search runs (at least MinMTUInterval).
	Interval time.Duration
}

// Limits and defaults of MTUSpec.
const (
	MinMTU4            = 68   // RFC 791
	MinMTU6            = 1280 // RFC 8200
	MaxMTU             = 9000
	DefaultMTUMax      = 1500
	DefaultMTUInterval = 10 * time.Minute
	MinMTUInterval     = time.Second
)

func (m *MTUSpec) validate() error {
	if !m.Enabled {
		return nil
	}
	if m.Max < MinMTU4 || m.Max > MaxMTU {
		return fmt.Errorf("path mtu max %d: must be between %d and %d", m.Max, MinMTU4, MaxMTU)
	}
	if m.Interval < MinMTUInterval {
		return fmt.Errorf("path mtu interval %s: must be at least %s", m.Interval, MinMTUInterval)
	}
	return nil
}

// MTUInfo is a target's path MTU state.
type MTUInfo struct {
	// MTU is the path MTU in bytes found by the last search; 0 before one
	// finished with an answer.
	MTU     int
	Changes uint64 // searches whose MTU differed from the one before
	Last    time.Time
}
