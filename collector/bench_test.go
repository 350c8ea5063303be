package collector

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// staticSource returns the same snapshot every time without copying, so the
// benchmarks measure the collector and not the engine's snapshot copy.
type staticSource struct{ snap *probe.Snapshot }

func (s staticSource) Snapshot(*probe.Snapshot) *probe.Snapshot { return s.snap }

var benchModes = []struct {
	name, mode, agg string
	export          probe.Export
}{
	{"native", probe.HistogramNative, probe.AggregateTarget, 0},
	{"classic", probe.HistogramClassic, probe.AggregateTarget, 0},
	{"both", probe.HistogramBoth, probe.AggregateTarget, 0},
	{"none", probe.HistogramNone, probe.AggregateTarget, 0},
	{"group", probe.HistogramNative, probe.AggregateGroup, 0},
	// export.per_target [up, counters] with RTT per group
	{"upcounters", probe.HistogramNative, probe.AggregateGroup, probe.ExportUp | probe.ExportCounters},
}

// benchSnapshot is the synthetic snapshot of n targets in the given mode.
func benchSnapshot(n int, mode, agg string, export probe.Export) *probe.Snapshot {
	s := syntheticSnapshot(n, mode, agg, 42)
	for i := range s.Targets {
		s.Targets[i].Spec.Export = export // the specs are the snapshot's own
	}
	return s
}

var benchSizes = []int{10_000, 100_000}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// BenchmarkCollect measures Collector.Collect alone: the metrics are drained
// from the channel and written into one reused dto.Metric, as the registry
// would (minus the registry's own work). allocs/target is the collector's
// allocation count per target and scrape.
func BenchmarkCollect(b *testing.B) {
	for _, m := range benchModes {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("mode=%s/targets=%d", m.name, n), func(b *testing.B) {
				c := New(staticSource{benchSnapshot(n, m.mode, m.agg, m.export)}, Options{})
				drain := func() int {
					ch := make(chan prometheus.Metric, 1024)
					go func() { c.Collect(ch); close(ch) }()
					var out dto.Metric
					k := 0
					for metric := range ch {
						out.Reset()
						if err := metric.Write(&out); err != nil {
							b.Fatal(err)
						}
						k++
					}
					return k
				}
				metrics := drain() // warm the label cache, as in steady state
				b.ReportAllocs()
				b.ResetTimer()
				before := mallocs()
				for range b.N {
					drain()
				}
				b.StopTimer()
				b.ReportMetric(float64(mallocs()-before)/float64(b.N)/float64(n), "allocs/target")
				b.ReportMetric(float64(metrics)/float64(n), "metrics/target")
			})
		}
	}
}

// BenchmarkGather measures a whole registry Gather (Collect plus the
// registry's checks, dto allocation and sorting) and reports the size of
// the exposition in the text and protobuf formats.
func BenchmarkGather(b *testing.B) {
	for _, m := range benchModes {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("mode=%s/targets=%d", m.name, n), func(b *testing.B) {
				benchGather(b, New(staticSource{benchSnapshot(n, m.mode, m.agg, m.export)}, Options{}), n)
			})
		}
	}
}

// BenchmarkGatherReference is BenchmarkGather for the reference
// implementation built from client_golang's const constructors: the
// baseline the Collector's optimisations are measured against.
func BenchmarkGatherReference(b *testing.B) {
	for _, m := range benchModes {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("mode=%s/targets=%d", m.name, n), func(b *testing.B) {
				benchGather(b, &referenceCollector{src: staticSource{benchSnapshot(n, m.mode, m.agg, m.export)}}, n)
			})
		}
	}
}

func benchGather(b *testing.B, c prometheus.Collector, n int) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	textBytes, textLines := encodedSize(b, mfs, expfmt.NewFormat(expfmt.TypeTextPlain))
	protoBytes, _ := encodedSize(b, mfs, expfmt.NewFormat(expfmt.TypeProtoDelim))
	mfs = nil
	b.ReportAllocs()
	b.ResetTimer()
	before := mallocs()
	for range b.N {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(mallocs()-before)/float64(b.N)/float64(n), "allocs/target")
	b.ReportMetric(float64(textBytes), "text_bytes")
	b.ReportMetric(float64(protoBytes), "proto_bytes")
	b.ReportMetric(float64(textLines)/float64(n), "text_samples/target")
}

// encodedSize returns the bytes of the exposition of mfs in format f and,
// for text, the number of sample lines.
func encodedSize(b *testing.B, mfs []*dto.MetricFamily, f expfmt.Format) (int, int) {
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, f)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			b.Fatal(err)
		}
	}
	lines := 0
	for _, l := range bytes.Split(buf.Bytes(), []byte("\n")) {
		if len(l) > 0 && l[0] != '#' {
			lines++
		}
	}
	return buf.Len(), lines
}

// countWriter counts and discards what it is given, like a fast client.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// heapPeak samples the heap in use (live and not yet swept objects) every
// millisecond while a scrape runs; stop returns the largest value seen.
// runtime/metrics is read without stopping the world.
func heapPeak() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	done := make(chan struct{})
	result := make(chan uint64)
	go func() {
		peak := read()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				result <- max(peak, read())
				return
			case <-tick.C:
				peak = max(peak, read())
			}
		}
	}()
	return func() uint64 { close(done); return <-result }
}

// BenchmarkScrape measures a whole /metrics body without HTTP: "stream" is
// Collector.WriteMetrics (what the exporter serves), "registry" is
// client_golang's path (Registry.Gather, then expfmt encoding of every
// family, what promhttp does). Besides time, bytes and allocations it
// reports allocs/target, the exposition size, and the heap the scrape adds:
// peak heap in use during the scrape minus the heap in use before it, after
// a GC (the snapshot and the label caches are in the baseline).
func BenchmarkScrape(b *testing.B) {
	formats := []struct {
		name string
		f    expfmt.Format
	}{
		{"text", expfmt.NewFormat(expfmt.TypeTextPlain)},
		{"protobuf", expfmt.NewFormat(expfmt.TypeProtoDelim)},
	}
	for _, m := range benchModes {
		for _, n := range benchSizes {
			var snap *probe.Snapshot
			for _, f := range formats {
				for _, path := range []string{"stream", "registry"} {
					b.Run(fmt.Sprintf("mode=%s/targets=%d/format=%s/path=%s", m.name, n, f.name, path), func(b *testing.B) {
						if snap == nil {
							snap = benchSnapshot(n, m.mode, m.agg, m.export)
						}
						c := New(staticSource{snap}, Options{})
						var scrape func(w io.Writer)
						if path == "stream" {
							scrape = func(w io.Writer) {
								if err := c.WriteMetrics(w, f.f, nil); err != nil {
									b.Fatal(err)
								}
							}
						} else {
							reg := prometheus.NewRegistry()
							reg.MustRegister(c)
							scrape = func(w io.Writer) {
								mfs, err := reg.Gather()
								if err != nil {
									b.Fatal(err)
								}
								enc := expfmt.NewEncoder(w, f.f)
								for _, mf := range mfs {
									if err := enc.Encode(mf); err != nil {
										b.Fatal(err)
									}
								}
							}
						}
						var cw countWriter
						scrape(&cw) // warm the label caches, as in steady state
						runtime.GC()
						var ms runtime.MemStats
						runtime.ReadMemStats(&ms)
						base := ms.HeapAlloc
						b.ReportAllocs()
						b.ResetTimer()
						before := mallocs()
						var peak uint64
						for range b.N {
							stop := heapPeak()
							cw.n = 0
							scrape(&cw)
							peak = max(peak, stop())
						}
						b.StopTimer()
						b.ReportMetric(float64(mallocs()-before)/float64(b.N)/float64(n), "allocs/target")
						b.ReportMetric(float64(cw.n), "bytes_written")
						b.ReportMetric(float64(peak-min(peak, base))/1e6, "scrape_heap_MB")
					})
				}
			}
			snap = nil
		}
	}
}
