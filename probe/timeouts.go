package probe

import "time"

// Timeouts: every probe in flight has a deadline (its send time plus its
// timeout and grace) in the FIFO of its timeout. Sends happen in time
// order, so each FIFO is sorted and expiry is O(1) per probe.

// timeoutFIFO holds the deadlines of in-flight probes that share one
// timeout; sends happen in time order, so each FIFO is sorted.
type timeoutFIFO struct {
	timeout time.Duration
	q       []deadline
	head    int
}

type deadline struct {
	at     int64
	t      *target
	serial uint32
}

func (f *timeoutFIFO) push(d deadline) {
	if f.head > 0 && f.head == len(f.q) {
		f.q, f.head = f.q[:0], 0
	} else if f.head > 4096 && f.head*2 > len(f.q) {
		n := copy(f.q, f.q[f.head:])
		f.q, f.head = f.q[:n], 0
	}
	f.q = append(f.q, d)
}

// grace is how long after its timeout a probe is declared lost, so that a
// reply stamped by the kernel within the timeout but read a little later
// (a loaded machine) still counts as a reply with its true RTT.
func grace(timeout time.Duration) int64 {
	return int64(min(timeout/10, 20*time.Millisecond))
}

// expire declares probes whose deadline passed as lost.
func (c *core) expire(now int64) {
	for i := range c.fifos {
		f := &c.fifos[i]
		for f.head < len(f.q) && f.q[f.head].at <= now {
			d := f.q[f.head]
			f.q[f.head] = deadline{}
			f.head++
			if d.t.removed {
				continue
			}
			if s := d.t.findSlot(d.serial); s != nil && s.state == slotOut {
				d.t.lost++
				c.fail(d.t, s, now, slotLost)
			}
		}
	}
	c.pathExpire(now)
}
