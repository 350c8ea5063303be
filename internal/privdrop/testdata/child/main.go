//go:build linux

// Command child is the half of privdrop's TestDropKeepsOpenSockets that
// drops the capabilities of its own process: it opens a raw ICMP socket,
// calls privdrop.Drop(nil), prints the capability sets, sends an echo
// request to 127.0.0.1 on the socket it opened before and checks that a new
// raw socket is refused.
package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/icmp-exporter/icmp_exporter/internal/privdrop"
)

func main() { os.Exit(child()) }

func child() int {
	// A raw ICMP socket opened while CAP_NET_RAW is held.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
	if err != nil {
		fmt.Println("open raw socket before the drop:", err)
		return 3
	}
	if err := privdrop.Drop(nil); err != nil {
		fmt.Println("drop:", err)
		return 1
	}
	s, err := privdrop.Status(0)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Printf("eff=%x prm=%x inh=%x amb=%x bnd=%x\n", s.Effective, s.Permitted, s.Inheritable, s.Ambient, s.Bounding)
	// The open socket still sends (an echo request to loopback)...
	echo := []byte{8, 0, 0xf7, 0xfe, 0, 1, 0, 0}
	if err := unix.Sendto(fd, echo, 0, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("send on the socket opened before the drop:", err)
		return 1
	}
	// ...but a new one cannot be opened.
	if fd2, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP); err == nil {
		unix.Close(fd2)
		fmt.Println("a raw socket opened after the drop")
		return 1
	} else if !errors.Is(err, syscall.EPERM) {
		fmt.Println("new raw socket after the drop:", err)
		return 1
	}
	fmt.Println("ok")
	return 0
}
