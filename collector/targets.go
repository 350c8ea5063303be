package collector

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// groupAgg sums the RTT histograms of the targets of one group with
// aggregation "group". It is reused across scrapes; its label pairs are
// rebuilt when the first target of the group changes.
type groupAgg struct {
	name  string
	gen   uint64
	first *targetEntry // entry of the first target seen in this scrape
	mode  string

	count, zero uint64
	sum         float64
	offset      int32
	dense       []uint64 // native bucket counts from index offset
	classic     []uint64 // cumulative, for bounds
	bounds      []float64

	pairsFor *targetEntry
	pairs    []*dto.LabelPair
}

func (g *groupAgg) reset(first *targetEntry, mode string, bounds []float64) {
	g.first, g.mode = first, mode
	g.count, g.zero, g.sum = 0, 0, 0
	g.dense = g.dense[:0]
	g.bounds = bounds
	g.classic = g.classic[:0]
	for range bounds {
		g.classic = append(g.classic, 0)
	}
}

// add sums one target's histogram into the group. Classic counts are only
// added when the target has the same bounds as the first target of the group.
func (g *groupAgg) add(h *probe.Histogram, bounds []float64) {
	g.count += h.Count
	g.sum += h.Sum
	g.zero += h.ZeroCount
	if len(h.Buckets) > 0 {
		lo, hi := int(h.Offset), int(h.Offset)+len(h.Buckets)
		if len(g.dense) == 0 {
			g.offset = int32(lo)
			g.dense = append(g.dense[:0], make([]uint64, hi-lo)...)
		}
		if glo := int(g.offset); lo < glo {
			g.dense = append(g.dense, make([]uint64, glo-lo)...)
			copy(g.dense[glo-lo:], g.dense)
			clear(g.dense[:glo-lo])
			g.offset = int32(lo)
		}
		if ghi := int(g.offset) + len(g.dense); hi > ghi {
			g.dense = append(g.dense, make([]uint64, hi-ghi)...)
		}
		base := lo - int(g.offset)
		for i, c := range h.Buckets {
			g.dense[base+i] += c
		}
	}
	if len(g.bounds) > 0 && len(h.Classic) >= len(g.bounds) && sameBounds(bounds, g.bounds) {
		for i := range g.classic {
			g.classic[i] += h.Classic[i]
		}
	}
}

func sameBounds(a, b []float64) bool {
	if len(a) < len(b) {
		return false
	}
	if len(b) > 0 && &a[0] == &b[0] {
		return true
	}
	for i := range b {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// histMode returns the effective histogram mode of a target.
func histMode(s *probe.TargetSpec) string {
	if s.Histogram.Mode == "" {
		return probe.HistogramNative
	}
	return s.Histogram.Mode
}

// prepare starts a scrape of s: it looks up the entries of all targets,
// orders them (c.ents, c.emitOrder), sums the RTT histograms of groups with
// aggregation "group" (c.groupSeq) and drops cache entries that s no longer
// uses. Both the Collector and the streaming encoder emit from its result.
func (c *Collector) prepare(s *probe.Snapshot) {
	c.gen++
	c.groupSeq = c.groupSeq[:0]
	seen := c.order(s, s.Source.Name)
	// Group sums in snapshot order, so that the floating-point sum does not
	// depend on the emission order.
	for i, e := range c.ents {
		if e == nil || e.ds.err != nil {
			continue
		}
		t := &s.Targets[i]
		if mode := histMode(t.Spec); mode != probe.HistogramNone && t.Spec.Histogram.Aggregation == probe.AggregateGroup {
			c.aggregate(e, t, mode)
		}
	}
	c.sweep(seen)
	for k, g := range c.groups {
		if g.gen != c.gen {
			delete(c.groups, k)
		}
	}
}

// scrapeTime is the time ongoing outages are measured up to.
func scrapeTime(s *probe.Snapshot) time.Time {
	if s.Time.IsZero() {
		return time.Now()
	}
	return s.Time
}

func (c *Collector) collectTargets(ch chan<- prometheus.Metric, s *probe.Snapshot) {
	c.prepare(s)
	a := &arena{}
	now := scrapeTime(s)
	for _, i := range c.emitOrder {
		t := &s.Targets[i]
		e := c.ents[i]
		ds := e.ds
		p := e.pairs
		ch <- a.gauge(ds.up, p, boolFloat(t.Up))
		ch <- a.counter(ds.sent, p, float64(t.Sent))
		ch <- a.counter(ds.replies, p, float64(t.Replies))
		ch <- a.counter(ds.lost, p, float64(t.Lost))
		ch <- a.counter(ds.late, p, float64(t.Late))
		ch <- a.counter(ds.dup, p, float64(t.Duplicates))
		ch <- a.counter(ds.skipped, p, float64(t.Skipped))
		for et, n := range t.Errors {
			// Error series appear with the first error of their type, like
			// the children of a CounterVec: six mostly-zero series per
			// target would double the cardinality of a large setup.
			if n > 0 {
				ch <- a.counter(ds.errors, c.errorPairs(e, probe.ErrorType(et)), float64(n))
			}
		}
		if t.Spec.Host != "" {
			ch <- a.counter(ds.dns, p, float64(t.DNSErrors))
		}
		if t.LastTTL >= 0 && t.Replies > 0 {
			ch <- a.gauge(ds.ttl, p, float64(t.LastTTL))
		}
		ch <- a.counter(ds.outages, p, float64(t.OutagesTotal))
		ch <- a.gauge(ds.resolution, p, t.OutageResolution().Seconds())
		ch <- a.gauge(ds.stateChange, p, unixSeconds(t.StateChange))

		if mode := histMode(t.Spec); mode != probe.HistogramNone && t.Spec.Histogram.Aggregation != probe.AggregateGroup {
			ch <- c.rttHist(a, ds.rtt, p, e, &t.RTT, mode)
		}

		if t.OutagesTotal > 0 || len(t.Outages) > 0 {
			m := a.hist(ds.outageDur, p, completedOutages(t), t.OutageDurationSum)
			a.classic(m, c.outageBounds, t.OutageDurations[:])
			ch <- m
			if n := len(t.Outages); n > 0 {
				o := &t.Outages[n-1]
				ch <- a.gauge(ds.lastStart, p, unixSeconds(o.Start))
				end := 0.0
				if !o.Ongoing {
					end = unixSeconds(o.End)
				}
				ch <- a.gauge(ds.lastEnd, p, end)
				ch <- a.gauge(ds.lastDur, p, max(o.Duration(now), 0).Seconds())
			}
		}
	}
	for _, g := range c.groupSeq {
		ch <- c.groupHist(a, g)
	}
}

// order looks up the entries of all targets (c.ents, indexed like
// s.Targets) and sets c.emitOrder to the indices of the exportable targets
// sorted the way the registry sorts metrics (number of labels, then label
// values in label name order). The registry sorts every metric family after
// collection; handing it already sorted families makes that sort linear.
// The order is only recomputed when a target's entry changed. It returns the
// number of targets with a spec.
func (c *Collector) order(s *probe.Snapshot, source string) int {
	prev := c.ents
	changed := len(prev) != len(s.Targets)
	ents := c.entsSpare[:0]
	seen := 0
	for i := range s.Targets {
		t := &s.Targets[i]
		var e *targetEntry
		if t.Spec != nil {
			e = c.entryFor(t, source)
			seen++
		}
		if !changed && prev[i] != e {
			changed = true
		}
		ents = append(ents, e)
	}
	c.ents, c.entsSpare = ents, prev
	if !changed {
		return seen
	}
	c.emitOrder = c.emitOrder[:0]
	for i, e := range ents {
		if e != nil && e.ds.err == nil {
			c.emitOrder = append(c.emitOrder, i)
		}
	}
	slices.SortFunc(c.emitOrder, func(i, j int) int { return comparePairs(ents[i].pairs, ents[j].pairs) })
	return seen
}

// comparePairs orders label sets like client_golang's internal.MetricSorter.
func comparePairs(a, b []*dto.LabelPair) int {
	if len(a) != len(b) {
		return cmp.Compare(len(a), len(b))
	}
	for i := range a {
		if c := strings.Compare(a[i].GetValue(), b[i].GetValue()); c != 0 {
			return c
		}
	}
	return 0
}

// completedOutages is the number of completed outages of t: all outages but
// the ongoing one.
// Outages longer than the last bound are only in the count (+Inf), so the
// count is never below the last cumulative bucket.
func completedOutages(t *probe.TargetSnapshot) uint64 {
	n := t.OutagesTotal
	if k := len(t.Outages); k > 0 && t.Outages[k-1].Ongoing && n > 0 {
		n--
	}
	return max(n, t.OutageDurations[len(t.OutageDurations)-1])
}

// labelPairs returns the group's labels: source, group and the user labels
// of the group's first target.
func (g *groupAgg) labelPairs() []*dto.LabelPair {
	if e := g.first; g.pairsFor != e {
		names := []string{"source", "group"}
		g.pairs = makePairs([]string{e.source, g.name}, names, e.spec.Labels)
		g.pairsFor = e
	}
	return g.pairs
}

// rttHist builds the RTT histogram of one target in the given mode.
func (c *Collector) rttHist(a *arena, d *prometheus.Desc, p []*dto.LabelPair, e *targetEntry, h *probe.Histogram, mode string) *histMetric {
	m := a.hist(d, p, h.Count, h.Sum)
	if mode == probe.HistogramClassic || mode == probe.HistogramBoth {
		n := min(len(h.Bounds), len(h.Classic))
		a.classic(m, e.classicBounds(h.Bounds[:n]), h.Classic[:n])
	}
	if mode == probe.HistogramNative || mode == probe.HistogramBoth {
		a.native(m, &c.schema, &c.zeroThreshold, h.ZeroCount, h.Offset, h.Buckets)
	}
	return m
}

// aggregate adds one target's RTT histogram to its group's sum.
func (c *Collector) aggregate(e *targetEntry, t *probe.TargetSnapshot, mode string) {
	name := t.Spec.Group
	g := c.groups[name]
	if g == nil {
		g = &groupAgg{name: name}
		c.groups[name] = g
	}
	h := &t.RTT
	if g.gen != c.gen {
		g.gen = c.gen
		var bounds []float64
		if mode == probe.HistogramClassic || mode == probe.HistogramBoth {
			n := min(len(h.Bounds), len(h.Classic))
			bounds = e.classicBounds(h.Bounds[:n])
		}
		g.reset(e, mode, bounds)
		c.groupSeq = append(c.groupSeq, g)
	}
	g.add(h, h.Bounds)
}

// groupHist writes a group's summed RTT histogram, with the labels source,
// group and the user labels of the group's first target.
func (c *Collector) groupHist(a *arena, g *groupAgg) *histMetric {
	m := a.hist(g.first.ds.groupRTT, g.labelPairs(), g.count, g.sum)
	if g.mode == probe.HistogramClassic || g.mode == probe.HistogramBoth {
		// a.classic copies the counts: g.classic is reused next scrape.
		a.classic(m, g.bounds, g.classic)
	}
	if g.mode == probe.HistogramNative || g.mode == probe.HistogramBoth {
		a.native(m, &c.schema, &c.zeroThreshold, g.zero, g.offset, g.dense)
	}
	return m
}
