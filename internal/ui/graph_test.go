package ui

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/internal/history"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

// TestGraph draws a fixed hour: the plot is 784 px wide (860-64-12) and
// 226 px high (280-10-44), one minute is 784/60 = 13.07 px, and the RTT axis
// goes to 20 ms (the largest p90, 10 ms, plus 10%, rounded up), 11.3 px per
// ms, so 0 ms is at y=236.
func TestGraph(t *testing.T) {
	from, to := t0, t0.Add(time.Hour)
	pts := []history.Point{
		{Start: t0.Add(30 * time.Minute), Probes: 60, RTT: [3]float64{0.005, 0.0075, 0.010}},
		{Start: t0.Add(31 * time.Minute), Probes: 60, Failed: 6, RTT: [3]float64{0.004, 0.005, 0.006}},
		{Start: t0.Add(32 * time.Minute), Probes: 60, Failed: 60},
		{Start: t0.Add(33 * time.Minute), Probes: 30, Failed: 1, RTT: [3]float64{0.002, 0.002, 0.002}},
		// The running bucket, 20 s before the end: cut at the right edge (784/3 px).
		{Start: to.Add(-20 * time.Second), Probes: 20, RTT: [3]float64{0.001, 0.001, 0.001}, Partial: true},
	}
	outages := []probe.Outage{
		{Start: t0.Add(32 * time.Minute), End: t0.Add(33 * time.Minute), Resolution: time.Second},
		{Start: t0.Add(59 * time.Minute), Ongoing: true, Resolution: time.Second},
		{Start: t0.Add(-time.Hour), End: t0.Add(-time.Minute)}, // before the window: not drawn
	}
	svg := string(graph(pts, outages, from, to, time.Minute, bigGraph, "core / <b>"))
	for _, want := range []string{
		// Smoke of minute 30: x = 64 + 784/2, from p90 10 ms (y = 236-113) to p10 5 ms (y = 236-56.5).
		`<rect class="smoke" x="456.0" y="123.0" width="13.1" height="56.5" fill="#888" fill-opacity="0.45"/>`,
		// Medians: 7.5 ms green (no loss); 5 ms (10% loss, the "≤10%" blue) and 2 ms (1/30, "≤5%").
		`<path class="median" d="M456.0 151.2h13.1M843.6 224.7h4.4" stroke="#26c000"`,
		`<path class="median" d="M469.1 179.5h13.1" stroke="#0059ff"`,
		`<path class="median" d="M495.2 213.4h13.1" stroke="#00b8ff"`,
		// Loss shading of minutes 31 (10%), 32 (100%, red) and 33.
		`<rect class="loss" x="469.1" y="10" width="13.1" height="226.0" fill="#0059ff" fill-opacity="0.25"><title>10%</title></rect>`,
		`<rect class="loss" x="482.1" y="10" width="13.1" height="226.0" fill="#ff0000" fill-opacity="0.25"><title>100%</title></rect>`,
		// Outages: minute 32, and the ongoing one from minute 59 to the end.
		`<rect class="outage" x="482.1" y="10" width="13.1" height="226.0"`,
		`<rect class="outage" x="834.9" y="10" width="13.1" height="226.0"`, // 64 + 59/60*784
		`<title>outage from 03:32:00, 1m0s</title>`,
		`<title>outage from 03:59:00, 1m0s so far</title>`,
		// Axes: 5 ms steps to 20 ms, ticks every 10 minutes.
		`>20.0 ms</text>`, `>5.00 ms</text>`, `>03:10</text>`, `>03:50</text>`,
		`<title>core / &lt;b&gt;</title>`,
		`<rect class="smoke" x="843.6" y="224.7" width="4.4" height="1.0"`,
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("graph lacks\n%s\nin\n%s", want, svg)
		}
	}
	if n := strings.Count(svg, `class="smoke"`); n != 4 {
		t.Errorf("%d smoke bands, want 4 (minute 32 has no reply)", n)
	}
	if n := strings.Count(svg, `class="outage"`); n != 2 {
		t.Errorf("%d outages drawn, want 2", n)
	}
	golden(t, "graph.svg", svg)
}

func TestNiceScale(t *testing.T) {
	for _, tc := range []struct{ in, top, step float64 }{
		{0, 0.001, 0.0002}, {0.011, 0.02, 0.005}, {0.0009, 0.001, 0.0002}, {0.03, 0.05, 0.01}, {4, 5, 1}, {0.00021, 0.00025, 0.00005},
	} {
		top, step := niceScale(tc.in)
		if math.Abs(top-tc.top) > 1e-12 || math.Abs(step-tc.step) > 1e-12 {
			t.Errorf("niceScale(%g) = %g, %g; want %g, %g", tc.in, top, step, tc.top, tc.step)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{{0, "–"}, {0.0000374, "37.4 µs"}, {0.00374, "3.74 ms"}, {0.0150, "15.0 ms"}, {0.9996, "1000 ms"}, {2.5, "2.50 s"}} {
		if got := fmtSeconds(tc.v); got != tc.want {
			t.Errorf("fmtSeconds(%g) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestAutoSpan(t *testing.T) {
	now := t0.Add(5 * time.Hour)
	pts := func(age time.Duration) []history.Point { return []history.Point{{Start: now.Add(-age)}} }
	for _, tc := range []struct {
		name          string
		pts           []history.Point
		bucket, limit time.Duration
		want          time.Duration
	}{
		{"empty, minute buckets", nil, time.Minute, 48 * time.Hour, 15 * time.Minute},
		{"one minute old", pts(time.Minute), time.Minute, 48 * time.Hour, 15 * time.Minute},
		{"20 minutes old", pts(20 * time.Minute), time.Minute, 48 * time.Hour, 30 * time.Minute},
		{"50 minutes old", pts(50 * time.Minute), time.Minute, 48 * time.Hour, time.Hour},
		{"2 hours old", pts(2 * time.Hour), time.Minute, 48 * time.Hour, 2 * time.Hour},
		{"150 minutes old", pts(150 * time.Minute), time.Minute, 48 * time.Hour, 3 * time.Hour},
		{"20 hours old", pts(20 * time.Hour), time.Minute, 48 * time.Hour, 48 * time.Hour},
		{"2 hours old, sparkline", pts(2 * time.Hour), time.Minute, time.Hour, time.Hour},
		{"5 s buckets, 30 s old", pts(30 * time.Second), 5 * time.Second, time.Hour, 75 * time.Second},
		{"5 s buckets, 2 minutes old", pts(2 * time.Minute), 5 * time.Second, time.Hour, 150 * time.Second},
		{"5 s buckets, 10 minutes old", pts(10 * time.Minute), 5 * time.Second, time.Hour, 10 * time.Minute},
		{"5 s buckets, 11 minutes old", pts(11 * time.Minute), 5 * time.Second, time.Hour, 15 * time.Minute},
	} {
		if got := autoSpan(tc.pts, now, tc.bucket, tc.limit); got != tc.want {
			t.Errorf("%s: autoSpan = %s, want %s", tc.name, got, tc.want)
		}
	}
}
