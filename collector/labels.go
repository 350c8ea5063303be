package collector

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
)

// Built-in per-target label names, in the order of the contract; user labels
// follow, sorted by name.
var targetLabelNames = [...]string{"source", "group", "target", "ip"}

// errorTypeLabel is the label of icmp_errors_total naming the error type
// (probe.ErrorTypeNames); OTLP's error.type attribute translates to the same
// name.
const errorTypeLabel = probe.ErrorTypeLabel

// descSet holds the per-target descriptors for one set of user label names.
type descSet struct {
	err error // a user label name is reserved or invalid; targets are skipped

	desc [numFamilies]*prometheus.Desc // indexed by famID
	// group holds the histFamilies with labels source, group and the user
	// labels, for aggregation "group"; indexed by famID.
	group [numFamilies]*prometheus.Desc
	gen   uint64
	// legacy is true when every user label name is valid in the legacy
	// (pre-UTF-8) scheme, so the streaming encoder may cache the target's
	// encoded labels regardless of the escaping scheme a scrape negotiates.
	legacy bool
	// byName lists a target's label values (targetEntry.value: the
	// built-in ones, then the user labels) in the order of their names, as
	// sorted label pairs carry them.
	byName []int
}

func labelKey(labels []probe.Label) string {
	var b strings.Builder
	for _, l := range labels {
		b.WriteString(l.Name)
		b.WriteByte(0)
	}
	return b.String()
}

// descSetFor returns the descriptors for the user label names of labels,
// building them on first use.
func (c *Collector) descSetFor(labels []probe.Label) *descSet {
	// Fast path without building a key for the common "no user labels" and
	// cached cases is not worth it: this runs only when a target's entry is
	// (re)built.
	key := labelKey(labels)
	if ds, ok := c.descSets[key]; ok {
		ds.gen = c.gen
		return ds
	}
	ds := newDescSet(labels)
	ds.gen = c.gen
	if ds.err != nil {
		c.logger.Error("targets with these user labels are not exported", "err", ds.err)
	}
	c.descSets[key] = ds
	return ds
}

func newDescSet(labels []probe.Label) *descSet {
	user := make([]string, 0, len(labels))
	for i, l := range labels {
		if err := probe.CheckUserLabel(l.Name); err != nil {
			return &descSet{err: fmt.Errorf("user label %q: %w", l.Name, err)}
		}
		if i > 0 && labels[i-1].Name >= l.Name {
			return &descSet{err: fmt.Errorf("user label %q: labels must be sorted by name and unique", l.Name)}
		}
		user = append(user, l.Name)
	}
	tl := append(targetLabelNames[:], user...)
	gl := append([]string{"source", "group"}, user...)
	var firstErr error
	d := func(name, help string, labels []string) *prometheus.Desc {
		desc := prometheus.NewDesc(name, help, labels, nil)
		if err := desc.Err(); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("user labels %q: %w", user, err)
		}
		return desc
	}
	withType := append(slices.Clip(tl), errorTypeLabel)
	withHop := append(slices.Clip(tl), pathHopLabels[:]...)
	ds := &descSet{}
	for _, f := range histFamilies {
		ds.group[f.id] = d(f.name, f.help, gl)
	}
	for _, f := range targetFamilies {
		l := tl
		if f == &famErrors {
			l = withType
		}
		if f == &famPathLastHop {
			l = withHop
		}
		ds.desc[f.id] = d(f.name, f.help, l)
	}
	ds.byName = make([]int, len(tl))
	for i := range ds.byName {
		ds.byName[i] = i
	}
	slices.SortFunc(ds.byName, func(a, b int) int { return strings.Compare(tl[a], tl[b]) })
	ds.legacy = true
	for _, l := range labels {
		if !model.IsValidLegacyMetricName(l.Name) {
			ds.legacy = false
		}
	}
	ds.err = firstErr
	return ds
}

// targetEntry is the cached label state of one target. Its label pair slices
// are immutable once built: written metrics of earlier scrapes point to them.
// The pairs are built only for the paths that need them (the registry, and
// series with extra labels); the streaming encoder caches the encoded labels
// instead, so a scrape of the usual kind keeps no pairs per target.
type targetEntry struct {
	spec   *probe.TargetSpec
	ip     netip.Addr
	ipText string // the ip label's value
	source string
	gen    uint64
	ds     *descSet
	// text and pb cache the pairs encoded for the streaming encoder (text:
	// `{name="value",...` without the closing brace; pb: the repeated
	// LabelPair fields of a Metric message); built on first use when
	// ds.legacy.
	text, pb string
	// more holds what only some targets or some paths need; nil until then.
	more *entryMore
}

// entryMore is the part of a targetEntry that the usual scrape of the
// usual target does not need: one per target would be a tenth of the
// collector's memory.
type entryMore struct {
	// pairs are the target's labels sorted by name, shared by all its
	// series; nil until labelPairs builds them.
	pairs []*dto.LabelPair
	// errPairs add the type label for icmp_errors_total, built on first use.
	errPairs *[probe.NumErrorTypes][]*dto.LabelPair
	// hop caches the labels of icmp_path_last_hop_info (path.go).
	hop *hopPairs
	// classic holds a copy of the classic bucket bounds last seen; the
	// written buckets point into it.
	classic []float64
}

// extra returns e.more, allocating it on first use.
func (e *targetEntry) extra() *entryMore {
	if e.more == nil {
		e.more = new(entryMore)
	}
	return e.more
}

// entryFor returns the cached entry of t, rebuilding it when the spec, the
// probed address or the source changed. A reload gives every target a new
// spec: prev, the entry of the same snapshot slot in the previous scrape,
// is taken over when its labels are the same, so that a reload which
// changes nothing for a target does not rebuild its labels.
func (c *Collector) entryFor(t *probe.TargetSnapshot, source string, prev *targetEntry) *targetEntry {
	e := c.entries[t.Spec]
	if e != nil && e.ip == t.IP && e.source == source {
		e.gen = c.gen
		e.ds.gen = c.gen
		return e
	}
	if e == nil && prev != nil && prev.gen != c.gen && prev.ip == t.IP && prev.source == source &&
		c.entries[prev.spec] == prev && sameLabels(prev.spec, t.Spec) {
		delete(c.entries, prev.spec)
		prev.spec, prev.gen, prev.ds.gen = t.Spec, c.gen, c.gen
		c.entries[t.Spec] = prev
		return prev
	}
	e = &targetEntry{spec: t.Spec, ip: t.IP, source: source, gen: c.gen}
	e.ds = c.descSetFor(t.Spec.Labels)
	if t.IP.IsValid() {
		e.ipText = ipText(t)
	}
	c.entries[t.Spec] = e
	return e
}

// ipText is the ip label value of t: its target name when that is the
// address in canonical form (most targets, which then share the string),
// else the address formatted.
func ipText(t *probe.TargetSnapshot) string {
	ip := t.IP.Unmap()
	var buf [64]byte
	if b := ip.AppendTo(buf[:0]); string(b) == t.Spec.Name {
		return t.Spec.Name
	}
	return ip.String()
}

// sameLabels reports whether two specs give a target the same labels
// (besides source and ip).
func sameLabels(a, b *probe.TargetSpec) bool {
	return a.Group == b.Group && a.Name == b.Name && slices.Equal(a.Labels, b.Labels)
}

// value is the entry's label value number i: source, group, target, ip,
// then the user labels (the order of targetLabelNames and the spec).
func (e *targetEntry) value(i int) string {
	switch i {
	case 0:
		return e.source
	case 1:
		return e.spec.Group
	case 2:
		return e.spec.Name
	case 3:
		return e.ipText
	}
	return e.spec.Labels[i-len(targetLabelNames)].Value
}

// labelPairs returns the entry's label pairs, building them on first use.
func (e *targetEntry) labelPairs() []*dto.LabelPair {
	m := e.extra()
	if m.pairs == nil {
		m.pairs = e.newPairs()
	}
	return m.pairs
}

// newPairs builds the entry's label pairs without keeping them.
func (e *targetEntry) newPairs() []*dto.LabelPair {
	return makePairs([]string{e.source, e.spec.Group, e.spec.Name, e.ipText}, targetLabelNames[:], e.spec.Labels)
}

// compareEntries orders targets like comparePairs orders their label
// pairs, without building them.
func compareEntries(a, b *targetEntry) int {
	if len(a.ds.byName) != len(b.ds.byName) {
		return cmp.Compare(len(a.ds.byName), len(b.ds.byName))
	}
	for k, i := range a.ds.byName {
		if c := strings.Compare(a.value(i), b.value(b.ds.byName[k])); c != 0 {
			return c
		}
	}
	return 0
}

// makePairs returns label pairs for the built-in names and values plus the
// user labels, sorted by name as the registry expects.
func makePairs(values, names []string, user []probe.Label) []*dto.LabelPair {
	pairs := make([]*dto.LabelPair, 0, len(names)+len(user))
	for i, n := range names {
		pairs = append(pairs, &dto.LabelPair{Name: new(n), Value: new(values[i])})
	}
	for _, l := range user {
		pairs = append(pairs, &dto.LabelPair{Name: new(l.Name), Value: new(l.Value)})
	}
	slices.SortFunc(pairs, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
	return pairs
}

// errorPairs returns the entry's labels plus type="<name of t>".
func (c *Collector) errorPairs(e *targetEntry, t probe.ErrorType) []*dto.LabelPair {
	m := e.extra()
	if m.errPairs == nil {
		m.errPairs = new([probe.NumErrorTypes][]*dto.LabelPair)
	}
	if p := m.errPairs[t]; p != nil {
		return p
	}
	pairs := e.labelPairs()
	p := make([]*dto.LabelPair, 0, len(pairs)+1)
	i, _ := slices.BinarySearchFunc(pairs, errorTypeLabel, func(lp *dto.LabelPair, n string) int { return strings.Compare(lp.GetName(), n) })
	p = append(p, pairs[:i]...)
	p = append(p, c.typePairs[t])
	p = append(p, pairs[i:]...)
	m.errPairs[t] = p
	return p
}

// classicBounds returns an immutable copy of bounds, reusing the entry's
// previous copy when unchanged.
func (e *targetEntry) classicBounds(bounds []float64) []float64 {
	m := e.extra()
	if !slices.Equal(m.classic, bounds) {
		m.classic = slices.Clone(bounds)
	}
	return m.classic
}

// sweep drops cache entries that the current scrape did not use.
func (c *Collector) sweep(seen int) {
	if len(c.entries) > seen {
		for k, e := range c.entries {
			if e.gen != c.gen {
				delete(c.entries, k)
			}
		}
	}
	for k, ds := range c.descSets {
		if ds.gen != c.gen {
			delete(c.descSets, k)
		}
	}
}
