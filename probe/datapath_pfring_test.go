//go:build pfring && cgo

package probe

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"
	"golang.org/x/sys/unix"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// These tests run where the pfring build tag compiles: in CI against the
// stand-in libpfring of test/pfringstub (every call fails as without
// pf_ring.ko), on a PF_RING host against the real one. No test here captures
// through PF_RING itself; the datapath's own code (filter, link-layer
// decoding, direction, stamps, Close) runs over a fake ring and over a pcap
// handle on a veth pair in a lab namespace (TestPFRingDatapathOverPcap).

var (
	testMAC  = [6]byte{0x02, 0, 0, 0, 0, 1} // our interface
	peerMAC  = [6]byte{0x02, 0, 0, 0, 0, 2} // the next hop
	testID4  = uint16(0x1234)
	testID6  = uint16(0x5678)
	localV4  = netip.MustParseAddr("10.250.255.1")
	remoteV4 = netip.MustParseAddr("10.210.0.7")
	localV6  = netip.MustParseAddr("fd00:250::1")
	remoteV6 = netip.MustParseAddr("fd00:210::7")
)

func TestPFRingFilter(t *testing.T) {
	// libpfring compiles the filter with libpcap for Ethernet frames
	// (pcap_compile_nopcap, DLT_EN10MB); pcap.NewBPF does the same.
	bpf, err := pcap.NewBPF(layers.LinkTypeEthernet, pfRingSnap, pfRingFilter(testID4, testID6))
	if err != nil {
		t.Fatalf("libpcap rejects the filter %q: %v", pfRingFilter(testID4, testID6), err)
	}
	quoted := ipv4(localV4, remoteV4, 1, 0, 64, icmpMsg(8, testID4))
	quoted6 := ipv6(localV6, remoteV6, 58, 64, icmpMsg(128, testID6))
	in := func(etype uint16, p []byte, vlans ...uint16) []byte {
		return ether(peerMAC, testMAC, etype, p, vlans...)
	}
	out := func(etype uint16, p []byte) []byte { return ether(testMAC, peerMAC, etype, p) }
	for _, tc := range []struct {
		name  string
		frame []byte
		want  bool
	}{
		{"v4 echo reply, our id", in(0x0800, ipv4(remoteV4, localV4, 1, 0, 60, icmpMsg(0, testID4))), true},
		{"v4 echo request leaving, our id", out(0x0800, ipv4(localV4, remoteV4, 1, 0, 64, icmpMsg(8, testID4))), true},
		{"v4 echo reply, other id", in(0x0800, ipv4(remoteV4, localV4, 1, 0, 60, icmpMsg(0, 0xfeed))), false},
		{"v4 echo request, other id", out(0x0800, ipv4(localV4, remoteV4, 1, 0, 64, icmpMsg(8, 0xfeed))), false},
		{"v4 unreachable", in(0x0800, ipv4(remoteV4, localV4, 1, 0, 60, append([]byte{3, 1, 0, 0, 0, 0, 0, 0}, quoted...))), true},
		{"v4 time exceeded", in(0x0800, ipv4(remoteV4, localV4, 1, 0, 60, append([]byte{11, 0, 0, 0, 0, 0, 0, 0}, quoted...))), true},
		{"v4 parameter problem", in(0x0800, ipv4(remoteV4, localV4, 1, 0, 60, append([]byte{12, 0, 0, 0, 0, 0, 0, 0}, quoted...))), true},
		{"v4 redirect", in(0x0800, ipv4(remoteV4, localV4, 1, 0, 60, append([]byte{5, 0, 0, 0, 0, 0, 0, 0}, quoted...))), false},
		{"v4 later fragment", in(0x0800, ipv4(remoteV4, localV4, 1, 0x0010, 60, icmpMsg(0, testID4))), false},
		{"v4 udp", in(0x0800, ipv4(remoteV4, localV4, 17, 0, 60, icmpMsg(0, testID4))), false},
		{"v6 echo reply, our id", in(0x86dd, ipv6(remoteV6, localV6, 58, 60, icmpMsg(129, testID6))), true},
		{"v6 echo request leaving, our id", out(0x86dd, ipv6(localV6, remoteV6, 58, 64, icmpMsg(128, testID6))), true},
		{"v6 echo reply, other id", in(0x86dd, ipv6(remoteV6, localV6, 58, 60, icmpMsg(129, 0xfeed))), false},
		{"v6 unreachable", in(0x86dd, ipv6(remoteV6, localV6, 58, 60, append([]byte{1, 3, 0, 0, 0, 0, 0, 0}, quoted6...))), true},
		{"v6 packet too big", in(0x86dd, ipv6(remoteV6, localV6, 58, 60, append([]byte{2, 0, 0, 0, 0, 0, 5, 0}, quoted6...))), true},
		{"v6 time exceeded", in(0x86dd, ipv6(remoteV6, localV6, 58, 60, append([]byte{3, 0, 0, 0, 0, 0, 0, 0}, quoted6...))), true},
		{"v6 parameter problem", in(0x86dd, ipv6(remoteV6, localV6, 58, 60, append([]byte{4, 0, 0, 0, 0, 0, 0, 0}, quoted6...))), true},
		{"v6 neighbour solicitation", in(0x86dd, ipv6(remoteV6, localV6, 58, 255, icmpMsg(135, 0))), false},
		{"v6 behind a hop-by-hop header", in(0x86dd, ipv6(remoteV6, localV6, 0, 60, append([]byte{58, 0, 1, 4, 0, 0, 0, 0}, icmpMsg(129, testID6)...))), false},
		{"v4 echo reply in VLAN 100, our id", in(0x0800, ipv4(remoteV4, localV4, 1, 0, 60, icmpMsg(0, testID4)), 100), true},
		{"v6 echo reply in VLAN 100, our id", in(0x86dd, ipv6(remoteV6, localV6, 58, 60, icmpMsg(129, testID6)), 100), true},
		{"v4 echo reply in VLAN 100, other id", in(0x0800, ipv4(remoteV4, localV4, 1, 0, 60, icmpMsg(0, 0xfeed)), 100), false},
		{"arp", in(0x0806, make([]byte, 28)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ci := gopacket.CaptureInfo{CaptureLength: len(tc.frame), Length: len(tc.frame)}
			if got := bpf.Matches(ci, tc.frame); got != tc.want {
				t.Errorf("filter passes it: %v, want %v", got, tc.want)
			}
		})
	}
}

// fakeRing is a ringSource fed by a channel; a read blocks until a frame,
// an error or shutdown.
type fakeRing struct {
	frames   chan fakeFrame
	stop     chan struct{}
	stopOnce sync.Once
	started  string
	nDrops   atomic.Uint64
	reading  atomic.Bool
	closes   atomic.Int32
	badClose atomic.Bool // close ran while a read was in progress
}

type fakeFrame struct {
	data  []byte
	stamp int64
	err   error
}

func newFakeRing() *fakeRing {
	return &fakeRing{frames: make(chan fakeFrame, 64), stop: make(chan struct{})}
}

func (f *fakeRing) start(filter string) error { f.started = filter; return nil }

func (f *fakeRing) read(wait bool) ([]byte, int64, error) {
	f.reading.Store(true)
	defer f.reading.Store(false)
	if !wait {
		select {
		case fr := <-f.frames:
			return fr.data, fr.stamp, fr.err
		default:
			return nil, 0, errRingIdle
		}
	}
	select {
	case fr := <-f.frames:
		return fr.data, fr.stamp, fr.err
	case <-f.stop:
		return nil, 0, errors.New("ring shut down")
	}
}

func (f *fakeRing) drops() (uint64, error) { return f.nDrops.Load(), nil }
func (f *fakeRing) shutdown()              { f.stopOnce.Do(func() { close(f.stop) }) }
func (f *fakeRing) close() {
	if f.reading.Load() {
		f.badClose.Store(true)
	}
	f.closes.Add(1)
}

func newTestPFRing(src ringSource) *pfRing {
	d := &pfRing{src: src, mac: testMAC, bufs: make([]byte, recvBatch*pfRingSnap)}
	d.info = DatapathInfo{Name: DatapathPFRing, ID4: testID4, ID6: testID6, TimestampSource: TimestampKernelTXRX, Drops: d.drops}
	return d
}

func TestPFRingRecv(t *testing.T) {
	const stamp = int64(1_700_000_000_123_456_789)
	for _, tc := range []struct {
		name  string
		frame []byte
		want  *Received // nil: dropped, Recv must go on to the next frame
	}{
		{"our request leaving is a TX stamp",
			ether(testMAC, peerMAC, 0x0800, ipv4(localV4, remoteV4, 1, 0, 64, icmpMsg(8, testID4))),
			&Received{TxStamp: true, Src: remoteV4, TTL: 64, KernelStamp: stamp}},
		{"reply arriving",
			ether(peerMAC, testMAC, 0x0800, ipv4(remoteV4, localV4, 1, 0, 57, icmpMsg(0, testID4))),
			&Received{Src: remoteV4, TTL: 57, KernelStamp: stamp}},
		{"v6 request leaving",
			ether(testMAC, peerMAC, 0x86dd, ipv6(localV6, remoteV6, 58, 64, icmpMsg(128, testID6))),
			&Received{TxStamp: true, Src: remoteV6, V6: true, TTL: 64, KernelStamp: stamp}},
		{"v6 reply arriving",
			ether(peerMAC, testMAC, 0x86dd, ipv6(remoteV6, localV6, 58, 61, icmpMsg(129, testID6))),
			&Received{Src: remoteV6, V6: true, TTL: 61, KernelStamp: stamp}},
		{"reply in two VLAN tags",
			ether(peerMAC, testMAC, 0x0800, ipv4(remoteV4, localV4, 1, 0, 50, icmpMsg(0, testID4)), 7, 100),
			&Received{Src: remoteV4, TTL: 50, KernelStamp: stamp}},
		{"request arriving (someone pings us with our id) is dropped",
			ether(peerMAC, testMAC, 0x0800, ipv4(remoteV4, localV4, 1, 0, 64, icmpMsg(8, testID4))), nil},
		{"reply leaving (we answer a ping) is dropped",
			ether(testMAC, peerMAC, 0x0800, ipv4(localV4, remoteV4, 1, 0, 64, icmpMsg(0, testID4))), nil},
		{"ethertype IPv4 around an IPv6 packet is dropped",
			ether(peerMAC, testMAC, 0x0800, ipv6(remoteV6, localV6, 58, 61, icmpMsg(129, testID6))), nil},
		{"arp is dropped", ether(peerMAC, testMAC, 0x0806, make([]byte, 28)), nil},
		{"runt frame is dropped", []byte{1, 2, 3}, nil},
		{"truncated IPv4 is dropped", ether(peerMAC, testMAC, 0x0800, []byte{0x45, 0}), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newFakeRing()
			d := newTestPFRing(src)
			// A valid reply follows, so a dropped frame shows as the
			// next one being returned instead.
			next := ether(peerMAC, testMAC, 0x0800, ipv4(netip.MustParseAddr("10.210.0.99"), localV4, 1, 0, 1, icmpMsg(0, testID4)))
			src.frames <- fakeFrame{data: tc.frame, stamp: stamp}
			src.frames <- fakeFrame{data: next, stamp: 1}
			msgs := make([]Received, 4)
			n, err := d.Recv(msgs)
			if want := map[bool]int{true: 1, false: 2}[tc.want == nil]; err != nil || n != want {
				t.Fatalf("Recv = %d, %v; want %d (both queued frames in one batch, less the dropped one), nil", n, err, want)
			}
			got := msgs[0]
			if tc.want == nil {
				if got.Src != netip.MustParseAddr("10.210.0.99") {
					t.Fatalf("frame was not dropped: got %+v", got)
				}
				return
			}
			if got.TxStamp != tc.want.TxStamp || got.Src != tc.want.Src || got.V6 != tc.want.V6 ||
				got.TTL != tc.want.TTL || got.KernelStamp != tc.want.KernelStamp {
				t.Fatalf("got %+v\nwant %+v", got, *tc.want)
			}
			wantType := map[[2]bool]byte{{false, false}: 0, {true, false}: 8, {false, true}: 129, {true, true}: 128}[[2]bool{got.TxStamp, got.V6}]
			if len(got.Buf) != 16 || got.Buf[0] != wantType {
				t.Fatalf("Buf = % x, want the ICMP message of type %d", got.Buf, wantType)
			}
		})
	}
}

func TestPFRingRecvCopiesFrame(t *testing.T) {
	src := newFakeRing()
	d := newTestPFRing(src)
	frame := ether(peerMAC, testMAC, 0x0800, ipv4(remoteV4, localV4, 1, 0, 57, icmpMsg(0, testID4)))
	src.frames <- fakeFrame{data: frame, stamp: 5}
	msgs := make([]Received, 1)
	if n, err := d.Recv(msgs); n != 1 || err != nil {
		t.Fatalf("Recv = %d, %v", n, err)
	}
	for i := range frame {
		frame[i] = 0 // the ring reuses its slot
	}
	if msgs[0].Buf[0] != 0 || msgs[0].Buf[4] != byte(testID4>>8) || msgs[0].Buf[5] != byte(testID4) {
		t.Fatalf("Buf changed with the ring's slot: % x", msgs[0].Buf)
	}
}

func TestPFRingRecvError(t *testing.T) {
	src := newFakeRing()
	d := newTestPFRing(src)
	boom := errors.New("ring broke")
	src.frames <- fakeFrame{err: errRingIdle}
	src.frames <- fakeFrame{err: boom}
	n, err := d.Recv(make([]Received, 1))
	if n != 0 || !errors.Is(err, boom) || errors.Is(err, net.ErrClosed) {
		t.Fatalf("Recv = %d, %v; want 0 and the ring's error (after skipping the idle poll)", n, err)
	}
}

func TestPFRingCloseUnblocksRecv(t *testing.T) {
	src := newFakeRing()
	d := newTestPFRing(src)
	src.nDrops.Store(42)
	errc := make(chan error, 1)
	go func() {
		_, err := d.Recv(make([]Received, 1))
		errc <- err
	}()
	for deadline := time.Now().Add(30 * time.Second); !src.reading.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Recv did not start reading within 30s")
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Recv after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Recv still blocked 30s after Close")
	}
	if got := src.closes.Load(); got != 1 {
		t.Errorf("ring closed %d times, want 1", got)
	}
	if src.badClose.Load() {
		t.Error("ring was closed while a read was in progress")
	}
	if got := d.info.Drops(); got != 42 {
		t.Errorf("Drops after Close = %d, want the last count 42", got)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := d.Recv(make([]Received, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Recv after Close = %v, want net.ErrClosed", err)
	}
	if _, err := d.Send(nil); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Send after Close = %v, want net.ErrClosed", err)
	}
	if got := src.closes.Load(); got != 1 {
		t.Errorf("ring closed %d times after a second Close, want 1", got)
	}
}

func TestPFRingCloseIdle(t *testing.T) {
	src := newFakeRing()
	d := newTestPFRing(src)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := src.closes.Load(); got != 1 {
		t.Errorf("ring closed %d times by Close without a receiver, want 1", got)
	}
}

func TestPFRingHandleLayout(t *testing.T) {
	// Close breaks a blocked read through the C handle inside gopacket's
	// pfring.Ring; check that gopacket's Ring still holds it where we look.
	off, err := ringHandleOffset()
	if err != nil {
		t.Fatal(err)
	}
	if off != 0 {
		t.Logf("pfring.Ring.cptr at offset %d", off)
	}
}

// TestPFRingOpenErrors opens the pfring datapath through New, as the exporter
// does. Built against the stand-in libpfring (CI) or on a host without
// pf_ring.ko, opening the ring fails with EAFNOSUPPORT; the error must say so
// and what to do, and match ErrNotSupported.
func TestPFRingOpenErrors(t *testing.T) {
	target := TargetSpec{Group: "g", Name: "127.0.0.1", Addr: netip.MustParseAddr("127.0.0.1"),
		Interval: time.Second, Timeout: time.Second, PayloadSize: MinPayload, DownAfter: 3, UpAfter: 1}
	for _, tc := range []struct {
		name  string
		iface string
		check func(t *testing.T, err error)
	}{
		{"no interface", "", func(t *testing.T, err error) {
			if !strings.Contains(err.Error(), "interface is required") {
				t.Errorf("error does not ask for an interface: %v", err)
			}
		}},
		{"unknown interface", "pfr-nonexist0", func(t *testing.T, err error) {
			if !strings.Contains(err.Error(), "pfr-nonexist0") {
				t.Errorf("error does not name the interface: %v", err)
			}
		}},
		{"PF_RING not loaded", "lo", func(t *testing.T, err error) {
			if _, statErr := os.Stat("/proc/net/pf_ring"); statErr == nil {
				// A real PF_RING host: the ring opens on lo, which has no
				// Ethernet address.
				if !strings.Contains(err.Error(), "no Ethernet address") {
					t.Errorf("on a PF_RING host, lo must be refused for lack of a MAC: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrNotSupported) {
				t.Errorf("error does not match ErrNotSupported: %v", err)
			}
			for _, want := range []string{unix.EAFNOSUPPORT.Error(), "modprobe pf_ring", "docs/pfring.md", "lo"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q: %v", want, err)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := Spec{Engine: EngineSpec{Datapath: DatapathPFRing, Interface: tc.iface}, Targets: []TargetSpec{target}}
			eng, err := New(spec, Options{})
			if err == nil {
				eng.Close()
				t.Fatal("New with the pfring datapath succeeded")
			}
			t.Logf("error: %v", err)
			tc.check(t, err)
		})
	}
}

// pcapRing is a ringSource over a libpcap handle: it stands in for PF_RING
// (which cannot run here) so that the rest of the pfring datapath runs
// against real traffic. libpcap compiles the same filter string; on Linux it
// captures through AF_PACKET with kernel stamps in both directions.
type pcapRing struct{ h *pcap.Handle }

func openPcapRing(iface string) (*pcapRing, error) {
	in, err := pcap.NewInactiveHandle(iface)
	if err != nil {
		return nil, err
	}
	defer in.CleanUp()
	for _, err := range []error{in.SetSnapLen(pfRingSnap), in.SetTimeout(pfRingPollMs * time.Millisecond), in.SetImmediateMode(true)} {
		if err != nil {
			return nil, err
		}
	}
	h, err := in.Activate()
	if err != nil {
		return nil, err
	}
	if err := h.SetDirection(pcap.DirectionInOut); err != nil {
		h.Close()
		return nil, err
	}
	return &pcapRing{h: h}, nil
}

func (p *pcapRing) start(filter string) error { return p.h.SetBPFFilter(filter) }
func (p *pcapRing) read(wait bool) ([]byte, int64, error) {
	if !wait { // gopacket's pcap cannot read without blocking: batches of one
		return nil, 0, errRingIdle
	}
	data, ci, err := p.h.ZeroCopyReadPacketData()
	if errors.Is(err, pcap.NextErrorTimeoutExpired) {
		return nil, 0, errRingIdle
	}
	return data, ci.Timestamp.UnixNano(), err
}
func (p *pcapRing) drops() (uint64, error) {
	st, err := p.h.Stats()
	if err != nil {
		return 0, err
	}
	return uint64(st.PacketsDropped), nil
}
func (p *pcapRing) shutdown() {} // reads return every pfRingPollMs
func (p *pcapRing) close()    { p.h.Close() }

// TestPFRingDatapathOverPcap runs the engine on the pfring datapath with a
// pcap handle in place of the PF_RING ring, in a lab namespace against 200
// IPv4 and 50 IPv6 test hosts, while foreign echo traffic flows to the same
// hosts: every probe is answered, RTTs come from the capture's kernel stamps
// of our requests leaving and the replies arriving (told apart by MAC), and
// the filter keeps foreign replies away from the engine.
func TestPFRingDatapathOverPcap(t *testing.T) {
	l := lab.New(t, lab.Options{})
	targets := append(l.Addrs(200, false), l.Addrs(50, true)...)
	spec := Spec{Engine: EngineSpec{Datapath: DatapathPFRing, Interface: "veth0"}}
	for _, a := range targets {
		spec.Targets = append(spec.Targets, TargetSpec{Group: "lab", Name: a.String(), Addr: a,
			Interval: 200 * time.Millisecond, Timeout: 200 * time.Millisecond, PayloadSize: MinPayload,
			DownAfter: 3, UpAfter: 1})
	}
	var eng *Engine
	if err := l.Do(func() error {
		ifi, err := net.InterfaceByName(spec.Engine.Interface)
		if err != nil {
			return err
		}
		src, err := openPcapRing(ifi.Name)
		if err != nil {
			return err
		}
		dp, err := newPFRing(spec.Engine, ifi, src)
		if err != nil {
			return err
		}
		eng, err = New(spec, Options{Datapath: dp})
		if err != nil {
			dp.Close()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if info := eng.Info(); info.Name != DatapathPFRing || info.TimestampSource != TimestampKernelTXRX {
		t.Errorf("Info = %+v", info)
	}
	const foreign = 100
	if err := l.SendForeignEchoes(targets[:foreign]); err != nil {
		t.Fatal(err)
	}
	var snap *Snapshot
	lab.WaitFor(t, 60*time.Second, 200*time.Millisecond, "every target up with 5 replies", func() (bool, string) {
		snap = eng.Snapshot(snap)
		ok := 0
		for _, ts := range snap.Targets {
			if ts.Up && ts.Replies >= 5 {
				ok++
			}
		}
		return ok == len(targets), fmt.Sprintf("%d of %d targets up with 5 replies; engine %+v", ok, len(targets), snap.Engine)
	})
	var replies, lost uint64
	for _, ts := range snap.Targets {
		replies += ts.Replies
		lost += ts.Lost
		if ts.LastRTT <= 0 || ts.LastRTT > 50*time.Millisecond {
			t.Errorf("%s: implausible RTT %s", ts.Spec.Name, ts.LastRTT)
		}
	}
	e := snap.Engine
	t.Logf("engine %+v replies %d lost %d", e, replies, lost)
	if lost != 0 || e.Invalid != 0 {
		t.Errorf("lost %d invalid %d, want 0", lost, e.Invalid)
	}
	if e.RepliesByTimestamp[0] < replies*9/10 {
		t.Errorf("only %d of %d replies timed with kernel TX+RX stamps", e.RepliesByTimestamp[0], replies)
	}
	if e.Foreign != 0 || e.PacketsReceived != replies {
		t.Errorf("%d foreign and %d received for %d replies: foreign traffic passed the filter", e.Foreign, e.PacketsReceived, replies)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPFRingRecvBatch: frames already queued come back from one Recv (one
// engine lock per batch), after one blocking read.
func TestPFRingRecvBatch(t *testing.T) {
	src := newFakeRing()
	d := newTestPFRing(src)
	for i := range 5 {
		src.frames <- fakeFrame{data: ether(peerMAC, testMAC, 0x0800, ipv4(remoteV4, localV4, 1, 0, byte(50+i), icmpMsg(0, testID4))), stamp: int64(i + 1)}
	}
	msgs := make([]Received, 8)
	n, err := d.Recv(msgs)
	if err != nil || n != 5 {
		t.Fatalf("Recv = %d, %v; want the 5 queued frames at once", n, err)
	}
	for i, m := range msgs[:n] {
		if m.TTL != 50+i || m.KernelStamp != int64(i+1) || len(m.Buf) != 16 {
			t.Errorf("frame %d: %+v", i, m)
		}
	}
}

// TestPFRingDevice: module-prefixed PF_RING devices name the kernel
// interface they capture on; devices without one are refused.
func TestPFRingDevice(t *testing.T) {
	for _, tc := range []struct{ dev, module, kif, err string }{
		{"eth1", "", "eth1", ""},
		{"zc:eth1", "zc", "eth1", ""},
		{"pcap:enp3s0", "pcap", "enp3s0", ""},
		{"zc:eth1@2", "zc", "eth1", ""},
		{"eth1@0", "", "eth1", ""},
		{"zc:99@0", "", "", "no kernel interface"},
		{"eth1,eth2", "", "", "name one interface"},
	} {
		module, kif, err := pfRingDevice(tc.dev)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.dev, err, tc.err)
			}
			continue
		}
		if err != nil || module != tc.module || kif != tc.kif {
			t.Errorf("%s: %q %q %v, want %q %q", tc.dev, module, kif, err, tc.module, tc.kif)
		}
	}
	if pfRingStamps("") != TimestampKernelTXRX || pfRingStamps("pcap") != TimestampKernelTXRX || pfRingStamps("zc") != TimestampUserspace {
		t.Error("timestamp source by module")
	}
}

// TestPFRingSourceStamps reads through the datapath's own pfring_recv call
// (not gopacket's) from the test rings of the stand-in libpfring: the
// capture time comes from timestamp_ns when the module fills it and from
// ts when only that is filled (gopacket v1.1.19 reads only timestamp_ns,
// and a pcap: ring's frames would all be stamped 1970).
func TestPFRingSourceStamps(t *testing.T) {
	for dev, want := range map[string]int64{"icmplab-stub-ns": 1700000000123456789, "icmplab-stub-ts": 1700000000123456000} {
		src, err := openPFRingSource(dev)
		if err != nil {
			t.Skipf("no test rings in this libpfring (a real one?): %v", err)
		}
		for i := range 3 {
			_, stamp, err := src.read(i == 0)
			if err != nil || stamp != want {
				t.Errorf("%s frame %d: stamp %d, %v; want %d", dev, i, stamp, err, want)
			}
		}
		if _, _, err := src.read(false); !errors.Is(err, errRingIdle) {
			t.Errorf("%s: after the frames: %v, want errRingIdle", dev, err)
		}
		src.close()
	}
}
