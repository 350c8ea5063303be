//go:build linux

package probe

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// wakeEventfd adds one to the eventfd fd (when open), which wakes a
// receiver blocked in poll(2) on it; Close uses it to unblock Recv.
func wakeEventfd(fd int) {
	if fd < 0 {
		return
	}
	var one [8]byte
	one[0] = 1
	_, _ = unix.Write(fd, one[:])
}

// pollRecv is Recv for a datapath that can be read without blocking (read)
// and waited on with poll(2) on pfd (its sockets and its Close eventfd). It
// returns what read finds, blocking until there is some; once closed is
// set it calls free and returns net.ErrClosed. what names the queues in
// errors.
func pollRecv(msgs []Received, closed *atomic.Bool, free func(), read func([]Received) int, pfd []unix.PollFd, what string) (int, error) {
	for {
		if closed.Load() {
			free()
			return 0, net.ErrClosed
		}
		if n := read(msgs); n > 0 {
			return n, nil
		}
		for i := range pfd {
			pfd[i].Revents = 0
		}
		if _, err := unix.Poll(pfd, -1); err != nil && !errors.Is(err, unix.EINTR) {
			return 0, fmt.Errorf("poll %s: %w", what, err)
		}
	}
}
