package ui

import (
	"html/template"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/icmp-exporter/icmp_exporter/internal/history"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

// graphWindows are the spans a target graph offers; "auto" picks the
// smallest that covers the history kept so far (see autoSpan).
var graphWindows = []time.Duration{15 * time.Minute, time.Hour, 3 * time.Hour, 12 * time.Hour, 48 * time.Hour}

// spanBuckets are the automatic graph spans in buckets, tried before
// graphWindows, so that a young history is drawn wide.
var spanBuckets = []time.Duration{15, 30, 60, 120}

// autoSpan is the smallest span (spanBuckets, then graphWindows) that
// covers pts (oldest first) up to now, at most limit.
func autoSpan(pts []history.Point, now time.Time, bucket, limit time.Duration) time.Duration {
	age := time.Duration(0)
	if len(pts) > 0 {
		age = now.Sub(pts[0].Start)
	}
	var span time.Duration
	for _, n := range spanBuckets {
		if span = n * bucket; span >= age {
			return min(span, limit)
		}
	}
	for _, w := range graphWindows {
		if span = max(span, w); span >= age {
			break
		}
	}
	return min(span, limit)
}

// bigGraph is the full graph of target i over span (0: auto).
func (h *Handler) bigGraph(snap *probe.Snapshot, i int, span time.Duration) template.HTML {
	t := &snap.Targets[i]
	st := h.o.History
	limit := graphWindows[len(graphWindows)-1]
	if span > 0 {
		limit = span
	}
	pts := st.Points(snap, i, snap.Time.Add(-limit), nil)
	if span == 0 {
		span = autoSpan(pts, snap.Time, st.Bucket(), limit)
	}
	return graph(pts, t.OutageRecord().Recent, snap.Time.Add(-span), snap.Time, st.Bucket(), bigGraph, t.Spec.Group+" / "+t.Spec.Name)
}

type counter struct {
	Name  string
	Value any
}

type outageRow struct {
	Group, Name, URL string
	Start, End       time.Time
	Ongoing          bool
	Duration         string
	Resolution       time.Duration
	ProbesLost       uint64
}

type windowLink struct {
	Label, URL string
	Current    bool
}

type targetData struct {
	Page
	Found                 bool
	Group, Name, IP, Host string
	Labels                []probe.Label
	Up                    bool
	Since                 time.Time
	Interval, Timeout     time.Duration
	AggRow
	Graph    template.HTML
	Windows  []windowLink
	Counters []counter
	Outages  []outageRow
}

func (h *Handler) target(r *http.Request) view {
	snap := h.snapshot()
	q := r.URL.Query()
	group, name := q.Get("group"), q.Get("target")
	i := slices.IndexFunc(snap.Targets, func(t probe.TargetSnapshot) bool { return t.Spec.Group == group && t.Spec.Name == name })
	d := targetData{Page: h.page(name, snap), Group: group, Name: name}
	if i < 0 {
		return view{"target.html", http.StatusNotFound, d}
	}
	t := &snap.Targets[i]
	d.Found = true
	d.IP, d.Host, d.Labels = ipString(t.IP), t.Spec.Host, t.Spec.Labels
	d.Up, d.Since = t.Up, t.StateChange
	d.Interval, d.Timeout = t.Spec.Interval, t.Spec.Timeout
	d.AggRow = h.agg(i)
	if h.o.History != nil && h.o.History.Keeps(t.Spec.Group) {
		span, _ := time.ParseDuration(q.Get("window"))
		if !slices.Contains(graphWindows, span) {
			span = 0
		}
		base := h.targetURL(t.Spec)
		d.Windows = append(d.Windows, windowLink{Label: "auto", URL: base, Current: span == 0})
		for _, w := range graphWindows {
			d.Windows = append(d.Windows, windowLink{Label: shortDuration(w), URL: base + "&window=" + w.String(), Current: span == w})
		}
		d.Graph = h.bigGraph(snap, i, span)
	}
	var errs uint64
	for _, e := range t.ErrorCounts().ByType {
		errs += e
	}
	d.Counters = []counter{
		{"probes sent", t.Sent}, {"replies", t.Replies}, {"lost", t.Lost}, {"late replies", t.Late},
		{"duplicate replies", t.Duplicates}, {"skipped (overload)", t.Skipped}, {"ICMP and send errors", errs},
	}
	for k, n := range t.ErrorCounts().ByType {
		if n > 0 {
			d.Counters = append(d.Counters, counter{"  " + strings.ReplaceAll(probe.ErrorTypeNames[k], "_", " "), n})
		}
	}
	if t.Spec.Host != "" {
		d.Counters = append(d.Counters, counter{"DNS errors", t.ErrorCounts().DNS})
	}
	d.Counters = append(d.Counters,
		counter{"last RTT", fmtSeconds(t.LastRTT.Seconds())},
		counter{"RTT median since start", fmtSeconds(history.HistogramQuantile(t.Hist(probe.HistRTT), 0.5))},
		counter{"RTT 90th percentile since start", fmtSeconds(history.HistogramQuantile(t.Hist(probe.HistRTT), 0.9))},
		counter{"outages", t.OutageRecord().Total})
	if t.LastTTL >= 0 {
		d.Counters = append(d.Counters, counter{"last reply TTL", t.LastTTL})
	}
	recent := t.OutageRecord().Recent
	for k := len(recent) - 1; k >= 0; k-- {
		d.Outages = append(d.Outages, h.outageRow(t, recent[k], snap.Time))
	}
	return view{"target.html", http.StatusOK, d}
}

func (h *Handler) outageRow(t *probe.TargetSnapshot, o probe.Outage, now time.Time) outageRow {
	return outageRow{Group: t.Spec.Group, Name: t.Spec.Name, URL: h.targetURL(t.Spec), Start: o.Start, End: o.End,
		Ongoing: o.Ongoing, Duration: outageLength(o, now), Resolution: o.Resolution, ProbesLost: o.ProbesLost}
}

// shortDuration writes 3h0m0s as 3h and 15m0s as 15m.
func shortDuration(d time.Duration) string {
	if d%time.Minute != 0 {
		return d.String()
	}
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	return strings.TrimSuffix(s, "0m")
}

// ipString is the probed address, or "unresolved" for a host name that
// never resolved.
func ipString(a netip.Addr) string {
	if !a.IsValid() {
		return "unresolved"
	}
	return a.String()
}

func labelString(ls []probe.Label) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.Name + "=" + l.Value
	}
	return strings.Join(parts, " ")
}
