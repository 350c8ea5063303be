package ui

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/icmp-exporter/icmp_exporter/internal/history"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

// graphSize is the geometry of a graph: the SVG's size and the plot area's
// margins. Sparklines have no margins and no axes.
type graphSize struct {
	W, H                     int
	Left, Right, Top, Bottom int
	Axes                     bool
}

var (
	bigGraph   = graphSize{W: 860, H: 280, Left: 64, Right: 12, Top: 10, Bottom: 44, Axes: true}
	sparkGraph = graphSize{W: 160, H: 28}
)

// lossColors are the colours of the median line and of the loss shading,
// by loss share (SmokePing's palette): the first whose bound is >= the loss.
var lossColors = []struct {
	upTo  float64
	color string
	label string
}{
	{0, "#26c000", "0"},
	{0.05, "#00b8ff", "≤5%"},
	{0.10, "#0059ff", "≤10%"},
	{0.20, "#5e00ff", "≤20%"},
	{0.50, "#9e00ff", "≤50%"},
	{0.9999, "#dd00ff", "<100%"},
	{1, "#ff0000", "100%"},
}

func lossColor(loss float64) string {
	for _, c := range lossColors {
		if loss <= c.upTo {
			return c.color
		}
	}
	return lossColors[len(lossColors)-1].color
}

// graph draws a SmokePing-style graph of pts over [from, to) as inline SVG:
// per bucket a grey band from the 10th to the 90th percentile RTT (the
// smoke), the median as a short line coloured by the bucket's loss, buckets
// with loss shaded in that colour, and outages as red areas with a red bar
// on top. Every number is written with fixed precision, so equal input
// gives equal bytes. It writes no text that comes from outside (labels are
// times and RTTs it formats itself).
func graph(pts []history.Point, outages []probe.Outage, from, to time.Time, bucket time.Duration, g graphSize, title string) template.HTML {
	span := to.Sub(from).Seconds()
	if span <= 0 {
		span = 1
	}
	pw, ph := float64(g.W-g.Left-g.Right), float64(g.H-g.Top-g.Bottom)
	x := func(t time.Time) float64 {
		return float64(g.Left) + math.Max(0, math.Min(span, t.Sub(from).Seconds()))/span*pw
	}
	ymax := 0.0
	for _, p := range pts {
		ymax = math.Max(ymax, p.RTT[2])
	}
	ymax, step := niceScale(ymax * 1.1)
	y := func(v float64) float64 { return float64(g.Top) + ph - v/ymax*ph }
	f := func(v float64) string { return fmt.Sprintf("%.1f", v) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, g.W, g.H, g.W, g.H)
	fmt.Fprintf(&b, `<title>%s</title>`, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<rect class="plot" x="%d" y="%d" width="%s" height="%s" fill="#fff" stroke="#ccc"/>`, g.Left, g.Top, f(pw), f(ph))
	if g.Axes {
		for v := step; v <= ymax*1.0001; v += step {
			fmt.Fprintf(&b, `<line x1="%d" x2="%s" y1="%s" y2="%s" stroke="#eee"/>`, g.Left, f(float64(g.Left)+pw), f(y(v)), f(y(v)))
			fmt.Fprintf(&b, `<text x="%d" y="%s" text-anchor="end" font-size="11">%s</text>`, g.Left-4, f(y(v)+4), fmtSeconds(v))
		}
		tstep := timeStep(to.Sub(from))
		layout := "15:04"
		if tstep < time.Minute {
			layout = time.TimeOnly
		}
		for t := from.Truncate(tstep).Add(tstep); t.Before(to); t = t.Add(tstep) {
			fmt.Fprintf(&b, `<line x1="%s" x2="%s" y1="%d" y2="%s" stroke="#eee"/>`, f(x(t)), f(x(t)), g.Top, f(float64(g.Top)+ph))
			fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" font-size="11">%s</text>`, f(x(t)), f(float64(g.Top)+ph+14), t.UTC().Format(layout))
		}
	}
	// Loss shading, behind everything else. Sparklines draw each colour
	// as one path, full graphs a rect per bucket with its loss as title.
	// A bucket is bw wide, cut at the right edge (the running bucket).
	bw := bucket.Seconds() / span * pw
	width := func(x0 float64) float64 { return math.Max(0, math.Min(bw, float64(g.Left)+pw-x0)) }
	lossPaths := pathSet{}
	for _, p := range pts {
		x0 := x(p.Start)
		switch {
		case p.Failed == 0:
		case g.Axes:
			fmt.Fprintf(&b, `<rect class="loss" x="%s" y="%d" width="%s" height="%s" fill="%s" fill-opacity="0.25"><title>%s</title></rect>`,
				f(x0), g.Top, f(width(x0)), f(ph), lossColor(p.Loss()), fmtLoss(p.Loss()))
		default:
			fmt.Fprintf(lossPaths.get(lossColor(p.Loss())), "M%s %dh%sv%sh-%sz", f(x0), g.Top, f(width(x0)), f(ph), f(width(x0)))
		}
	}
	lossPaths.write(&b, `<path class="loss" d="%s" fill="%s" fill-opacity="0.25"/>`)
	for _, o := range outages {
		end := to
		if !o.Ongoing {
			end = o.End
		}
		if !end.After(from) || !o.Start.Before(to) {
			continue
		}
		w := math.Max(x(end)-x(o.Start), 1)
		fmt.Fprintf(&b, `<rect class="outage" x="%s" y="%d" width="%s" height="%s" fill="#ff0000" fill-opacity="0.12"/>`, f(x(o.Start)), g.Top, f(w), f(ph))
		fmt.Fprintf(&b, `<rect class="outage-bar" x="%s" y="%d" width="%s" height="4" fill="#d00000"><title>outage from %s, %s</title></rect>`,
			f(x(o.Start)), g.Top, f(w), o.Start.UTC().Format(time.TimeOnly), outageLength(o, to))
	}
	// Smoke (a rect per bucket; one path in sparklines), then the medians
	// grouped by colour into one path each.
	medians, smoke := pathSet{}, pathSet{}
	for _, p := range pts {
		if p.RTT[1] == 0 {
			continue
		}
		x0 := x(p.Start)
		w := width(x0)
		top, h := y(p.RTT[2]), math.Max(y(p.RTT[0])-y(p.RTT[2]), 1)
		if g.Axes {
			fmt.Fprintf(&b, `<rect class="smoke" x="%s" y="%s" width="%s" height="%s" fill="#888" fill-opacity="0.45"/>`, f(x0), f(top), f(w), f(h))
		} else {
			fmt.Fprintf(smoke.get("#888"), "M%s %sh%sv%sh-%sz", f(x0), f(top), f(w), f(h), f(w))
		}
		fmt.Fprintf(medians.get(lossColor(p.Loss())), "M%s %sh%s", f(x0), f(y(p.RTT[1])), f(w))
	}
	smoke.write(&b, `<path class="smoke" d="%s" fill="%s" fill-opacity="0.45"/>`)
	medians.write(&b, `<path class="median" d="%s" stroke="%s" stroke-width="2" fill="none"/>`)
	if g.Axes {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11">RTT median (line, coloured by loss), 10th–90th percentile (grey), outages (red); %s buckets, UTC</text>`,
			g.Left, g.H-6, bucket)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // numbers and escaped text only
}

// pathSet collects path data by colour, in the order colours first appear.
type pathSet struct {
	colors []string
	d      map[string]*strings.Builder
}

func (p *pathSet) get(color string) *strings.Builder {
	if b := p.d[color]; b != nil {
		return b
	}
	if p.d == nil {
		p.d = map[string]*strings.Builder{}
	}
	b := &strings.Builder{}
	p.d[color] = b
	p.colors = append(p.colors, color)
	return b
}

// write writes one element per colour with format (path data, colour).
func (p *pathSet) write(b *strings.Builder, format string) {
	for _, c := range p.colors {
		fmt.Fprintf(b, format, p.d[c].String(), c)
	}
}

// niceScale rounds hi up to 1, 2 or 5 times a power of ten and returns it
// with a tick step that gives four or five ticks. An empty graph gets 1 ms.
func niceScale(hi float64) (top, step float64) {
	if !(hi > 0) {
		hi = 0.001
	}
	p := math.Pow(10, math.Floor(math.Log10(hi)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if top = m * p; top >= hi*(1-1e-9) {
			break
		}
	}
	switch top / p {
	case 1, 10:
		step = top / 5
	case 2:
		step = top / 4
	default:
		step = top / 5
	}
	return top, step
}

// timeStep is the distance of time ticks: about six over span.
func timeStep(span time.Duration) time.Duration {
	for _, s := range []time.Duration{10 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
		30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour} {
		if span/s <= 8 {
			return s
		}
	}
	return 12 * time.Hour
}
