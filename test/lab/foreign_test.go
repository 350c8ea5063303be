//go:build linux

package lab

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// TestSendForeignEchoes captures, with raw sockets in the target namespace,
// the echo requests SendForeignEchoes sends: one per address, with the
// foreign id and (IPv4) a valid checksum.
func TestSendForeignEchoes(t *testing.T) {
	l := New(t, Options{})
	addrs := append(l.Addrs(3, false), l.Addrs(2, true)...)
	var c4, c6 *icmp.PacketConn
	if err := l.DoTarget(func() error {
		var err error
		if c4, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0"); err != nil {
			return err
		}
		c6, err = icmp.ListenPacket("ip6:ipv6-icmp", "::")
		return err
	}); err != nil {
		t.Fatalf("raw sockets in the target namespace: %v", err)
	}
	defer c4.Close()
	defer c6.Close()

	if err := l.SendForeignEchoes(addrs); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		c     *icmp.PacketConn
		proto int
		typ   icmp.Type
		want  int
	}{
		{"ipv4", c4, 1, ipv4.ICMPTypeEcho, 3},
		{"ipv6", c6, 58, ipv6.ICMPTypeEchoRequest, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 1500)
			seqs := map[int]bool{}
			for len(seqs) < tc.want {
				n, from, err := tc.c.ReadFrom(buf)
				if err != nil {
					t.Fatalf("got %d of %d foreign echo requests: %v", len(seqs), tc.want, err)
				}
				m, err := icmp.ParseMessage(tc.proto, buf[:n])
				if err != nil || m.Type != tc.typ {
					continue // other ICMP traffic (e.g. MLD)
				}
				echo, ok := m.Body.(*icmp.Echo)
				if !ok || echo.ID != ForeignEchoID || seqs[echo.Seq] {
					t.Errorf("echo request %+v from %v: want id %#x, each seq once", m.Body, from, ForeignEchoID)
					continue
				}
				seqs[echo.Seq] = true
				if tc.proto == 1 && checksum(buf[:n]) != 0xffff {
					t.Errorf("echo request seq %d: bad ICMP checksum", echo.Seq)
				}
			}
		})
	}

	t.Run("refuses other addresses", func(t *testing.T) {
		err := l.SendForeignEchoes([]netip.Addr{addrs[0], netip.MustParseAddr("192.0.2.1")})
		if err == nil || !strings.Contains(err.Error(), "192.0.2.1 is not a lab target address") {
			t.Errorf("err = %v, want a refusal of 192.0.2.1", err)
		}
	})
}

// checksum is the ones' complement sum of b (0xffff for a valid ICMP message).
func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	s = s&0xffff + s>>16
	s = s&0xffff + s>>16
	return uint16(s)
}
