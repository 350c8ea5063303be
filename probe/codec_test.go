package probe

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"testing"
)

func testTagger(t testing.TB) *Tagger {
	tg, err := NewTaggerKey([16]byte{0: 0x2b, 1: 0x7e, 2: 0x15, 3: 0x16})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// TestAppendEchoWireBytes checks the echo request bytes by hand: type,
// code, checksum (v4), id, low serial, send time, high serial, tag.
func TestAppendEchoWireBytes(t *testing.T) {
	tg := testTagger(t)
	cases := []struct {
		name   string
		dst    string
		header string // type code cksum id seq
	}{
		{"ipv4", "192.0.2.7", "0800"},
		{"ipv6", "2001:db8::7", "8000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := netip.MustParseAddr(tc.dst)
			b := AppendEcho(nil, tg, dst, 0xbeef, 0x00020003, 0x0102030405060708, MinPayload)
			if len(b) != 8+18 {
				t.Fatalf("len %d, want 26", len(b))
			}
			if got := hex.EncodeToString(b[:2]); got != tc.header {
				t.Errorf("type/code %s, want %s", got, tc.header)
			}
			if got := hex.EncodeToString(b[4:8]); got != "beef0003" {
				t.Errorf("id/seq %s, want beef0003", got)
			}
			if got := hex.EncodeToString(b[8:18]); got != "01020304050607080002" {
				t.Errorf("stamp/serial-high %s", got)
			}
			tag := tg.Tag(dst, 0xbeef, 0x00020003, 0x0102030405060708)
			var want [8]byte
			for i := range want {
				want[i] = byte(tag >> (56 - 8*i))
			}
			if !bytes.Equal(b[18:26], want[:]) {
				t.Errorf("tag %x, want %x", b[18:26], want)
			}
			if dst.Is4() {
				if checksum(b) != 0 {
					t.Errorf("IPv4 checksum does not verify: %x", b[2:4])
				}
			} else if b[2] != 0 || b[3] != 0 {
				t.Errorf("IPv6 checksum must be left to the kernel: %x", b[2:4])
			}
		})
	}
}

// TestChecksumKnownVector: RFC 1071 example-style vector computed by hand:
// words 0800 0000 0001 0001 sum to 0x0802, complement 0xf7fd.
func TestChecksumKnownVector(t *testing.T) {
	if got := checksum([]byte{8, 0, 0, 0, 0, 1, 0, 1}); got != 0xf7fd {
		t.Fatalf("checksum %#x, want 0xf7fd", got)
	}
}

func TestEchoRoundTripAndTag(t *testing.T) {
	tg := testTagger(t)
	other, _ := NewTaggerKey([16]byte{1})
	for _, size := range []int{MinPayload, 56, 1400} {
		dst := netip.MustParseAddr("198.51.100.1")
		b := AppendEcho(nil, tg, dst, 7, 0xdeadbeef, 123456789, size)
		var e Echo
		if err := ParseEcho(b, icmpv4Echo, &e); err != nil {
			t.Fatal(err)
		}
		if !e.Full || e.ID != 7 || e.Serial != 0xdeadbeef || e.Sent != 123456789 || len(b) != 8+size {
			t.Fatalf("round trip %+v len %d", e, len(b))
		}
		if tg.Tag(dst, e.ID, e.Serial, e.Sent) != e.Tag {
			t.Error("tag does not verify with the same key")
		}
		if other.Tag(dst, e.ID, e.Serial, e.Sent) == e.Tag {
			t.Error("tag verifies with another key")
		}
		if tg.Tag(netip.MustParseAddr("198.51.100.2"), e.ID, e.Serial, e.Sent) == e.Tag {
			t.Error("tag verifies for another destination")
		}
		if tg.Tag(dst, e.ID, e.Serial, e.Sent+1) == e.Tag {
			t.Error("tag verifies for another send time")
		}
	}
	var e Echo
	if err := ParseEcho([]byte{0, 0, 0}, 0, &e); err == nil {
		t.Error("truncated header parsed")
	}
	if err := ParseEcho(make([]byte, 12), 0, &e); err != nil || e.Full {
		t.Errorf("short payload: err %v full %v", err, e.Full)
	}
}

func TestNativeIndexMatchesPrometheus(t *testing.T) {
	// bucket i holds (2^((i-1)/8), 2^(i/8)]
	cases := []struct {
		v    float64
		want int
	}{{1, 0}, {1.0000001, 1}, {2, 8}, {0.5, -8}, {0.001, -79}}
	for _, c := range cases {
		if got := nativeIndex(c.v); got != c.want {
			t.Errorf("nativeIndex(%v) = %d, want %d", c.v, got, c.want)
		}
	}
}

func FuzzHandle(f *testing.F) {
	tg := testTagger(f)
	good := AppendEcho(nil, tg, netip.MustParseAddr("192.0.2.1"), 0x1234, 1, 1, MinPayload)
	good[0] = 0
	f.Add(good, false)
	f.Add([]byte{3, 1, 0, 0, 0, 0, 0, 0, 0x45, 0, 0, 40, 0, 0, 0, 0, 64, 1, 0, 0, 192, 0, 2, 9, 192, 0, 2, 1, 8, 0, 0, 0, 0x12, 0x34, 0, 1}, false)
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0x60, 0, 0, 0, 0, 8, 58, 64}, true)
	f.Add([]byte{129, 0}, true)
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		s := newSim(t, Spec{Targets: []TargetSpec{simTarget("192.0.2.1", 1e7, 5e6), simTarget("2001:db8::1", 1e7, 5e6)}})
		s.run(2e6)
		before := map[*target]uint64{}
		for _, tg := range s.c.targets {
			before[tg] = tg.replies
		}
		s.c.handle(&Received{Src: netip.MustParseAddr("192.0.2.1"), Buf: b, V6: v6}, s.now)
		s.c.handle(&Received{Src: netip.MustParseAddr("2001:db8::1"), Buf: b, V6: v6, FromErrQueue: true, QuotedDst: netip.MustParseAddr("2001:db8::1"), ErrType: 1}, s.now)
		s.c.handle(&Received{Src: netip.MustParseAddr("192.0.2.1"), Buf: b, V6: v6, TxStamp: true, KernelStamp: 5}, s.now)
		var rc Received // a captured frame, as the afpacket and pfring datapaths decode it
		if decodeFrame(&rc, b, v6, 7) {
			s.c.handle(&rc, s.now)
		}
		for _, tg := range s.c.targets {
			if tg.replies != before[tg] && len(b) < 26 {
				t.Fatalf("a %d-byte packet was recorded as a reply", len(b))
			}
		}
	})
}

func TestEchoChecksumMatchesAppendEcho(t *testing.T) {
	tg := testTagger(t)
	for _, size := range []int{MinPayload, MinPayload + 1, 64, 101, 1400} {
		b := AppendEcho(nil, tg, netip.MustParseAddr("192.0.2.7"), 0x1234, 0x89abcdef, 123456789, size)
		if got, want := echoChecksum(tg, netip.MustParseAddr("192.0.2.7"), 0x1234, 0x89abcdef, 123456789, size), uint16(b[2])<<8|uint16(b[3]); got != want {
			t.Errorf("payload %d: echoChecksum %#04x, AppendEcho wrote %#04x", size, got, want)
		}
	}
}
