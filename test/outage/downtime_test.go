//go:build linux

package outage

import (
	"bufio"
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// record is one line of `downtime --json`.
type record struct {
	Target          string    `json:"target"`
	IP              string    `json:"ip"`
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	Ongoing         bool      `json:"ongoing"`
	DurationSeconds float64   `json:"duration_seconds"`
	ResolutionSecs  float64   `json:"resolution_seconds"`
	ProbesLost      uint64    `json:"probes_lost"`
}

// TestDowntimeCommand: `icmp_exporter downtime` in the probe namespace
// watches one lab host every 10 ms while an nftables rule drops its echo
// requests for 3.0 s; the JSON record it prints matches the rule's window to
// one interval plus 5 ms.
func TestDowntimeCommand(t *testing.T) {
	const (
		interval = 10 * time.Millisecond
		timeout  = 50 * time.Millisecond
		hold     = 3 * time.Second
		slack    = 5 * time.Millisecond
	)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l := lab.New(t, lab.Options{})
	bin := lab.BuildExporter(t)
	host := l.Addrs(7, false)[6]

	var stdout, stderr lab.SyncBuffer
	wrapper, _ := prioritized(t)
	argv := append(wrapper, bin, "downtime")
	cmd := l.Exec(ctx, argv[0], append(argv[1:], "--target", host.String(), "--interval", interval.String(),
		"--timeout", timeout.String(), "--count", "1", "--max-wait", "60s", "--json")...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start downtime: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { // the lab kills the process if it still runs
		if t.Failed() {
			t.Logf("downtime stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	})

	lab.WaitFor(t, time.Minute, 20*time.Millisecond, "downtime says it is watching", func() (bool, string) {
		select {
		case err := <-done:
			t.Fatalf("downtime exited before the outage: %v\nstderr: %s", err, stderr.String())
		default:
		}
		return strings.Contains(stderr.String(), "watching "+host.String()), stderr.String()
	})
	time.Sleep(time.Second) // the host answers steadily before the drop
	if s := stderr.String(); strings.Contains(s, "down since") {
		t.Fatalf("downtime saw an outage before the drop:\n%s", s)
	}

	r := l.AddDrop([]netip.Addr{host})
	time.Sleep(hold)
	w := r.Remove()

	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatalf("downtime did not exit within a minute after the drop ended\nstderr: %s", stderr.String())
	}
	if err != nil {
		t.Fatalf("downtime: %v\nstderr: %s", err, stderr.String())
	}

	var recs []record
	sc := bufio.NewScanner(strings.NewReader(stdout.String()))
	for sc.Scan() {
		var rec record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("stdout line %q: %v", sc.Text(), err)
		}
		recs = append(recs, rec)
	}
	if len(recs) != 1 {
		t.Fatalf("got %d JSON records, want 1:\n%s", len(recs), stdout.String())
	}
	rec := recs[0]
	if rec.Ongoing || rec.IP != host.String() || rec.Target != host.String() {
		t.Errorf("record %+v: want a completed outage of %s", rec, host)
	}
	// The resolution is the real gap between the sends around each edge.
	if res := secs(rec.ResolutionSecs); res < interval || res > interval+slack {
		t.Errorf("resolution_seconds %g, want %g to %g", rec.ResolutionSecs, interval.Seconds(), (interval + slack).Seconds())
	}
	dur := secs(rec.DurationSeconds)
	b := outageBounds(w, interval, slack)
	problems, desc := b.check(rec.Start, rec.End, dur)
	t.Logf("downtime: %s; probes_lost %d", desc, rec.ProbesLost)
	for _, p := range problems {
		t.Error(p)
	}
	// At least down_after (3) probes were lost, and at most one per
	// interval of the outage. (How many of the ~300 were sent at all depends
	// on the machine's load: skipped probes are not lost.)
	if most := uint64(dur/interval) + 1; rec.ProbesLost < 3 || rec.ProbesLost > most {
		t.Errorf("probes_lost %d, want 3..%d", rec.ProbesLost, most)
	}
}
