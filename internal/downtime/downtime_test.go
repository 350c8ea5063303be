package downtime

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe/probetest"
)

func TestBadInputBeforeAnyPacket(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no target", []string{}, "'--target' not provided"},
		{"interval too small", []string{"--target", "192.0.2.1", "--interval", "500us"}, "below 1ms"},
		{"timeout zero", []string{"--target", "192.0.2.1", "--timeout", "0s"}, "must be positive"},
		{"not unicast", []string{"--target", "224.0.0.1"}, "not a unicast address"},
		{"cidr", []string{"--target", "192.0.2.0/24"}, "neither an address nor a host name"},
		{"unresolvable", []string{"--target", "no-such-host.invalid"}, "cannot resolve"},
		{"count zero", []string{"--target", "192.0.2.1", "--count", "0"}, "--count must be at least 1"},
		{"bad datapath", []string{"--target", "192.0.2.1", "--datapath", "carrier-pigeon"}, "--datapath"},
		{"down-after too large", []string{"--target", "192.0.2.1", "--down-after", "5000"}, "--down-after"},
		{"up-after too large", []string{"--target", "192.0.2.1", "--up-after", "5000"}, "--up-after"},
		{"timeout beyond the window", []string{"--target", "192.0.2.1", "--interval", "1ms", "--timeout", "50s"}, "--timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(tc.args, &out, &errb)
			if code != 2 {
				t.Errorf("exit %d, want 2 (stderr %q)", code, errb.String())
			}
			if !strings.Contains(errb.String(), tc.want) {
				t.Errorf("stderr %q does not say %q", errb.String(), tc.want)
			}
			if strings.Contains(errb.String(), "watching") {
				t.Error("started probing despite bad input")
			}
		})
	}
}

// TestMeasuresOutageOnFakeNetwork: probes sent during a 400 ms window are
// dropped; the measured duration must be within one interval of it (plus
// scheduling slack on a loaded machine).
func TestMeasuresOutageOnFakeNetwork(t *testing.T) {
	start := time.Now()
	from, to := start.Add(300*time.Millisecond), start.Add(700*time.Millisecond)
	net := &probetest.Network{Respond: probetest.Window(from, to, time.Millisecond)}
	var out, errb bytes.Buffer
	o := Options{Target: "192.0.2.1", Interval: 10 * time.Millisecond, Timeout: 50 * time.Millisecond,
		DownAfter: 3, UpAfter: 1, Count: 1, MaxWait: 30 * time.Second, JSON: true, DP: net}
	if err := Run(context.Background(), o, &out, &errb); err != nil {
		t.Fatalf("%v (stderr %s)", err, errb.String())
	}
	var r Record
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	// The resolution is the real gap between the sends around each edge:
	// one interval, more when a loaded machine sent late.
	d, res := time.Duration(r.DurationSeconds*1e9), time.Duration(r.ResolutionSecs*1e9)
	if d < 400*time.Millisecond-res-20*time.Millisecond || d > 400*time.Millisecond+res+20*time.Millisecond {
		t.Errorf("duration %s, want 400ms ± resolution %s (+20ms slack for a loaded machine)", d, res)
	}
	// The engine stamps a probe just before it hands it to the network,
	// which then reads its own clock to decide its fate: a probe stamped a
	// moment before an edge of the window can still fall on its far side.
	const stampToSend = 5 * time.Millisecond
	if r.Start.Before(from.Add(-stampToSend)) || r.End.Before(to.Add(-stampToSend)) || res < o.Interval || r.ProbesLost < 3 {
		t.Errorf("record %+v: start must be at or after the window start, end at or after its end (less %s from stamp to send), resolution at least the interval", r, stampToSend)
	}
	if r.Start.Add(-res).After(from) || r.End.Add(-res).After(to) {
		t.Errorf("record %+v: the window [%s, %s] is not within the resolution before start and end", r, from, to)
	}
}

func TestMaxWaitAndInterruptReport(t *testing.T) {
	net := &probetest.Network{} // never goes down
	var out, errb bytes.Buffer
	o := Options{Target: "192.0.2.1", Interval: 10 * time.Millisecond, Timeout: 50 * time.Millisecond,
		DownAfter: 3, UpAfter: 1, Count: 1, MaxWait: 300 * time.Millisecond, DP: net}
	err := Run(context.Background(), o, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "gave up after --max-wait") {
		t.Fatalf("err %v", err)
	}
	// Interrupt while down: prints the ongoing outage.
	down := &probetest.Network{Respond: probetest.Window(time.Now(), time.Now().Add(time.Hour), 0)}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	out.Reset()
	o.DP, o.MaxWait = down, 0
	err = Run(ctx, o, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "still down") || !strings.Contains(out.String(), "(still down)") {
		t.Fatalf("err %v out %q", err, out.String())
	}
}
