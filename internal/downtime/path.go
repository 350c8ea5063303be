package downtime

import (
	"fmt"
	"io"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// pathSpec is the path snapshot setting of --path: no cooldown (one
// target), a baseline at the first up.
var pathSpec = probe.PathSpec{Enabled: true, MaxHops: probe.DefaultPathMaxHops}

// PathRecord is a path snapshot as printed with --json.
type PathRecord struct {
	Time       time.Time  `json:"time"`
	Reached    bool       `json:"reached"`
	HopCount   int        `json:"hop_count,omitempty"`
	LastHop    string     `json:"last_hop"`
	LastHopTTL int        `json:"last_hop_ttl"`
	Hops       []HopEntry `json:"hops"`
}

// HopEntry is one TTL of a PathRecord; Addr is empty when nothing answered.
type HopEntry struct {
	TTL        int     `json:"ttl"`
	Addr       string  `json:"addr"`
	RTTSeconds float64 `json:"rtt_seconds,omitempty"`
}

func pathRecord(r *probe.PathResult) *PathRecord {
	if r == nil {
		return nil
	}
	p := &PathRecord{Time: r.Time, Reached: r.Reached, HopCount: r.HopCount, LastHopTTL: r.LastHopTTL, Hops: []HopEntry{}}
	if r.LastHop.IsValid() {
		p.LastHop = r.LastHop.String()
	}
	for _, h := range r.Hops {
		e := HopEntry{TTL: h.TTL}
		if h.Answered() {
			e.Addr, e.RTTSeconds = h.Addr.String(), h.RTT.Seconds()
		}
		p.Hops = append(p.Hops, e)
	}
	return p
}

// pathWait collects the path snapshots of one outage: the one taken when
// the host went down and, after the outage ended, the one taken when it
// came back (waited for at most pathWaitMax).
type pathWait struct {
	start, stop *probe.PathResult
	ended       *probe.Outage
	deadline    *time.Timer
}

// pathWaitMax bounds the wait for the snapshot at the end of an outage
// beyond the probe timeout: its probes leave within the path budget.
const pathWaitMax = 5 * time.Second

// end notes that the outage ended; the record waits for its end snapshot.
func (p *pathWait) end(o probe.Outage, timeout time.Duration) {
	p.ended = &o
	p.deadline = time.NewTimer(timeout + pathWaitMax)
}

// timer fires when the wait for the end snapshot is over; nil (never)
// when not waiting.
func (p *pathWait) timer() <-chan time.Time {
	if p.deadline == nil {
		return nil
	}
	return p.deadline.C
}

// add takes a snapshot, prints it to w in text mode, and reports whether
// the ended outage is complete now.
func (p *pathWait) add(r probe.PathResult, w io.Writer, json bool) bool {
	switch r.Reason {
	case probe.PathReasonDown:
		p.start = &r
		if !json {
			fmt.Fprintf(w, "path at outage start (last hop %s at TTL %d): %s\n", lastHop(&r), r.LastHopTTL, r.String())
		}
	case probe.PathReasonUp:
		p.stop = &r
		if !json {
			fmt.Fprintf(w, "path at outage end (%d hops): %s\n", r.HopCount, r.String())
		}
		if p.ended != nil {
			p.deadline.Stop()
			return true
		}
	}
	return false
}

func lastHop(r *probe.PathResult) string {
	if !r.LastHop.IsValid() {
		return "none"
	}
	return r.LastHop.String()
}
