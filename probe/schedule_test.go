package probe

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// TestSchedHeapOrder schedules, reschedules and unschedules targets at
// random, then drains the heap: every scheduled target comes out exactly
// once, in due order, at its latest due time, and no unscheduled one does;
// compaction keeps the stale entries a minority.
func TestSchedHeapOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h schedHeap
	ts := make([]*target, 5000)
	for i := range ts {
		ts[i] = &target{due: rng.Int64N(1e6)}
		h.push(ts[i])
	}
	for range 20000 {
		tg := ts[rng.IntN(len(ts))]
		switch rng.IntN(3) {
		case 0:
			tg.due = rng.Int64N(1e6)
			h.reschedule(tg)
		case 1:
			h.unschedule(tg)
		default:
			if !tg.scheduled {
				tg.due = rng.Int64N(1e6)
				h.push(tg)
			}
		}
		if h.stale >= 1024 && h.stale*2 >= len(h.e) {
			t.Fatalf("%d stale of %d entries: not compacted", h.stale, len(h.e))
		}
	}
	want := 0
	for _, tg := range ts {
		if tg.scheduled {
			want++
		}
	}
	if live := len(h.e) - h.stale; live != want {
		t.Fatalf("%d live entries, %d targets scheduled", live, want)
	}
	seen := map[*target]bool{}
	last := int64(-1)
	for {
		tg, due := h.top()
		if tg == nil {
			break
		}
		if due < last || due != tg.due || seen[tg] || !tg.scheduled {
			t.Fatalf("popped due %d after %d (target due %d, seen %v, scheduled %v)", due, last, tg.due, seen[tg], tg.scheduled)
		}
		seen[tg], last = true, due
		h.unschedule(tg)
	}
	if len(seen) != want {
		t.Fatalf("drained %d targets, %d were scheduled", len(seen), want)
	}
}

// TestReplyLookupHint: the serial table only speeds the match of a reply
// to its target up. A reply whose entry a later probe took (the table
// wrapped) still reaches the target that sent it, through the address
// index, and credits no other target.
func TestReplyLookupHint(t *testing.T) {
	spec := Spec{Targets: []TargetSpec{
		simTarget("10.0.0.1", time.Second, time.Second),
		simTarget("10.0.0.2", time.Second, time.Second),
	}}
	s := newSim(t, spec)
	c := s.c
	now := int64(2 * time.Second)
	out, _ := c.collect(now, s.wallNs(now), make([]Packet, 0, sendBatch), nil)
	if len(out) != 2 {
		t.Fatalf("sent %d probes, want 2", len(out))
	}
	c.sent(out, now)
	byIP := map[netip.Addr]*target{}
	for _, tg := range c.targets {
		byIP[tg.ip] = tg
	}
	mask := uint32(len(c.inflight) - 1)
	for i, p := range out {
		_, serial, ok := echoSerial(p.Buf)
		if !ok {
			t.Fatal("cannot parse our own probe")
		}
		other := out[1-i].Dst
		// The entry now names the other target (as after a wrap).
		c.inflight[serial&mask] = byIP[other]
		p.Buf[0] = icmpv4EchoReply
		c.handle(&Received{Src: p.Dst, Buf: p.Buf, TTL: 64}, now+int64(time.Millisecond))
		if got := byIP[p.Dst].replies; got != 1 {
			t.Fatalf("%s: %d replies after its reply, want 1", p.Dst, got)
		}
		if got := byIP[other].replies; got != uint64(i) {
			t.Fatalf("%s credited with the reply of %s", other, p.Dst)
		}
	}
	if late := byIP[out[0].Dst].extra().late + byIP[out[1].Dst].extra().late; late != 0 {
		t.Fatalf("%d replies counted late", late)
	}
}
