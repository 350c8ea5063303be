//go:build linux

package faults

import (
	"os/exec"
	"syscall"
)

func execOut(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}

// smallRcvBuf is a net.Dialer Control that shrinks the socket's receive
// buffer, so a client that does not read makes the server's writes block
// early.
func smallRcvBuf(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	if err != nil {
		return err
	}
	return serr
}
