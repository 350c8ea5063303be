package ui

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// fmtSeconds formats an RTT in seconds with three significant digits and
// a unit; 0 (no data) is a dash.
func fmtSeconds(v float64) string {
	switch {
	case v <= 0:
		return "–"
	case v < 1e-3:
		return sig3(v*1e6) + " µs"
	case v < 1:
		return sig3(v*1e3) + " ms"
	}
	return sig3(v) + " s"
}

// sig3 formats v > 0 with three significant digits, never in exponent form.
func sig3(v float64) string {
	d := max(0, 2-int(math.Floor(math.Log10(v))))
	return strconv.FormatFloat(v, 'f', d, 64)
}

// fmtLoss formats a loss share as a percentage.
func fmtLoss(l float64) string {
	switch {
	case l <= 0:
		return "0%"
	case l < 0.001:
		return "<0.1%"
	case l < 0.1:
		return fmt.Sprintf("%.1f%%", l*100)
	}
	return fmt.Sprintf("%.0f%%", l*100)
}

// fmtDuration rounds d to a readable precision.
func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func outageLength(o probe.Outage, now time.Time) string {
	if o.Ongoing {
		return fmtDuration(o.Duration(now)) + " so far"
	}
	return fmtDuration(o.Duration(now))
}
