package collector

import (
	"errors"
	"fmt"
	"io"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
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
	// hists are the Histogram messages of one histogram family, each
	// length-prefixed, from the size pass to the write pass (protoEncoder).
	hists  []byte
	spans  []span
	deltas []int64
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

	c.snap = c.src.Snapshot(c.deferred())
	defer c.snap.ReleaseEngine()
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
		c.emitFamilies(fe, s, func(name string) bool { return st.sink.err == nil && include(name) })
	}
	st.sink.flush()
	if st.sink.err != nil {
		return errors.Join(gatherErr, fmt.Errorf("write metrics: %w", st.sink.err))
	}
	return gatherErr
}

// labelName is a label name as the exposition carries it under scheme,
// like model.EscapeMetricFamily.
func labelName(name string, scheme model.EscapingScheme) string {
	if scheme == model.NoEscaping || model.IsValidLegacyMetricName(name) {
		return name
	}
	return model.EscapeName(name, scheme)
}

// appendLabels appends the labels of l encoded by enc. A target's own
// labels are encoded once into *cache and reused when every name is valid
// in the legacy scheme (no escaping scheme can change them then).
func appendLabels(b []byte, l labels, scheme model.EscapingScheme, cache *string,
	enc func(b []byte, pairs []*dto.LabelPair, scheme model.EscapingScheme) []byte) []byte {
	if l.pairs != nil || !l.e.ds.legacy {
		p := l.pairs
		if p == nil {
			p = l.e.labelPairs()
		}
		return enc(b, p, scheme)
	}
	if *cache == "" {
		// Encoded after b, then kept in a string of its own size.
		n := len(b)
		b = enc(b, l.e.newPairs(), model.NoEscaping)
		*cache = string(b[n:])
		return b
	}
	return append(b, *cache...)
}
