package discovery

import (
	"runtime"
	"syscall"
	"time"
)

// threadCPU runs f on one OS thread and returns the CPU time that thread
// spent: what f costs, without the time other processes of a busy machine
// took the CPU away (wall time on a shared 2-core VM is mostly waiting).
func threadCPU(f func()) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const rusageThread = 1 // RUSAGE_THREAD
	var a, b syscall.Rusage
	_ = syscall.Getrusage(rusageThread, &a)
	f()
	_ = syscall.Getrusage(rusageThread, &b)
	return time.Duration(b.Utime.Nano()+b.Stime.Nano()-a.Utime.Nano()-a.Stime.Nano()) * time.Nanosecond
}
