//go:build linux

package probe

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// threadSleep sleeps d in the kernel (nanosleep) instead of on a runtime
// timer, for the short sleeps of the send window (at most maxWindow). A
// runtime timer per window costs several syscalls: the scheduler's network
// poller wakes, is interrupted when the timer is re-armed (a write and a
// read on its eventfd), and goroutines move between threads (futex).
//
// With holdP the sleep is a raw syscall: the scheduler does not see it, so
// neither the system monitor nor a hand-off of this thread's processor
// (P) to another thread adds syscalls. The P stays taken meanwhile: other
// goroutines run on the other Ps, and a garbage-collector stop-the-world
// waits for the sleep to end (at most maxWindow). Callers pass holdP only
// with GOMAXPROCS > 1. Without holdP it is an ordinary blocking syscall.
// Stops and nudges are seen after the sleep.
func threadSleep(d time.Duration, holdP bool) {
	ts := unix.NsecToTimespec(int64(d))
	for {
		var errno unix.Errno
		if holdP {
			_, _, errno = unix.RawSyscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), uintptr(unsafe.Pointer(&ts)), 0)
		} else {
			_, _, errno = unix.Syscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), uintptr(unsafe.Pointer(&ts)), 0)
		}
		if errno != unix.EINTR {
			return
		}
	}
}
