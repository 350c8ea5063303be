package ui

import (
	"cmp"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/icmp-exporter/icmp_exporter/internal/history"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

// AggRow is loss and RTT of a target or group, now and over the last hour.
type AggRow struct {
	Now, Hour history.Agg
}

type groupRow struct {
	Name        string
	Targets, Up int
	Down        int
	URL         string // overview filtered to the group
	AggRow
}

type targetRow struct {
	Group, Name, IP, Labels string
	Up                      bool
	Since                   time.Time
	URL                     string
	AggRow
	Spark template.HTML
	Graph template.HTML // only when the page shows few targets
}

type overviewData struct {
	Page
	Q                string
	Groups           []groupRow
	Rows             []targetRow
	Total, Matched   int
	First, Last      int
	PrevURL, NextURL string
	PageNo, Pages    int
	Down             int
	Lifetime         bool   // no history: counters since start
	Bucket           string // width of a history bucket
}

// bigGraphsUpTo is the number of targets up to which the overview shows
// each target's full graph (a small configuration such as the example's).
const bigGraphsUpTo = 4

func (h *Handler) overview(r *http.Request) view {
	snap := h.snapshot()
	h.summaries()
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	pageNo, _ := strconv.Atoi(r.URL.Query().Get("page"))
	d := overviewData{Page: h.page("Overview", snap), Q: q, Total: len(snap.Targets)}
	d.Lifetime = !d.History
	if h.o.History != nil {
		d.Bucket = shortDuration(h.o.History.Bucket())
	}

	groups := map[string]*groupRow{}
	var order []string
	hw := hourWeights{}
	matched := make([]int, 0, 64)
	qs := strings.ToLower(q)
	for i := range snap.Targets {
		t := &snap.Targets[i]
		g := groups[t.Spec.Group]
		if g == nil {
			g = &groupRow{Name: t.Spec.Group, URL: h.o.Prefix + "/?" + url.Values{"q": {t.Spec.Group}}.Encode()}
			groups[t.Spec.Group] = g
			order = append(order, t.Spec.Group)
		}
		g.Targets++
		if t.Up {
			g.Up++
		} else {
			g.Down++
			d.Down++
		}
		a := h.agg(i)
		hw.add(t.Spec.Group, a)
		if qs == "" || matches(t, qs) {
			matched = append(matched, i)
		}
	}
	for _, name := range order {
		g := groups[name]
		g.AggRow = hw.get(name)
		d.Groups = append(d.Groups, *g)
	}
	slices.SortStableFunc(d.Groups, func(a, b groupRow) int {
		return cmp.Or(cmp.Compare(b.Down, a.Down), cmp.Compare(b.Hour.Loss(), a.Hour.Loss()), cmp.Compare(a.Name, b.Name))
	})
	// Worst first: down, then loss over the hour, loss now, slow p90.
	type key struct {
		i               int
		down            bool
		hourLoss, nowLs float64
		p90             float64
	}
	keys := make([]key, len(matched))
	for k, i := range matched {
		a := h.agg(i)
		keys[k] = key{i, !snap.Targets[i].Up, a.Hour.Loss(), a.Now.Loss(), a.Hour.P90}
	}
	// Ties keep the engine's order (the configuration's).
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmpBool(a.down, b.down), cmp.Compare(b.hourLoss, a.hourLoss), cmp.Compare(b.nowLs, a.nowLs),
			cmp.Compare(b.p90, a.p90), cmp.Compare(a.i, b.i))
	})
	for k := range keys {
		matched[k] = keys[k].i
	}
	d.Matched = len(matched)
	d.Pages = max(1, (len(matched)+h.o.PageSize-1)/h.o.PageSize)
	d.PageNo = min(max(pageNo, 1), d.Pages)
	lo, hi := (d.PageNo-1)*h.o.PageSize, min(d.PageNo*h.o.PageSize, len(matched))
	d.First, d.Last = lo+1, hi
	link := func(p int) string {
		v := url.Values{"page": {strconv.Itoa(p)}}
		if q != "" {
			v.Set("q", q)
		}
		return h.o.Prefix + "/?" + v.Encode()
	}
	if d.PageNo > 1 {
		d.PrevURL = link(d.PageNo - 1)
	}
	if d.PageNo < d.Pages {
		d.NextURL = link(d.PageNo + 1)
	}
	var pts []history.Point
	for _, i := range matched[lo:hi] {
		t := &snap.Targets[i]
		row := targetRow{Group: t.Spec.Group, Name: t.Spec.Name, IP: ipString(t.IP), Labels: labelString(t.Spec.Labels),
			Up: t.Up, Since: t.StateChange, URL: h.targetURL(t.Spec), AggRow: h.agg(i)}
		if h.o.History != nil && h.o.History.Keeps(t.Spec.Group) {
			bucket := h.o.History.Bucket()
			pts = h.o.History.Points(snap, i, snap.Time.Add(-time.Hour), pts[:0])
			span := autoSpan(pts, snap.Time, bucket, time.Hour)
			row.Spark = graph(pts, t.OutageRecord().Recent, snap.Time.Add(-span), snap.Time, bucket, sparkGraph, "last "+shortDuration(span)+" of "+t.Spec.Name)
			if len(matched) <= bigGraphsUpTo {
				row.Graph = h.bigGraph(snap, i, 0)
			}
		}
		d.Rows = append(d.Rows, row)
	}
	return view{"overview.html", http.StatusOK, d}
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// agg is target i's loss and RTT now and over the hour: from the history
// (the summaries when computed, else the target's own), or from the
// lifetime counters when there is none.
func (h *Handler) agg(i int) AggRow {
	if i < len(h.sums) && h.sums[i].OK {
		return AggRow{Now: h.sums[i].Now, Hour: h.sums[i].Window}
	}
	if len(h.sums) != len(h.snap.Targets) && h.o.History != nil {
		if s := h.o.History.Summary(h.snap, i, time.Hour); s.OK {
			return AggRow{Now: s.Now, Hour: s.Window}
		}
	}
	t := &h.snap.Targets[i]
	failed := t.Lost
	for _, e := range t.ErrorCounts().ByType {
		failed += e
	}
	a := history.Agg{Probes: int(t.Replies + failed), Failed: int(failed),
		P50: history.HistogramQuantile(t.Hist(probe.HistRTT), 0.5), P90: history.HistogramQuantile(t.Hist(probe.HistRTT), 0.9)}
	return AggRow{Now: a, Hour: a}
}

// hourWeights sums targets into their group: loss exactly, RTT as the
// probe-weighted mean of the targets' percentiles (a summary, not a
// quantile of the group's replies).
type hourWeights map[string]*[2]groupSum

type groupSum struct {
	probes, failed int
	w50, w90, n    float64
}

func (s *groupSum) add(a history.Agg) {
	s.probes += a.Probes
	s.failed += a.Failed
	if r := float64(a.Probes - a.Failed); r > 0 && a.P50 > 0 {
		s.w50 += r * a.P50
		s.w90 += r * a.P90
		s.n += r
	}
}

func (s *groupSum) agg() history.Agg {
	a := history.Agg{Probes: s.probes, Failed: s.failed}
	if s.n > 0 {
		a.P50, a.P90 = s.w50/s.n, s.w90/s.n
	}
	return a
}

func (hw hourWeights) add(group string, a AggRow) {
	s := hw[group]
	if s == nil {
		s = &[2]groupSum{}
		hw[group] = s
	}
	s[0].add(a.Now)
	s[1].add(a.Hour)
}

func (hw hourWeights) get(group string) AggRow {
	s := hw[group]
	return AggRow{Now: s[0].agg(), Hour: s[1].agg()}
}

// matches reports whether the lower-case filter q occurs in the target's
// group, name, address or labels (name=value).
func matches(t *probe.TargetSnapshot, q string) bool {
	if strings.Contains(strings.ToLower(t.Spec.Group), q) || strings.Contains(strings.ToLower(t.Spec.Name), q) {
		return true
	}
	if t.IP.IsValid() && strings.Contains(t.IP.String(), q) {
		return true
	}
	for _, l := range t.Spec.Labels {
		if strings.Contains(strings.ToLower(l.Name+"="+l.Value), q) {
			return true
		}
	}
	return (q == "down" && !t.Up) || (q == "up" && t.Up)
}
