package collector

import (
	"bytes"
	"cmp"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

// streamFormats are the formats WriteMetrics supports, with the escaping
// schemes a scraper may ask for.
var streamFormats = []struct {
	name   string
	format expfmt.Format
}{
	{"text", expfmt.NewFormat(expfmt.TypeTextPlain) + "; escaping=underscores"},
	{"text utf8", expfmt.NewFormat(expfmt.TypeTextPlain) + "; escaping=allow-utf-8"},
	{"protobuf", expfmt.NewFormat(expfmt.TypeProtoDelim) + "; escaping=underscores"},
	{"protobuf values", expfmt.NewFormat(expfmt.TypeProtoDelim) + "; escaping=values"},
}

// gatherEncoded is the exposition of the registry path: Gather of a
// registry holding c, encoded by expfmt in format f (what promhttp does).
func gatherEncoded(t testing.TB, c prometheus.Collector, f expfmt.Format) []byte {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, f)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatalf("encode %s: %v", mf.GetName(), err)
		}
	}
	return buf.Bytes()
}

// streamEncoded is the exposition of WriteMetrics.
func streamEncoded(t testing.TB, c *Collector, f expfmt.Format) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := c.WriteMetrics(&buf, f, nil); err != nil {
		t.Fatalf("write metrics: %v", err)
	}
	return buf.Bytes()
}

// decodeFamilies parses an exposition with expfmt's decoder, fails on a
// family name that appears twice (a family split into parts), and returns
// the families sorted by name with their metrics sorted by labels.
func decodeFamilies(t testing.TB, b []byte, f expfmt.Format) []*dto.MetricFamily {
	t.Helper()
	dec := expfmt.NewDecoder(bytes.NewReader(b), f)
	var mfs []*dto.MetricFamily
	seen := map[string]bool{}
	for {
		mf := &dto.MetricFamily{}
		err := dec.Decode(mf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("decode %s: %v", f, err)
		}
		if seen[mf.GetName()] {
			t.Fatalf("family %s appears twice", mf.GetName())
		}
		seen[mf.GetName()] = true
		slices.SortFunc(mf.Metric, func(a, b *dto.Metric) int { return cmp.Compare(labelString(a), labelString(b)) })
		mfs = append(mfs, mf)
	}
	slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return mfs
}

func labelString(m *dto.Metric) string {
	var b strings.Builder
	for _, l := range m.GetLabel() {
		b.WriteString(l.GetName())
		b.WriteByte(0)
		b.WriteString(l.GetValue())
		b.WriteByte(0)
	}
	return b.String()
}

// sortedLines returns the lines of a text exposition, sorted.
func sortedLines(b []byte) []string {
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	slices.Sort(lines)
	return lines
}

func compareFamilies(t *testing.T, got, want []*dto.MetricFamily) {
	t.Helper()
	if len(got) != len(want) {
		names := func(mfs []*dto.MetricFamily) (s []string) {
			for _, mf := range mfs {
				s = append(s, mf.GetName())
			}
			return s
		}
		t.Fatalf("%d families, want %d:\ngot  %v\nwant %v", len(got), len(want), names(got), names(want))
	}
	for k := range got {
		if !proto.Equal(got[k], want[k]) {
			g, w := got[k], want[k]
			if len(g.Metric) != len(w.Metric) {
				t.Fatalf("family %s: %d series, want %d", w.GetName(), len(g.Metric), len(w.Metric))
			}
			for i := range g.Metric {
				if !proto.Equal(g.Metric[i], w.Metric[i]) {
					t.Fatalf("family %s series %d differs:\ngot  %v\nwant %v", w.GetName(), i, g.Metric[i], w.Metric[i])
				}
			}
			t.Fatalf("family %s differs in metadata:\ngot  %v %v %v\nwant %v %v %v", w.GetName(),
				g.GetName(), g.GetType(), g.GetHelp(), w.GetName(), w.GetType(), w.GetHelp())
		}
	}
}

// streamCases are the snapshots the streaming encoder is checked on: the
// fixture and synthetic snapshots in every histogram mode and aggregation.
func streamCases() []struct {
	name string
	snap *probe.Snapshot
} {
	utf8 := fixtureSnapshot()
	// A library user may set label names that the configuration file
	// forbids; they are escaped as the scrape negotiates.
	utf8.Targets[0].Spec.Labels = []probe.Label{{Name: "site.name", Value: `fra "1"\`}}
	utf8.Targets[1].Spec.Labels = []probe.Label{{Name: "site.name", Value: "fra\n2"}}
	return []struct {
		name string
		snap *probe.Snapshot
	}{
		{"fixture", fixtureSnapshot()},
		{"utf8 user label", utf8},
		{"empty", &probe.Snapshot{Time: tNow, Source: probe.Source{Name: "empty"}}},
		{"mixed modes", syntheticSnapshot(1200, "", "", 1)},
		{"native", syntheticSnapshot(300, probe.HistogramNative, probe.AggregateTarget, 2)},
		{"classic", syntheticSnapshot(300, probe.HistogramClassic, probe.AggregateTarget, 3)},
		{"both", syntheticSnapshot(300, probe.HistogramBoth, probe.AggregateTarget, 4)},
		{"none", syntheticSnapshot(300, probe.HistogramNone, probe.AggregateTarget, 5)},
		{"group native", syntheticSnapshot(300, probe.HistogramNative, probe.AggregateGroup, 6)},
		{"group classic", syntheticSnapshot(300, probe.HistogramClassic, probe.AggregateGroup, 7)},
		{"group both", syntheticSnapshot(300, probe.HistogramBoth, probe.AggregateGroup, 8)},
	}
}

// TestStreamMatchesRegistry checks that WriteMetrics writes exactly the
// families, series, labels, values and metadata of the registry path
// (Gather plus expfmt), in text and delimited protobuf: both expositions
// are decoded with expfmt and compared family by family; for text also line
// by line (the same lines in another order).
func TestStreamMatchesRegistry(t *testing.T) {
	for _, tt := range streamCases() {
		for _, ff := range streamFormats {
			t.Run(tt.name+"/"+ff.name, func(t *testing.T) {
				src, rs := newFixture()
				src.set(tt.snap)
				opts := Options{Reload: rs, BuildInfo: true}
				old := New(src, opts)
				want := gatherEncoded(t, old, ff.format)
				c := New(src, opts)
				// Three scrapes: the first builds the label caches, the
				// second runs from them, the third follows a registry
				// scrape of the same Collector (shared caches).
				for i := range 3 {
					if i == 2 {
						gatherEncoded(t, c, ff.format)
					}
					got := streamEncoded(t, c, ff.format)
					if ff.format.FormatType() == expfmt.TypeTextPlain {
						if g, w := sortedLines(got), sortedLines(want); !slices.Equal(g, w) {
							t.Fatalf("scrape %d: text lines differ:\n%s", i+1, lineDiff(g, w))
						}
					}
					compareFamilies(t, decodeFamilies(t, got, ff.format), decodeFamilies(t, want, ff.format))
				}
			})
		}
	}
}

// lineDiff lists the first lines that only one side has.
func lineDiff(got, want []string) string {
	var b strings.Builder
	n := 0
	for _, l := range got {
		if _, ok := slices.BinarySearch(want, l); !ok && n < 10 {
			b.WriteString("+ " + l + "\n")
			n++
		}
	}
	for _, l := range want {
		if _, ok := slices.BinarySearch(got, l); !ok && n < 20 {
			b.WriteString("- " + l + "\n")
			n++
		}
	}
	return b.String()
}

// TestStreamProtoBytes checks the protobuf encoding itself: every family
// message WriteMetrics writes must be byte for byte what proto.Marshal makes
// of the decoded message (field order, presence of zero values, unpacked
// deltas), so that any decoder reads the same thing.
func TestStreamProtoBytes(t *testing.T) {
	f := expfmt.NewFormat(expfmt.TypeProtoDelim)
	src, rs := newFixture()
	src.set(syntheticSnapshot(1200, "", "", 11))
	b := streamEncoded(t, New(src, Options{Reload: rs}), f)
	families := 0
	for len(b) > 0 {
		n, k := decodeVarint(b)
		if k <= 0 || int(n) > len(b)-k {
			t.Fatalf("bad length prefix at family %d", families)
		}
		msg := b[k : k+int(n)]
		b = b[k+int(n):]
		mf := &dto.MetricFamily{}
		if err := proto.Unmarshal(msg, mf); err != nil {
			t.Fatalf("family %d: %v", families, err)
		}
		again, err := proto.MarshalOptions{Deterministic: true}.Marshal(mf)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, msg) {
			t.Fatalf("family %s: encoding differs from proto.Marshal (%d vs %d bytes)", mf.GetName(), len(msg), len(again))
		}
		families++
	}
	if families < 20 {
		t.Fatalf("%d families, want at least 20", families)
	}
}

func decodeVarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}

func TestStreamFilterAndErrors(t *testing.T) {
	src, rs := newFixture()
	c := New(src, Options{Reload: rs})
	text := expfmt.NewFormat(expfmt.TypeTextPlain)

	t.Run("include", func(t *testing.T) {
		var buf bytes.Buffer
		keep := map[string]bool{"icmp_up": true, "icmp_rtt_seconds": true, "icmp_engine_targets": true}
		if err := c.WriteMetrics(&buf, text, func(n string) bool { return keep[n] }); err != nil {
			t.Fatal(err)
		}
		mfs := decodeFamilies(t, buf.Bytes(), text)
		var names []string
		for _, mf := range mfs {
			names = append(names, mf.GetName())
		}
		if want := []string{"icmp_engine_targets", "icmp_rtt_seconds", "icmp_up"}; !slices.Equal(names, want) {
			t.Fatalf("families %v, want %v", names, want)
		}
	})
	t.Run("unsupported format", func(t *testing.T) {
		err := c.WriteMetrics(io.Discard, expfmt.NewFormat(expfmt.TypeOpenMetrics), nil)
		if !errors.Is(err, ErrUnsupportedFormat) {
			t.Fatalf("err = %v, want ErrUnsupportedFormat", err)
		}
	})
	t.Run("write error", func(t *testing.T) {
		big := New(&fakeSource{snap: syntheticSnapshot(2000, "", "", 3)}, Options{})
		w := &failWriter{after: 100 << 10}
		err := big.WriteMetrics(w, text, nil)
		if !errors.Is(err, errFail) {
			t.Fatalf("err = %v, want the writer's error", err)
		}
		if w.calls != 2 {
			t.Errorf("%d writes, want 2 (one ok, one failing, then none)", w.calls)
		}
	})
	t.Run("nil snapshot", func(t *testing.T) {
		var buf bytes.Buffer
		if err := New(nilSource{}, Options{Reload: rs}).WriteMetrics(&buf, text, nil); err != nil {
			t.Fatal(err)
		}
		mfs := decodeFamilies(t, buf.Bytes(), text)
		if len(mfs) != 2 || mfs[0].GetName() != "icmp_exporter_config_last_reload_success_timestamp_seconds" {
			t.Fatalf("got %v, want only the two reload families", mfs)
		}
	})
}

type nilSource struct{}

func (nilSource) Snapshot(*probe.Snapshot) *probe.Snapshot { return nil }

var errFail = errors.New("connection reset")

type failWriter struct {
	after, n, calls int
}

func (w *failWriter) Write(p []byte) (int, error) {
	w.calls++
	if w.n+len(p) > w.after {
		return 0, errFail
	}
	w.n += len(p)
	return len(p), nil
}

// TestStreamConcurrent runs WriteMetrics and registry scrapes of one
// Collector at the same time (under -race in CI): every body must still be
// the full exposition.
func TestStreamConcurrent(t *testing.T) {
	src, rs := newFixture()
	src.set(syntheticSnapshot(400, "", "", 12))
	c := New(src, Options{Reload: rs})
	text := expfmt.NewFormat(expfmt.TypeTextPlain)
	want := sortedLines(gatherEncoded(t, New(src, Options{Reload: rs}), text))
	errs := make(chan error, 8)
	for w := range 4 {
		go func() {
			for range 3 {
				var b []byte
				if w%2 == 0 {
					var buf bytes.Buffer
					if err := c.WriteMetrics(&buf, text, nil); err != nil {
						errs <- err
						return
					}
					b = buf.Bytes()
				} else {
					reg := prometheus.NewRegistry()
					reg.MustRegister(c)
					mfs, err := reg.Gather()
					if err != nil {
						errs <- err
						return
					}
					var buf bytes.Buffer
					enc := expfmt.NewEncoder(&buf, text)
					for _, mf := range mfs {
						if err := enc.Encode(mf); err != nil {
							errs <- err
							return
						}
					}
					b = buf.Bytes()
				}
				if !slices.Equal(sortedLines(b), want) {
					errs <- errors.New("a concurrent scrape differs from the expected exposition")
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
