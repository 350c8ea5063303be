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
	f     *family // one of histFamilies
	name  string
	gen   uint64
	first *targetEntry // entry of the first target seen in this scrape
	rx    probe.RTTExport

	count, zero uint64
	sum         float64
	offset      int32
	dense       []uint64 // native bucket counts from index offset
	classic     []uint64 // cumulative, for bounds
	bounds      []float64

	pairsFor *targetEntry
	pairs    []*dto.LabelPair
}

// groupKey identifies the sum of one histogram family over one group.
type groupKey struct {
	id    famID
	group string
}

func (g *groupAgg) reset(first *targetEntry, rx probe.RTTExport, bounds []float64) {
	g.first, g.rx = first, rx
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
	c.hidx = c.hidx[:0]
	for i, e := range c.ents {
		if e == nil || e.ds.err != nil {
			continue
		}
		if rx, ok := s.Targets[i].RTTExport(); ok && rx.Group {
			c.hidx = append(c.hidx, i)
		}
	}
	for _, f := range histFamilies {
		c.eachHist(s, f, c.hidx, func(i int, h *probe.Histogram) {
			rx, _ := s.Targets[i].RTTExport()
			c.aggregate(f, c.ents[i], &s.Targets[i], rx, h)
		})
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

// collectTargets sends the per-target families of s as metrics carved from
// one arena.
func (c *Collector) collectTargets(ch chan<- prometheus.Metric, s *probe.Snapshot) {
	c.prepare(s)
	c.emitFamilies(&registryEncoder{c: c, a: &arena{}, ch: ch}, s, nil)
}

// registryEncoder sends the series of one family to a Collect channel.
type registryEncoder struct {
	c  *Collector
	a  *arena
	ch chan<- prometheus.Metric
	f  *family
}

func (r *registryEncoder) family(f *family, emit func(seriesEncoder)) {
	r.f = f
	emit(r)
}

func (r *registryEncoder) desc(l labels) (*prometheus.Desc, []*dto.LabelPair) {
	d := l.e.ds.desc[r.f.id]
	if l.group {
		d = l.e.ds.group[r.f.id]
	}
	if l.pairs != nil {
		return d, l.pairs
	}
	return d, l.e.labelPairs()
}

func (r *registryEncoder) scalar(l labels, v float64, created time.Time) {
	d, p := r.desc(l)
	if r.f.typ == counterT {
		r.ch <- r.a.counter(d, p, v, created)
	} else {
		r.ch <- r.a.gauge(d, p, v)
	}
}

func (r *registryEncoder) hist(l labels, h histData) {
	d, p := r.desc(l)
	m := r.a.hist(d, p, h.count, h.sum, h.created)
	if len(h.bounds) > 0 {
		bounds := h.bounds
		if !h.fixedBounds {
			// The snapshot's bounds are overwritten by the next scrape;
			// the written metric may outlive it.
			bounds = l.e.classicBounds(bounds)
		}
		r.a.classic(m, bounds, h.cum)
	}
	if h.native {
		schema := &r.c.schema
		if h.schema == r.c.ipdvSchema {
			schema = &r.c.ipdvSchema
		}
		r.a.native(m, schema, &r.c.zeroThreshold, h.zero, h.offset, h.buckets)
	}
	r.ch <- m
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
			var last *targetEntry
			if i < len(prev) {
				last = prev[i]
			}
			e = c.entryFor(t, source, last)
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
	slices.SortFunc(c.emitOrder, func(i, j int) int { return compareEntries(ents[i], ents[j]) })
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

// aggregate adds one target's histogram h of family f to its group's sum.
func (c *Collector) aggregate(f *family, e *targetEntry, t *probe.TargetSnapshot, rx probe.RTTExport, h *probe.Histogram) {
	name := t.Spec.Group
	k := groupKey{f.id, name}
	g := c.groups[k]
	if g == nil {
		g = &groupAgg{f: f, name: name}
		c.groups[k] = g
	}
	if g.gen != c.gen {
		g.gen = c.gen
		var bounds []float64
		if rx.Classic {
			b, _ := h.ClassicBuckets()
			if f == &famLossRuns {
				bounds = c.lossRunBounds[:min(len(b), len(c.lossRunBounds))]
			} else {
				bounds = e.classicBounds(b)
			}
		}
		g.reset(e, rx, bounds)
		c.groupSeq = append(c.groupSeq, g)
	}
	g.add(h, h.Bounds)
}

// data is the group's summed RTT histogram.
func (g *groupAgg) data() histData {
	d := histData{count: g.count, sum: g.sum, fixedBounds: true, schema: schemaOf(g.f)}
	if g.rx.Classic {
		n := min(len(g.bounds), len(g.classic))
		d.bounds, d.cum = g.bounds[:n], g.classic[:n]
	}
	if g.rx.Native {
		d.native, d.zero, d.offset, d.buckets = true, g.zero, g.offset, g.dense
	}
	return d
}
