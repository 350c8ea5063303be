//go:build linux

package probe

import "golang.org/x/sys/unix"

// bootOffset returns CLOCK_BOOTTIME - CLOCK_MONOTONIC in ns: it grows by
// the time the host was suspended, which the monotonic clock (Go's, and
// the engine's schedule) does not count. Two syscalls (x/sys reads no
// vDSO): the loop calls it only when the wall clock jumped. -1 when unknown.
func bootOffset() int64 {
	var boot, mono unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot) != nil || unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono) != nil {
		return -1
	}
	return boot.Nano() - mono.Nano()
}
