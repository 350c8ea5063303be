package collector

import (
	"math"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
)

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
	return appendLabels(b, l, x.scheme, &l.e.text, appendTextPairs)
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

// scalar ignores created: the text format (0.0.4) has no created timestamps.
func (x *textEncoder) scalar(l labels, v float64, _ time.Time) {
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
