//go:build linux

package probe

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestICMPSendNoFrag: an IPv4 socket sends the probes no link fragments
// with IP_PMTUDISC_DO (the kernel gives them IP ID 0 and skips its shared
// ID generator); the first larger probe gives the socket its own mode back
// for good, and probes of both kinds are answered.
func TestICMPSendNoFrag(t *testing.T) {
	d, err := openICMPWith(EngineSpec{}, false)
	if err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("needs CAP_NET_RAW or ping_group_range: %v", err)
		}
		t.Fatal(err)
	}
	defer d.Close()
	s := d.s4
	mode := func() int {
		t.Helper()
		v, err := unix.GetsockoptInt(s.fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if !s.noFrag || mode() != unix.IP_PMTUDISC_DO || s.pmtuMode == unix.IP_PMTUDISC_DO {
		t.Fatalf("fresh socket: noFrag %v mode %d (own mode %d), want IP_PMTUDISC_DO", s.noFrag, mode(), s.pmtuMode)
	}
	tg, err := NewTaggerKey([16]byte{7})
	if err != nil {
		t.Fatal(err)
	}
	replies := make(chan uint32, 16)
	go func() {
		msgs := make([]Received, 8)
		for {
			n, err := d.Recv(msgs)
			if err != nil {
				return
			}
			for _, m := range msgs[:n] {
				var e Echo
				if len(m.Buf) > 0 && m.Buf[0] == icmpv4EchoReply && ParseEcho(m.Buf, icmpv4EchoReply, &e) == nil && e.Full {
					replies <- e.Serial
				}
			}
		}
	}()
	dst := netip.MustParseAddr("127.0.0.1")
	send := func(serial uint32, payload int) {
		t.Helper()
		buf := AppendEcho(nil, tg, dst, d.info.ID4, serial, time.Now().UnixNano(), payload)
		if n, err := d.Send([]Packet{{Dst: dst, Buf: buf}}); n != 1 || err != nil {
			t.Fatalf("send %d bytes of payload: %d sent, %v", payload, n, err)
		}
	}
	send(1, MinPayload) // 46 bytes
	send(2, maxNoFragV4-ipHeaderLen(false)-icmpHeaderLen)
	if !s.noFrag || mode() != unix.IP_PMTUDISC_DO {
		t.Fatalf("after probes of at most %d bytes: noFrag %v mode %d", maxNoFragV4, s.noFrag, mode())
	}
	send(3, maxNoFragV4-ipHeaderLen(false)-icmpHeaderLen+1)
	if s.noFrag || mode() != s.pmtuMode {
		t.Fatalf("after a larger probe: noFrag %v mode %d, want the socket's own %d", s.noFrag, mode(), s.pmtuMode)
	}
	send(4, MinPayload)
	if s.noFrag || mode() != s.pmtuMode {
		t.Fatalf("a small probe after a larger one: noFrag %v mode %d, want the own mode for good", s.noFrag, mode())
	}
	want := map[uint32]bool{1: true, 2: true, 3: true, 4: true}
	timeout := time.After(20 * time.Second)
	for len(want) > 0 {
		select {
		case sn := <-replies:
			delete(want, sn)
		case <-timeout:
			t.Fatalf("no reply to the probes with serials %v", want)
		}
	}
}
