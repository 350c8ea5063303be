//go:build linux

package probe_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// responderCase is one behaviour of the userspace responder, given to one
// target address, with the counters it must produce.
type responderCase struct {
	name string
	plan func(req lab.Request) []lab.Action
	// want gives the expected counters of a target that was sent n probes,
	// on datapath mode (ping, raw, afpacket) and family.
	want func(n uint64, mode string, v6 bool) counters
	// delay is the responder delay the RTT must match (0: not checked).
	delay time.Duration
}

type counters struct {
	replies, lost, late, dups uint64
	errors                    [probe.NumErrorTypes]uint64
	foreign, invalid          uint64 // engine-wide, attributed to this case
}

func reply(d time.Duration) []lab.Action { return []lab.Action{{Delay: d}} }

const (
	respInterval = 100 * time.Millisecond
	respTimeout  = time.Second
)

// responderCases are the behaviours, one per target: the engine must count
// each exactly as the wire says, whatever the datapath.
var responderCases = []responderCase{
	{name: "reply", plan: func(lab.Request) []lab.Action { return reply(0) },
		want: func(n uint64, _ string, _ bool) counters { return counters{replies: n} }},
	{name: "delay 30ms", delay: 30 * time.Millisecond, plan: func(lab.Request) []lab.Action { return reply(30 * time.Millisecond) },
		want: func(n uint64, _ string, _ bool) counters { return counters{replies: n} }},
	{name: "duplicate", plan: func(lab.Request) []lab.Action { return []lab.Action{{}, {Delay: 5 * time.Millisecond}} },
		want: func(n uint64, _ string, _ bool) counters { return counters{replies: n, dups: n} }},
	{name: "reorder", plan: func(r lab.Request) []lab.Action { // every other reply overtakes the one before
		if r.N%2 == 0 {
			return reply(150 * time.Millisecond)
		}
		return reply(0)
	}, want: func(n uint64, _ string, _ bool) counters { return counters{replies: n} }},
	{name: "late", plan: func(lab.Request) []lab.Action { return reply(respTimeout + 500*time.Millisecond) },
		want: func(n uint64, _ string, _ bool) counters { return counters{lost: n, late: n} }},
	{name: "bad checksum", plan: func(lab.Request) []lab.Action { return []lab.Action{{Corrupt: true}} },
		want: func(n uint64, mode string, v6 bool) counters {
			// Ping sockets and raw ICMPv6 sockets: the kernel checks and drops.
			if mode == "ping" || mode == "raw" && v6 {
				return counters{lost: n}
			}
			return counters{lost: n, invalid: n}
		}},
	{name: "truncated", plan: func(lab.Request) []lab.Action { return []lab.Action{{Truncate: 10}} },
		want: func(n uint64, _ string, _ bool) counters { return counters{lost: n, invalid: n} }},
	{name: "altered", plan: func(lab.Request) []lab.Action { return []lab.Action{{Alter: true}} },
		want: func(n uint64, _ string, _ bool) counters { return counters{lost: n, foreign: n} }},
	{name: "other source", plan: func(r lab.Request) []lab.Action {
		if r.V6 {
			return []lab.Action{{From: lab.Other6}}
		}
		return []lab.Action{{From: lab.Other4}}
	}, want: func(n uint64, _ string, _ bool) counters { return counters{lost: n, foreign: n} }},
	{name: "unreachable", plan: func(r lab.Request) []lab.Action {
		if r.V6 {
			return []lab.Action{{Error: 1, ErrCode: 3}}
		}
		return []lab.Action{{Error: 3, ErrCode: 1}}
	}, want: func(n uint64, _ string, _ bool) counters {
		c := counters{}
		c.errors[probe.ErrDestUnreachable] = n
		return c
	}},
	{name: "time exceeded", plan: func(r lab.Request) []lab.Action {
		if r.V6 {
			return []lab.Action{{Error: 3}}
		}
		return []lab.Action{{Error: 11}}
	}, want: func(n uint64, _ string, _ bool) counters {
		c := counters{}
		c.errors[probe.ErrTimeExceeded] = n
		return c
	}},
	{name: "redirect then reply", plan: func(r lab.Request) []lab.Action {
		if r.V6 {
			return []lab.Action{{Error: 137}, {Delay: 5 * time.Millisecond}}
		}
		return []lab.Action{{Error: 5, ErrCode: 1}, {Delay: 5 * time.Millisecond}}
	}, want: func(n uint64, _ string, _ bool) counters { return counters{replies: n} }},
	{name: "source quench then reply", plan: func(r lab.Request) []lab.Action {
		if r.V6 { // no source quench in ICMPv6: a redirect again
			return []lab.Action{{Error: 137}, {Delay: 5 * time.Millisecond}}
		}
		return []lab.Action{{Error: 4}, {Delay: 5 * time.Millisecond}}
	}, want: func(n uint64, _ string, _ bool) counters { return counters{replies: n} }},
	{name: "8-byte quote", plan: func(r lab.Request) []lab.Action {
		if r.V6 {
			return []lab.Action{{Error: 1, ErrCode: 3, Quote: 8}}
		}
		return []lab.Action{{Error: 3, ErrCode: 1, Quote: 8}}
	}, want: func(n uint64, _ string, v6 bool) counters {
		if v6 { // RFC 4443: an ICMPv6 error quotes all it can; a bare header is not credited
			return counters{lost: n, foreign: n}
		}
		c := counters{}
		c.errors[probe.ErrDestUnreachable] = n
		return c
	}},
	{name: "8-byte quote, forged", plan: func(r lab.Request) []lab.Action {
		if r.V6 {
			return []lab.Action{{Error: 1, ErrCode: 3, Quote: 8, BadQuoteSum: true}}
		}
		return []lab.Action{{Error: 3, ErrCode: 1, Quote: 8, BadQuoteSum: true}}
	}, want: func(n uint64, _ string, _ bool) counters { return counters{lost: n, foreign: n} }},
}

// TestResponderCases runs every responder behaviour at once, one target
// each, over ping sockets, raw sockets and afpacket, in IPv4 and IPv6, and
// checks every counter of every target exactly, and the RTT of delayed
// replies against the delay the responder applied.
func TestResponderCases(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			l := lab.New(t, lab.Options{})
			dp := useMode(l, mode)
			byAddr := map[netip.Addr]*responderCase{}
			var addrs []netip.Addr
			for i := range responderCases {
				for _, p := range []netip.Prefix{lab.ResponderPrefix4, lab.ResponderPrefix6} {
					a := p.Addr()
					for range i + 1 {
						a = a.Next()
					}
					byAddr[a] = &responderCases[i]
					addrs = append(addrs, a)
				}
			}
			resp := l.StartResponder(func(r lab.Request) []lab.Action {
				if c := byAddr[r.Dst]; c != nil {
					return c.plan(r)
				}
				return nil
			})
			spec := zooSpec(dp, addrs, respInterval, respTimeout)
			eng := startEngine(t, l, spec, probe.Options{})
			if got := eng.Info().Mode; mode != "afpacket" && got != mode {
				t.Fatalf("icmp datapath mode %q, want %q", got, mode)
			}
			waitSent(t, eng, 30)
			snap := settle(t, eng, spec, 3*time.Second)
			if err := resp.Err(); err != nil {
				t.Fatal(err)
			}
			applied := map[netip.Addr][2]time.Duration{} // min, max delay the responder applied to replies
			for _, r := range resp.Records() {
				if r.Action.Error != 0 {
					continue
				}
				m, ok := applied[r.Dst]
				if !ok {
					m = [2]time.Duration{r.Applied, r.Applied}
				}
				applied[r.Dst] = [2]time.Duration{min(m[0], r.Applied), max(m[1], r.Applied)}
			}
			var wantForeign, wantInvalid uint64
			for _, ts := range snap.Targets {
				c := byAddr[ts.IP]
				v6 := ts.IP.Is6()
				w := c.want(ts.Sent, mode, v6)
				wantForeign += w.foreign
				wantInvalid += w.invalid
				got := counters{replies: ts.Replies, lost: ts.Lost, late: ts.Late, dups: ts.Duplicates, errors: ts.ErrorCounts().ByType}
				w.foreign, w.invalid = 0, 0
				if ts.Sent < 30 || got != w {
					t.Errorf("%s (%s): sent %d: got %s, want %s", c.name, ts.IP, ts.Sent, got, w)
				}
				// RTT from kernel stamps: at least the delay the responder
				// applied to the fastest reply, at most its slowest plus
				// 50 ms (TUN, forwarding and a loaded machine).
				if c.delay > 0 && ts.Replies > 0 {
					a := applied[ts.IP]
					mean := time.Duration(ts.RTT.Sum / float64(ts.RTT.Count) * 1e9)
					if a[0] < c.delay || ts.LastRTT < a[0] || mean < a[0] || mean > a[1]+50*time.Millisecond {
						t.Errorf("%s (%s): RTT last %s mean %s; responder applied %s to %s (asked %s)",
							c.name, ts.IP, ts.LastRTT, mean, a[0], a[1], c.delay)
					} else {
						t.Logf("%s (%s): RTT last %s mean %s; responder applied %s to %s", c.name, ts.IP, ts.LastRTT, mean, a[0], a[1])
					}
				}
			}
			e := snap.Engine
			if e.Foreign != wantForeign || e.Invalid != wantInvalid {
				t.Errorf("engine foreign %d invalid %d, want %d and %d", e.Foreign, e.Invalid, wantForeign, wantInvalid)
			}
		})
	}
}

func (c counters) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "replies %d lost %d late %d dups %d", c.replies, c.lost, c.late, c.dups)
	for i, n := range c.errors {
		if n > 0 {
			fmt.Fprintf(&b, " %s %d", probe.ErrorTypeNames[i], n)
		}
	}
	return b.String()
}
