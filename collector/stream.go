package collector

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/encoding/protowire"
)

// ErrUnsupportedFormat is returned by WriteMetrics for exposition formats it
// cannot stream (everything but the text format and delimited protobuf).
var ErrUnsupportedFormat = errors.New("format not supported by the streaming encoder")

// CanStream reports whether WriteMetrics supports format f.
func CanStream(f expfmt.Format) bool {
	switch f.FormatType() {
	case expfmt.TypeTextPlain, expfmt.TypeProtoDelim:
		return true
	}
	return false
}

// flushAt is the size at which the streaming encoder hands its buffer to
// the writer.
const flushAt = 64 << 10

// streamState is the reusable state of the streaming encoder, guarded by
// Collector.mu.
type streamState struct {
	small   *prometheus.Registry // build info and engine metrics
	sink    sink
	scratch []byte // one Metric message (protobuf)
	hbuf    []byte // one Histogram message (protobuf)
	spans   []pbSpan
	deltas  []int64
}

type pbSpan struct {
	offset int32
	length uint32
}

// sink buffers the exposition and writes it to w in chunks of about
// flushAt bytes. After the first write error it drops everything.
type sink struct {
	w   io.Writer
	buf []byte
	err error
}

func (s *sink) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	s.maybeFlush()
	return len(p), nil
}

func (s *sink) maybeFlush() {
	if len(s.buf) >= flushAt {
		s.flush()
	}
}

func (s *sink) flush() {
	if s.err == nil && len(s.buf) > 0 {
		_, s.err = s.w.Write(s.buf)
	}
	s.buf = s.buf[:0]
}

// smallCollector sends the Collector's metrics that are not per target
// (build info, engine) from the snapshot the running
// WriteMetrics took; it runs while WriteMetrics holds Collector.mu.
type smallCollector struct{ c *Collector }

func (smallCollector) Describe(chan<- *prometheus.Desc) {}

func (s smallCollector) Collect(ch chan<- prometheus.Metric) {
	c := s.c
	if c.build != nil {
		c.build.Collect(ch)
	}
	if c.snap != nil {
		c.collectEngine(ch, c.snap)
	}
}

// WriteMetrics takes a snapshot of the source and writes the Collector's
// metrics to w in format f (the text format or delimited protobuf, see
// CanStream; the escaping scheme of f applies to label names that need
// it), without building a prometheus.Metric or dto.Metric per series: the
// per-target and per-group families are encoded straight from the snapshot,
// one family after the other, each contiguous (one HELP/TYPE block, one
// MetricFamily message). The series are the same as those Collect sends,
// though not necessarily in the same order within a family. Families whose
// name include rejects are left out; a nil include keeps all.
//
// WriteMetrics is safe for concurrent use, but scrapes (Collect and
// WriteMetrics) are serialised while they run, including the time w takes
// to accept the data: a slow reader delays other scrapes. w receives writes
// of about 64 KiB; WriteMetrics stops writing after w's first error and
// returns it. An error of the small families (build info and engine
// metrics, gathered through client_golang) is returned too, after the rest
// was written.
func (c *Collector) WriteMetrics(w io.Writer, f expfmt.Format, include func(name string) bool) error {
	if !CanStream(f) {
		return fmt.Errorf("stream metrics as %q: %w", f, ErrUnsupportedFormat)
	}
	if include == nil {
		include = func(string) bool { return true }
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stream
	if st == nil {
		st = &streamState{small: prometheus.NewRegistry()}
		st.small.MustRegister(smallCollector{c})
		c.stream = st
	}
	st.sink = sink{w: w, buf: st.sink.buf[:0]}
	defer func() { st.sink.w = nil }()

	c.snap = c.src.Snapshot(c.snap)
	mfs, gatherErr := st.small.Gather()
	if gatherErr != nil {
		gatherErr = fmt.Errorf("gather engine metrics: %w", gatherErr)
	}
	enc := expfmt.NewEncoder(&st.sink, f)
	for _, mf := range mfs {
		if include(mf.GetName()) {
			if err := enc.Encode(mf); err != nil {
				return errors.Join(gatherErr, fmt.Errorf("encode %s: %w", mf.GetName(), err))
			}
		}
	}
	if s := c.snap; s != nil {
		c.prepare(s)
		var fe familyEncoder
		scheme := f.ToEscapingScheme()
		if f.FormatType() == expfmt.TypeProtoDelim {
			fe = &protoEncoder{st: st, scheme: scheme}
		} else {
			fe = &textEncoder{st: st, scheme: scheme}
		}
		now := scrapeTime(s)
		for _, fam := range streamFamilies {
			if st.sink.err != nil {
				break
			}
			if include(fam.name) {
				fe.family(fam, func(x seriesEncoder) { c.emit(x, fam, s, now) })
			}
		}
	}
	st.sink.flush()
	if st.sink.err != nil {
		return errors.Join(gatherErr, fmt.Errorf("write metrics: %w", st.sink.err))
	}
	return gatherErr
}

// streamFamilies are the per-target families in the order WriteMetrics
// writes them.
var streamFamilies = [...]*family{
	&famUp, &famSent, &famReplies, &famLost, &famLate, &famDup, &famSkipped,
	&famErrors, &famDNS, &famTTL, &famOutages, &famResolution, &famStateChange,
	&famRTT, &famOutageDur, &famLastStart, &famLastEnd, &famLastDur,
}

// labels are the labels of one series: the cached labels of a target entry,
// or pairs when not nil.
type labels struct {
	e     *targetEntry
	pairs []*dto.LabelPair
}

// histData is one histogram to encode. Classic buckets are present when
// bounds is not empty (cum[i] is the cumulative count of bounds[i]); native
// fields when native is set (buckets[i] counts index offset+i).
type histData struct {
	count   uint64
	sum     float64
	bounds  []float64
	cum     []uint64
	native  bool
	zero    uint64
	offset  int32
	buckets []uint64
}

// seriesEncoder encodes the series of the current family.
type seriesEncoder interface {
	scalar(l labels, v float64)
	hist(l labels, h histData)
}

// familyEncoder writes one family: emit calls the seriesEncoder once per
// series (possibly more than once in all, for protobuf's size pass). A
// family without series is not written.
type familyEncoder interface {
	family(f *family, emit func(seriesEncoder))
}

// emit sends the series of family f from snapshot s, in the same selection
// as collectTargets.
func (c *Collector) emit(x seriesEncoder, f *family, s *probe.Snapshot, now time.Time) {
	switch f {
	case &famErrors:
		for _, i := range c.emitOrder {
			t, e := &s.Targets[i], c.ents[i]
			for et, n := range t.Errors {
				if n > 0 {
					x.scalar(labels{pairs: c.errorPairs(e, probe.ErrorType(et))}, float64(n))
				}
			}
		}
	case &famRTT:
		for _, i := range c.emitOrder {
			t := &s.Targets[i]
			if mode := histMode(t.Spec); mode != probe.HistogramNone && t.Spec.Histogram.Aggregation != probe.AggregateGroup {
				h := &t.RTT
				d := histData{count: h.Count, sum: h.Sum}
				if mode == probe.HistogramClassic || mode == probe.HistogramBoth {
					n := min(len(h.Bounds), len(h.Classic))
					d.bounds, d.cum = h.Bounds[:n], h.Classic[:n]
				}
				if mode == probe.HistogramNative || mode == probe.HistogramBoth {
					d.native, d.zero, d.offset, d.buckets = true, h.ZeroCount, h.Offset, h.Buckets
				}
				x.hist(labels{e: c.ents[i]}, d)
			}
		}
		for _, g := range c.groupSeq {
			d := histData{count: g.count, sum: g.sum}
			if g.mode == probe.HistogramClassic || g.mode == probe.HistogramBoth {
				n := min(len(g.bounds), len(g.classic))
				d.bounds, d.cum = g.bounds[:n], g.classic[:n]
			}
			if g.mode == probe.HistogramNative || g.mode == probe.HistogramBoth {
				d.native, d.zero, d.offset, d.buckets = true, g.zero, g.offset, g.dense
			}
			x.hist(labels{pairs: g.labelPairs()}, d)
		}
	case &famOutageDur:
		for _, i := range c.emitOrder {
			t := &s.Targets[i]
			if t.OutagesTotal > 0 || len(t.Outages) > 0 {
				d := histData{count: completedOutages(t), sum: t.OutageDurationSum,
					bounds: c.outageBounds, cum: t.OutageDurations[:]}
				x.hist(labels{e: c.ents[i]}, d)
			}
		}
	default:
		for _, i := range c.emitOrder {
			if v, ok := scalarValue(f, &s.Targets[i], now); ok {
				x.scalar(labels{e: c.ents[i]}, v)
			}
		}
	}
}

// scalarValue is the value of the counter or gauge family f for target t,
// and whether t has that series.
func scalarValue(f *family, t *probe.TargetSnapshot, now time.Time) (float64, bool) {
	switch f {
	case &famUp:
		return boolFloat(t.Up), true
	case &famSent:
		return float64(t.Sent), true
	case &famReplies:
		return float64(t.Replies), true
	case &famLost:
		return float64(t.Lost), true
	case &famLate:
		return float64(t.Late), true
	case &famDup:
		return float64(t.Duplicates), true
	case &famSkipped:
		return float64(t.Skipped), true
	case &famDNS:
		return float64(t.DNSErrors), t.Spec.Host != ""
	case &famTTL:
		return float64(t.LastTTL), t.LastTTL >= 0 && t.Replies > 0
	case &famOutages:
		return float64(t.OutagesTotal), true
	case &famResolution:
		return t.OutageResolution().Seconds(), true
	case &famStateChange:
		return unixSeconds(t.StateChange), true
	}
	if len(t.Outages) == 0 {
		return 0, false
	}
	o := &t.Outages[len(t.Outages)-1]
	switch f {
	case &famLastStart:
		return unixSeconds(o.Start), true
	case &famLastEnd:
		if o.Ongoing {
			return 0, true
		}
		return unixSeconds(o.End), true
	case &famLastDur:
		return max(o.Duration(now), 0).Seconds(), true
	}
	panic("collector: no scalar value for family " + f.name)
}

// labelName is a label name as the exposition carries it under scheme,
// like model.EscapeMetricFamily.
func labelName(name string, scheme model.EscapingScheme) string {
	if scheme == model.NoEscaping || model.IsValidLegacyMetricName(name) {
		return name
	}
	return model.EscapeName(name, scheme)
}

// ---- text format ----

// textEncoder writes the text format (version 0.0.4) byte for byte like
// expfmt.MetricFamilyToText.
type textEncoder struct {
	st      *streamState
	scheme  model.EscapingScheme
	f       *family
	started bool
}

func (x *textEncoder) family(f *family, emit func(seriesEncoder)) {
	x.f, x.started = f, false
	emit(x)
}

// header writes HELP and TYPE before the first series of the family.
func (x *textEncoder) header() {
	if x.started {
		return
	}
	x.started = true
	b := x.st.sink.buf
	b = append(b, "# HELP "...)
	b = append(b, x.f.name...)
	b = append(b, ' ')
	b = appendEscaped(b, x.f.help, false)
	b = append(b, "\n# TYPE "...)
	b = append(b, x.f.name...)
	switch x.f.typ {
	case dto.MetricType_COUNTER:
		b = append(b, " counter\n"...)
	case dto.MetricType_GAUGE:
		b = append(b, " gauge\n"...)
	default:
		b = append(b, " histogram\n"...)
	}
	x.st.sink.buf = b
}

// labels returns the text of l: `{name="value",...` without the closing
// brace, or nothing without labels.
func (x *textEncoder) labels(b []byte, l labels) []byte {
	if l.pairs != nil || !l.e.ds.legacy {
		p := l.pairs
		if p == nil {
			p = l.e.pairs
		}
		return appendTextPairs(b, p, x.scheme)
	}
	if l.e.text == nil {
		l.e.text = appendTextPairs(make([]byte, 0, 128), l.e.pairs, model.NoEscaping)
	}
	return append(b, l.e.text...)
}

// sample appends one sample line: name+suffix, labels, an optional le
// label, the value.
func (x *textEncoder) sample(b []byte, suffix string, l labels, le float64, withLE bool, v float64) []byte {
	b = append(b, x.f.name...)
	b = append(b, suffix...)
	n := len(b)
	b = x.labels(b, l)
	switch {
	case withLE:
		if len(b) == n {
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = append(b, `le="`...)
		b = appendFloat(b, le)
		b = append(b, `"}`...)
	case len(b) > n:
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, v)
	return append(b, '\n')
}

func (x *textEncoder) scalar(l labels, v float64) {
	x.header()
	x.st.sink.buf = x.sample(x.st.sink.buf, "", l, 0, false, v)
	x.st.sink.maybeFlush()
}

func (x *textEncoder) hist(l labels, h histData) {
	x.header()
	b := x.st.sink.buf
	infSeen := false
	for i, ub := range h.bounds {
		b = x.sample(b, "_bucket", l, ub, true, float64(h.cum[i]))
		infSeen = infSeen || math.IsInf(ub, +1)
	}
	if !infSeen {
		b = x.sample(b, "_bucket", l, math.Inf(+1), true, float64(h.count))
	}
	b = x.sample(b, "_sum", l, 0, false, h.sum)
	b = x.sample(b, "_count", l, 0, false, float64(h.count))
	x.st.sink.buf = b
	x.st.sink.maybeFlush()
}

// appendTextPairs appends `{name="value",...` (no closing brace) for pairs,
// nothing for no pairs.
func appendTextPairs(b []byte, pairs []*dto.LabelPair, scheme model.EscapingScheme) []byte {
	sep := byte('{')
	for _, p := range pairs {
		b = append(b, sep)
		sep = ','
		name := labelName(p.GetName(), scheme)
		if model.LegacyValidation.IsValidMetricName(name) {
			b = append(b, name...)
		} else {
			b = append(b, '"')
			b = appendEscaped(b, name, true)
			b = append(b, '"')
		}
		b = append(b, `="`...)
		b = appendEscaped(b, p.GetValue(), true)
		b = append(b, '"')
	}
	return b
}

// appendEscaped escapes backslash and newline, and with quote the double
// quote, like expfmt's text writer.
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat formats f like expfmt's writeFloat.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case f == 1:
		return append(b, '1')
	case f == 0:
		return append(b, '0')
	case f == -1:
		return append(b, "-1"...)
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// ---- delimited protobuf ----

// Field numbers of io.prometheus.client (client_model metrics.proto).
const (
	fLabelName, fLabelValue                                 = 1, 2
	fFamName, fFamHelp, fFamType, fFamMetric                = 1, 2, 3, 4
	fMetricLabel, fMetricGauge, fMetricCounter              = 1, 2, 3
	fMetricHistogram                                        = 7
	fValue                                                  = 1 // Gauge.value, Counter.value
	fHistCount, fHistSum, fHistBucket                       = 1, 2, 3
	fHistSchema, fHistZeroThreshold, fHistZeroCount         = 5, 6, 7
	fHistPositiveSpan, fHistPositiveDelta                   = 12, 13
	fBucketCumulative, fBucketUpperBound                    = 1, 2
	fSpanOffset, fSpanLength                                = 1, 2
	schemaValue                                     int32   = probe.NativeSchema
	zeroThresholdValue                              float64 = probe.NativeZeroThreshold
)

// protoEncoder writes one MetricFamily message per family, length-delimited
// like protodelim.MarshalTo. The length comes first, so every family is
// encoded twice: a size pass, then the write pass. Fields are written in
// field number order with the presence the Collector's dto objects have
// (every scalar field set, even when zero), so a decoder gets messages that
// proto.Equal the gathered ones.
type protoEncoder struct {
	st     *streamState
	scheme model.EscapingScheme
	f      *family
	sizing bool
	size   int // size pass: bytes of the Metric fields of the family
	count  int // size pass: series of the family
}

func (x *protoEncoder) family(f *family, emit func(seriesEncoder)) {
	x.f, x.sizing, x.size, x.count = f, true, 0, 0
	emit(x)
	if x.count == 0 {
		return
	}
	hdr := protowire.SizeTag(fFamName) + protowire.SizeBytes(len(f.name)) +
		protowire.SizeTag(fFamHelp) + protowire.SizeBytes(len(f.help)) +
		protowire.SizeTag(fFamType) + protowire.SizeVarint(uint64(f.typ))
	b := x.st.sink.buf
	b = protowire.AppendVarint(b, uint64(hdr+x.size))
	b = protowire.AppendTag(b, fFamName, protowire.BytesType)
	b = protowire.AppendString(b, f.name)
	b = protowire.AppendTag(b, fFamHelp, protowire.BytesType)
	b = protowire.AppendString(b, f.help)
	b = protowire.AppendTag(b, fFamType, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(f.typ))
	x.st.sink.buf = b
	x.sizing = false
	emit(x)
	x.st.sink.maybeFlush()
}

// metric adds one Metric message (its fields in body) to the family.
func (x *protoEncoder) metric(body []byte) {
	if x.sizing {
		x.size += protowire.SizeTag(fFamMetric) + protowire.SizeBytes(len(body))
		x.count++
		return
	}
	b := protowire.AppendTag(x.st.sink.buf, fFamMetric, protowire.BytesType)
	x.st.sink.buf = protowire.AppendBytes(b, body)
	x.st.sink.maybeFlush()
}

// labels appends the Metric.label fields of l.
func (x *protoEncoder) labels(b []byte, l labels) []byte {
	if l.pairs != nil || !l.e.ds.legacy {
		p := l.pairs
		if p == nil {
			p = l.e.pairs
		}
		return appendPBPairs(b, p, x.scheme)
	}
	if l.e.pb == nil {
		l.e.pb = appendPBPairs(make([]byte, 0, 128), l.e.pairs, model.NoEscaping)
	}
	return append(b, l.e.pb...)
}

func appendPBPairs(b []byte, pairs []*dto.LabelPair, scheme model.EscapingScheme) []byte {
	for _, p := range pairs {
		name, value := labelName(p.GetName(), scheme), p.GetValue()
		n := protowire.SizeTag(fLabelName) + protowire.SizeBytes(len(name)) +
			protowire.SizeTag(fLabelValue) + protowire.SizeBytes(len(value))
		b = protowire.AppendTag(b, fMetricLabel, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(n))
		b = protowire.AppendTag(b, fLabelName, protowire.BytesType)
		b = protowire.AppendString(b, name)
		b = protowire.AppendTag(b, fLabelValue, protowire.BytesType)
		b = protowire.AppendString(b, value)
	}
	return b
}

func (x *protoEncoder) scalar(l labels, v float64) {
	field := protowire.Number(fMetricCounter)
	if x.f.typ == dto.MetricType_GAUGE {
		field = fMetricGauge
	}
	b := x.labels(x.st.scratch[:0], l)
	b = protowire.AppendTag(b, field, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(protowire.SizeTag(fValue)+protowire.SizeFixed64()))
	b = protowire.AppendTag(b, fValue, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(v))
	x.st.scratch = b
	x.metric(b)
}

func (x *protoEncoder) hist(l labels, h histData) {
	st := x.st
	hb := st.hbuf[:0]
	hb = protowire.AppendTag(hb, fHistCount, protowire.VarintType)
	hb = protowire.AppendVarint(hb, h.count)
	hb = protowire.AppendTag(hb, fHistSum, protowire.Fixed64Type)
	hb = protowire.AppendFixed64(hb, math.Float64bits(h.sum))
	for i, ub := range h.bounds {
		n := protowire.SizeTag(fBucketCumulative) + protowire.SizeVarint(h.cum[i]) +
			protowire.SizeTag(fBucketUpperBound) + protowire.SizeFixed64()
		hb = protowire.AppendTag(hb, fHistBucket, protowire.BytesType)
		hb = protowire.AppendVarint(hb, uint64(n))
		hb = protowire.AppendTag(hb, fBucketCumulative, protowire.VarintType)
		hb = protowire.AppendVarint(hb, h.cum[i])
		hb = protowire.AppendTag(hb, fBucketUpperBound, protowire.Fixed64Type)
		hb = protowire.AppendFixed64(hb, math.Float64bits(ub))
	}
	if h.native {
		hb = protowire.AppendTag(hb, fHistSchema, protowire.VarintType)
		hb = protowire.AppendVarint(hb, protowire.EncodeZigZag(int64(schemaValue)))
		hb = protowire.AppendTag(hb, fHistZeroThreshold, protowire.Fixed64Type)
		hb = protowire.AppendFixed64(hb, math.Float64bits(zeroThresholdValue))
		hb = protowire.AppendTag(hb, fHistZeroCount, protowire.VarintType)
		hb = protowire.AppendVarint(hb, h.zero)
		st.spans, st.deltas = nativeLayout(st.spans[:0], st.deltas[:0], h.offset, h.buckets)
		for _, s := range st.spans {
			off := protowire.EncodeZigZag(int64(s.offset))
			n := protowire.SizeTag(fSpanOffset) + protowire.SizeVarint(off) +
				protowire.SizeTag(fSpanLength) + protowire.SizeVarint(uint64(s.length))
			hb = protowire.AppendTag(hb, fHistPositiveSpan, protowire.BytesType)
			hb = protowire.AppendVarint(hb, uint64(n))
			hb = protowire.AppendTag(hb, fSpanOffset, protowire.VarintType)
			hb = protowire.AppendVarint(hb, off)
			hb = protowire.AppendTag(hb, fSpanLength, protowire.VarintType)
			hb = protowire.AppendVarint(hb, uint64(s.length))
		}
		// proto2 repeated sint64 without [packed = true]: one field each.
		for _, d := range st.deltas {
			hb = protowire.AppendTag(hb, fHistPositiveDelta, protowire.VarintType)
			hb = protowire.AppendVarint(hb, protowire.EncodeZigZag(d))
		}
	}
	st.hbuf = hb
	b := x.labels(st.scratch[:0], l)
	b = protowire.AppendTag(b, fMetricHistogram, protowire.BytesType)
	b = protowire.AppendBytes(b, hb)
	st.scratch = b
	x.metric(b)
}

// nativeLayout appends the positive spans and deltas of the native buckets
// (buckets[i] counts index offset+i) laid out like arena.native: a gap of
// one or two empty buckets becomes zero deltas inside a span, a longer gap
// starts a new span.
func nativeLayout(spans []pbSpan, deltas []int64, offset int32, buckets []uint64) ([]pbSpan, []int64) {
	var prev int64
	next, first := 0, true
	for i, c := range buckets {
		if c == 0 {
			continue
		}
		idx := int(offset) + i
		if gap := idx - next; first || gap > 2 {
			spans = append(spans, pbSpan{offset: int32(gap)})
		} else {
			for range gap {
				deltas = append(deltas, -prev)
				prev = 0
				spans[len(spans)-1].length++
			}
		}
		deltas = append(deltas, int64(c)-prev)
		prev = int64(c)
		spans[len(spans)-1].length++
		next, first = idx+1, false
	}
	return spans, deltas
}
