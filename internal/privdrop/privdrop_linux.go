//go:build linux

package privdrop

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Drop lowers the capabilities of every thread of the process to keep
// (capability numbers; those the process does not hold are ignored), clears
// the ambient set, drops the rest of the bounding set when CAP_SETPCAP
// allows, and sets no_new_privs. See the package documentation.
func Drop(keep []int) error {
	before, err := Status(0)
	if err != nil {
		return err
	}
	var keepMask uint64
	for _, c := range keep {
		if c >= 0 && c < 64 {
			keepMask |= 1 << c
		}
	}
	keepMask &= before.Permitted

	if err := allThreads(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	if err := allThreads(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0); err != nil {
		return fmt.Errorf("clear the ambient capabilities: %w", err)
	}
	if before.Effective&(1<<unix.CAP_SETPCAP) != 0 {
		for c := 0; c <= lastCap(); c++ {
			if keepMask&(1<<c) != 0 || before.Bounding&(1<<c) == 0 {
				continue
			}
			if err := allThreads(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); err != nil {
				return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
			}
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := range data {
		w := uint32(keepMask >> (32 * i))
		data[i] = unix.CapUserData{Effective: w, Permitted: w, Inheritable: 0}
	}
	err = allThreads(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	runtime.KeepAlive(&hdr)
	runtime.KeepAlive(&data)
	if err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

// allThreads runs a three-argument system call on every thread of the
// process. It fails with ErrNotSupported in binaries built with cgo.
func allThreads(trap, a1, a2, a3 uintptr) error {
	_, _, errno := syscall.AllThreadsSyscall(trap, a1, a2, a3)
	switch errno {
	case 0:
		return nil
	case syscall.ENOTSUP:
		return ErrNotSupported
	default:
		return errno
	}
}

// lastCap is the highest capability number this kernel knows.
func lastCap() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n < 64 {
			return n
		}
	}
	return unix.CAP_LAST_CAP
}
