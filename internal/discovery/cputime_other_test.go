//go:build !linux

package discovery

import "time"

// threadCPU runs f and returns its wall time (thread CPU time is read on
// Linux only).
func threadCPU(f func()) time.Duration {
	t0 := time.Now()
	f()
	return time.Since(t0)
}
