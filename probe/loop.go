package probe

import (
	"errors"
	"net"
	"runtime"
	"time"
)

const (
	sendBatch = 128 // probes per Send at most (a window's worth at 100k probes/s)
	recvBatch = 256
)

// The send window: the sender wakes at most once per window and sends
// every probe that fell due since in one batch (one sendmmsg), so batches
// are made by time, not by chance. The window adapts to the rate: about
// windowBatch probes per batch, from minWindow to maxWindow, and at most
// half the shortest interval. A probe leaves up to one window after its
// due time (the phase moves by that much, the schedule stays even at the
// window's scale); its send stamp is the real one, so RTTs and outage
// times are unaffected. The receiver reads at most once per window too
// (replies wait in the kernel's queue, stamped on arrival).
const (
	windowBatch = 32
	minWindow   = int64(time.Millisecond)
	maxWindow   = int64(5 * time.Millisecond)
)

// sendWindow returns the window for spec (see windowBatch).
func sendWindow(spec *Spec) int64 {
	var rate float64 // probes per second
	shortest := int64(-1)
	for i := range spec.Targets {
		iv := int64(spec.Targets[i].Interval)
		rate += 1e9 / float64(iv)
		if shortest < 0 || iv < shortest {
			shortest = iv
		}
	}
	w := maxWindow
	if rate > 0 {
		w = min(max(int64(windowBatch/rate*1e9), minWindow), maxWindow)
	}
	if shortest > 0 {
		w = min(w, shortest/2)
	}
	return w
}

// loop is the sender goroutine. Once per send window it reads what
// arrived (polled datapaths), declares lost what is past its deadline,
// sends what fell due and sleeps. Reading before declaring losses, in the
// same goroutine, makes "lost" exact: a reply that arrived in time has
// been processed before its probe's deadline is looked at (frames of a
// ring block not yet retired are covered by DeliveryDelay).
func (e *Engine) loop() {
	defer close(e.senderDone)
	pkts := make([]Packet, 0, sendBatch)
	// Room for a batch of minimum-size probes; larger payloads grow it
	// once (collect appends), not per probe.
	buf := make([]byte, 0, sendBatch*(icmpHeaderLen+MinPayload+8))
	var msgs []Received
	if e.polled != nil {
		msgs = make([]Received, recvBatch)
	}
	drained := int64(0) // polled: mono time up to which every arrival is processed
	unseen := int64(0)  // blocking: the first send the receiver may not have seen yet
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	planned := int64(0) // when this pass was planned to run (gaps, vantage.go)
	skew := int64(0)    // wall clock minus the engine's monotonic time at the last pass
	for {
		// Checked on every pass, not only when idle: a saturated sender
		// always has probes due and would otherwise never see a stop.
		select {
		case <-e.stop:
			return
		default:
		}
		behind := false
		if e.polled != nil {
			if d, ok := e.drain(msgs); ok {
				drained = d
			} else {
				behind = true
			}
		} else {
			behind = e.receiverBehind(unseen)
		}
		e.mu.Lock()
		// The send stamp is read once the lock is held: a wait for the lock
		// is not part of any RTT.
		t := time.Now()
		now := e.mono(t)
		// A suspended host shows as the wall clock jumping ahead of the
		// monotonic one (which stops meanwhile); only then is the boot
		// clock read (syscalls) to tell a suspend from a clock step.
		boot := int64(-1)
		if s := t.UnixNano() - now; planned == 0 || abs(s-skew) > suspendCheck {
			boot, skew = bootOffset(), s
		}
		e.c.wakeCheck(planned, now, boot)
		planned = now
		horizon := now
		if e.polled != nil {
			horizon = drained
		} else if e.inOrder {
			horizon = e.rxDrained.Load()
		}
		// A receive side that fell far behind does not hold losses back
		// for ever.
		e.c.expire(min(now, max(horizon, now-maxExpiryDelay)))
		if behind {
			e.c.skipDue(now, skipBatch)
		}
		pkts, buf = e.c.collect(now, t.UnixNano(), pkts, buf[:0])
		next, maxPPS, window := e.c.nextWake(), e.c.maxPPS, e.window.Load()
		throttled := maxPPS > 0 && len(pkts) < cap(pkts) && e.c.sendDue(now) // max_pps held sends back
		e.mu.Unlock()
		if len(pkts) > 0 {
			if unseen == 0 || unseen <= e.rxDrained.Load() {
				unseen = now
			}
			_, _ = e.dp.Send(pkts) // failures are marked per packet
			e.mu.Lock()
			e.c.sent(pkts, now)
			e.mu.Unlock()
		}
		e.flushDF()
		if len(pkts) > 0 {
			if len(pkts) == cap(pkts) {
				continue // more may be due: a full batch is no reason to wait
			}
		}
		wait := time.Duration(window) // the replies of this batch, or a deadline held back
		if len(pkts) == 0 && next < 0 {
			wait = time.Hour
		} else if len(pkts) == 0 && next > now {
			// Not before the window is over: what falls due meanwhile
			// joins the next batch.
			wait = time.Duration(max(next-now, window))
		}
		if throttled {
			wait = min(wait, time.Second/time.Duration(maxPPS))
		}
		if e.polled != nil {
			// Nothing may be due for long (long intervals), while late
			// replies, duplicates and errors still arrive: read them
			// within maxPolledIdle, before they sit in or overflow the
			// kernel's queue.
			wait = min(wait, maxPolledIdle)
		}
		planned = now + int64(wait)
		// The clock moved on while the batch was sent.
		wait -= time.Duration(e.mono(time.Now()) - now)
		if wait <= 0 {
			continue
		}
		if wait <= time.Duration(maxWindow) {
			// Through the scheduler once a window: this goroutine never
			// parks, and to the runtime's monitor a goroutine on one
			// scheduling tick for 10 ms looks stuck, so it would preempt
			// it (a signal) and take its processor back during every
			// sleep, then poll every 20 µs: thousands of nanosleep, tgkill
			// and futex calls a second. Measured on loopback at 4 096
			// targets: 13 400–15 500 syscalls in 5 s before, 6 200–6 900
			// after, and a third less CPU.
			runtime.Gosched()
			threadSleep(wait)
			continue
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-e.wake:
		case <-e.stop:
			return
		}
	}
}

// maxStampAge is how far behind a receive stamp may lie before the engine
// takes it for a step of the wall clock rather than a receiver that fell
// behind (which never waits longer than maxExpiryDelay for anything).
const maxStampAge = int64(10 * time.Second)

// suspendCheck is how far the wall clock may move against the monotonic
// one between two passes before the loop reads the boot clock.
const suspendCheck = int64(500 * time.Millisecond)

// maxPolledIdle is the longest a loop that reads a polled datapath sleeps.
const maxPolledIdle = 100 * time.Millisecond

// backlogDelay is how long a packet may wait in the kernel between its
// receive stamp and its socket (or ring): a packet handed over with
// netif_rx (a TUN device, RPS) is stamped when it enters the CPU's backlog
// and delivered later, by ksoftirqd on a busy machine. Losses are declared
// only up to that much before the last read that found the queues empty:
// a reply stamped in time is never declared lost because it was still on
// its way to the socket. It delays the declaration of a loss, never its
// timing (losses are dated by their send time).
const backlogDelay = int64(50 * time.Millisecond)

// maxDrainReads bounds the reads of one drain: a loop that is that far
// behind skips sends until it caught up.
const maxDrainReads = 16

// drain reads and processes everything the polled datapath holds. It
// returns the mono time up to which every packet that arrived has been
// processed, and false when it stopped before the queues were empty.
func (e *Engine) drain(msgs []Received) (int64, bool) {
	delay := int64(e.info.DeliveryDelay) + backlogDelay
	for range maxDrainReads {
		start := e.mono(time.Now())
		n, empty, err := e.polled.recvNow(msgs)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				e.mu.Lock()
				e.c.stats.Invalid++
				e.mu.Unlock()
			}
			return 0, false
		}
		if n > 0 {
			now := e.mono(time.Now())
			e.mu.Lock()
			for i := range msgs[:n] {
				e.c.handle(&msgs[i], now)
			}
			e.mu.Unlock()
		}
		if empty {
			// Everything that arrived before this read started is
			// processed, less what the datapath holds back.
			return start - delay, true
		}
	}
	return 0, false
}

// maxExpiryDelay bounds how long probes wait for a receive side that fell
// behind before they are declared lost anyway.
const maxExpiryDelay = int64(500 * time.Millisecond)

// overloadLag is how far the receiver may fall behind before the sender
// stops sending: probes due meanwhile are skipped (counted, never lost),
// which also gives the receiver the CPU it needs to catch up.
const (
	overloadLag = int64(200 * time.Millisecond)
	skipBatch   = 4096 // probes skipped per sender pass at most (bounds the lock hold)
)

// receiverBehind reports whether the receiver goroutine of a blocking
// datapath fell behind by more than overloadLag: a datapath whose stamps
// are in arrival order shows our requests too (a ring), so a send at
// unseen, longer ago than that, not yet processed means it lags. Without
// such stamps it cannot tell.
func (e *Engine) receiverBehind(unseen int64) bool {
	d := e.rxDrained.Load()
	return e.inOrder && d != 0 && unseen > d && e.mono(time.Now())-unseen > overloadLag
}

// receiver is the receiver goroutine of a datapath that can only be read
// blocking (Recv).
func (e *Engine) receiver() {
	defer e.wg.Done()
	msgs := make([]Received, recvBatch)
	for {
		n, err := e.dp.Recv(msgs)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-e.stop:
				return
			default:
			}
			e.mu.Lock()
			e.c.stats.Invalid++
			e.mu.Unlock()
			continue
		}
		t := time.Now()
		now := e.mono(t)
		e.mu.Lock()
		for i := range msgs[:n] {
			e.c.handle(&msgs[i], now)
		}
		e.mu.Unlock()
		if e.inOrder {
			// Everything that arrived before the newest packet of this
			// batch is processed now (stamps are Unix ns: convert).
			var last int64
			for i := range msgs[:n] {
				last = max(last, msgs[i].KernelStamp)
			}
			d := min(now, last-(t.UnixNano()-now))
			if last != 0 && now-d > maxStampAge && n < len(msgs) {
				// A stamp that old is a wall-clock step between the
				// packet's arrival and now, not a receiver that far
				// behind: this batch emptied the queue, so everything that
				// arrived has been processed.
				d = now
			}
			if last != 0 && d > e.rxDrained.Load() {
				e.rxDrained.Store(d)
			}
		}
	}
}
