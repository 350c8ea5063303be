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
// It is an ordinary blocking syscall, so the scheduler may hand this
// thread's processor (P) to other goroutines meanwhile. A raw syscall that
// keeps the P saves a few syscalls more, but starves goroutines queued on
// that P (measured: a scrape and the receiver goroutine runnable and not
// run for seconds, one test run in seven on a loaded 2-core machine).
func threadSleep(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	for {
		_, _, errno := unix.Syscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), uintptr(unsafe.Pointer(&ts)), 0)
		if errno != unix.EINTR {
			return
		}
	}
}
