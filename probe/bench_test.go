package probe

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func BenchmarkTag(b *testing.B) {
	tg := testTagger(b)
	dst := netip.MustParseAddr("2001:db8::1")
	b.ReportAllocs()
	var x uint64
	for i := range b.N {
		x ^= tg.Tag(dst, 1, uint32(i), int64(i))
	}
	_ = x
}

func BenchmarkAppendEcho(b *testing.B) {
	tg := testTagger(b)
	dst := netip.MustParseAddr("192.0.2.1")
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for i := range b.N {
		buf = AppendEcho(buf[:0], tg, dst, 1, uint32(i), int64(i), MinPayload)
	}
}

func BenchmarkParseEcho(b *testing.B) {
	tg := testTagger(b)
	msg := AppendEcho(nil, tg, netip.MustParseAddr("192.0.2.1"), 1, 7, 9, MinPayload)
	b.ReportAllocs()
	var e Echo
	for range b.N {
		if err := ParseEcho(msg, icmpv4Echo, &e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendReceivePath measures the engine's whole per-probe work
// without syscalls: schedule, encode, tag, record, then match the reply,
// verify the tag, compute the RTT, update histogram and FSM, at 10k and
// 100k targets (where the schedule and the per-target state no longer fit
// in the CPU caches). Steady state must not allocate.
func BenchmarkSendReceivePath(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) { benchSendReceive(b, n) })
	}
}

func benchSendReceive(b *testing.B, n int) {
	spec := Spec{}
	for i := range n {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		spec.Targets = append(spec.Targets, simTarget(a.String(), time.Second, time.Second))
	}
	s := newSim(b, spec)
	c := s.c
	pkts := make([]Packet, 0, sendBatch)
	buf := make([]byte, 0, sendBatch*64)
	recv := make([]Received, sendBatch)
	now := int64(0)
	step := int64(time.Second) / int64(n) * sendBatch
	run := func(iters int) {
		for done := 0; done < iters; {
			now += step
			c.expire(now)
			var out []Packet
			out, buf = c.collect(now, s.wallNs(now), pkts[:0], buf[:0])
			c.sent(out, now)
			for i := range out {
				out[i].Buf[0] = icmpv4EchoReply
				recv[i] = Received{Src: out[i].Dst, Buf: out[i].Buf, TTL: 64, KernelStamp: s.wallNs(now) + 20_000}
			}
			for i := range out {
				c.handle(&recv[i], now+20_000)
			}
			done += len(out)
		}
	}
	run(3 * n) // warm up: histograms and FIFOs reach their size
	b.ReportAllocs()
	b.ResetTimer()
	run(b.N)
	b.StopTimer()
	var replies uint64
	for _, t := range c.targets {
		replies += t.replies
	}
	if replies == 0 {
		b.Fatal("no replies matched")
	}
}
