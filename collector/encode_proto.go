package collector

import (
	"math"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of io.prometheus.client (client_model metrics.proto).
const (
	fLabelName, fLabelValue                                 = 1, 2
	fFamName, fFamHelp, fFamType, fFamMetric                = 1, 2, 3, 4
	fMetricLabel, fMetricGauge, fMetricCounter              = 1, 2, 3
	fCounterCreated, fHistCreated                           = 3, 15 // google.protobuf.Timestamp
	fTimestampSeconds, fTimestampNanos                      = 1, 2
	fMetricHistogram                                        = 7
	fValue                                                  = 1 // Gauge.value, Counter.value
	fHistCount, fHistSum, fHistBucket                       = 1, 2, 3
	fHistSchema, fHistZeroThreshold, fHistZeroCount         = 5, 6, 7
	fHistPositiveSpan, fHistPositiveDelta                   = 12, 13
	fBucketCumulative, fBucketUpperBound                    = 1, 2
	fSpanOffset, fSpanLength                                = 1, 2
	zeroThresholdValue                              float64 = probe.NativeZeroThreshold
)

// protoEncoder writes one MetricFamily message per family, length-delimited
// like protodelim.MarshalTo. The length comes first, so every family is
// encoded twice: a size pass, then the write pass. The histograms of the
// histogram families are read from the engine while they are emitted
// (Collector.eachHist) and may change between the passes, so the size pass
// keeps their encoded Histogram messages (streamState.hists, a few dozen
// bytes a series) and the write pass replays them instead of reading again.
// Fields are written in field number order with the presence the
// Collector's dto objects have (every scalar field set, even when zero), so
// a decoder gets messages that proto.Equal the gathered ones.
type protoEncoder struct {
	st     *streamState
	scheme model.EscapingScheme
	f      *family
	sizing bool
	size   int // size pass: bytes of the Metric fields of the family
	count  int // size pass: series of the family
	// kept: the histograms of this family are kept by the size pass and
	// replayed by the write pass, from offset next of st.hists.
	kept bool
	next int
}

func (x *protoEncoder) family(f *family, emit func(seriesEncoder)) {
	x.f, x.sizing, x.size, x.count = f, true, 0, 0
	x.kept, x.next, x.st.hists = isHistFamily(f), 0, x.st.hists[:0]
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

// replaying reports whether the histograms of the current family come from
// the size pass: the emitter need not read them again.
func (x *protoEncoder) replaying() bool { return x.kept && !x.sizing }

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
	return appendLabels(b, l, x.scheme, &l.e.pb, appendPBPairs)
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

func (x *protoEncoder) scalar(l labels, v float64, created time.Time) {
	field := protowire.Number(fMetricCounter)
	if x.f.typ == dto.MetricType_GAUGE {
		field, created = fMetricGauge, time.Time{}
	}
	n := protowire.SizeTag(fValue) + protowire.SizeFixed64()
	if !created.IsZero() {
		n += protowire.SizeTag(fCounterCreated) + protowire.SizeBytes(sizeTimestamp(created))
	}
	b := x.labels(x.st.scratch[:0], l)
	b = protowire.AppendTag(b, field, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(n))
	b = protowire.AppendTag(b, fValue, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(v))
	b = appendTimestamp(b, fCounterCreated, created)
	x.st.scratch = b
	x.metric(b)
}

// sizeTimestamp is the size of the google.protobuf.Timestamp message of t
// (proto3: zero fields are left out).
func sizeTimestamp(t time.Time) int {
	n := 0
	if s := t.Unix(); s != 0 {
		n += protowire.SizeTag(fTimestampSeconds) + protowire.SizeVarint(uint64(s))
	}
	if ns := t.Nanosecond(); ns != 0 {
		n += protowire.SizeTag(fTimestampNanos) + protowire.SizeVarint(uint64(ns))
	}
	return n
}

// appendTimestamp appends t as the Timestamp field f, nothing when t is zero.
func appendTimestamp(b []byte, f protowire.Number, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	b = protowire.AppendTag(b, f, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(sizeTimestamp(t)))
	if s := t.Unix(); s != 0 {
		b = protowire.AppendTag(b, fTimestampSeconds, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(s))
	}
	if ns := t.Nanosecond(); ns != 0 {
		b = protowire.AppendTag(b, fTimestampNanos, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(ns))
	}
	return b
}

func (x *protoEncoder) hist(l labels, h histData) {
	st := x.st
	var hb []byte
	if x.replaying() {
		n, k := protowire.ConsumeVarint(st.hists[x.next:])
		hb = st.hists[x.next+k : x.next+k+int(n)]
		x.next += k + int(n)
	} else {
		hb = x.encodeHist(h)
		if x.kept {
			st.hists = protowire.AppendBytes(st.hists, hb)
		}
	}
	b := x.labels(st.scratch[:0], l)
	b = protowire.AppendTag(b, fMetricHistogram, protowire.BytesType)
	b = protowire.AppendBytes(b, hb)
	st.scratch = b
	x.metric(b)
}

// encodeHist returns the fields of the Histogram message of h, in st.hbuf.
func (x *protoEncoder) encodeHist(h histData) []byte {
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
		hb = protowire.AppendVarint(hb, protowire.EncodeZigZag(int64(h.schema)))
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
	hb = appendTimestamp(hb, fHistCreated, h.created)
	st.hbuf = hb
	return hb
}
