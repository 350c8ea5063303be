//go:build linux

package downtime

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// TestDowntimePathRouterLab: downtime --path through three routers; the
// link behind the second is cut for a while. The record carries the path
// at the start (last hop: the second router) and at the end (the target
// at 4 hops).
func TestDowntimePathRouterLab(t *testing.T) {
	c := lab.NewChain(t, 3)
	for _, v6 := range []bool{false, true} {
		target := c.Addrs(1, v6)[0]
		routers := c.Router4
		if v6 {
			routers = c.Router6
		}
		t.Run(target.String(), func(t *testing.T) {
			var out, errb lab.SyncBuffer
			o := Options{Target: target.String(), Interval: 50 * time.Millisecond, Timeout: 100 * time.Millisecond,
				DownAfter: 3, UpAfter: 1, Count: 1, MaxWait: time.Minute, JSON: true, Path: true, Datapath: "icmp"}
			done := make(chan error, 1)
			go func() { done <- c.Do(func() error { return Run(context.Background(), o, &out, &errb) }) }()
			lab.WaitFor(t, 30*time.Second, 20*time.Millisecond, "downtime watching", func() (bool, string) {
				return bytes.Contains([]byte(errb.String()), []byte("watching")), errb.String()
			})
			time.Sleep(time.Second) // the baseline
			restore := c.Cut(t, 2)
			time.Sleep(2 * time.Second)
			restore()
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatalf("downtime did not finish: %s", errb.String())
			}
			if err != nil {
				t.Fatalf("%v: %s", err, errb.String())
			}
			var rec Record
			if err := json.Unmarshal([]byte(out.String()), &rec); err != nil {
				t.Fatalf("%v: %q", err, out.String())
			}
			if d := rec.DurationSeconds; d < 1.5 || d > 3 {
				t.Errorf("duration %v s, want about 2", d)
			}
			ps, pe := rec.PathStart, rec.PathEnd
			if ps == nil || ps.Reached || ps.LastHop != routers[1].String() || ps.LastHopTTL != 2 {
				t.Errorf("path at start %+v, want last hop %s", ps, routers[1])
			}
			if pe == nil || !pe.Reached || pe.HopCount != 4 || pe.LastHop != target.String() {
				t.Errorf("path at end %+v", pe)
			}
		})
	}
}
