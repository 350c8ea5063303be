package main

import (
	"bufio"
	"math"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func TestQuantile(t *testing.T) {
	// Schema 0: bucket i covers (2^(i-1), 2^i].
	tests := []struct {
		name   string
		h      hist
		q      float64
		want   float64
		lo, hi float64
	}{
		{
			name: "native one bucket, log-linear middle",
			h:    hist{Native: true, Schema: 0, Positive: map[int32]uint64{2: 10}},
			q:    0.5, want: 2 * math.Sqrt2, lo: 2, hi: 4,
		},
		{
			name: "native p99 in the upper bucket",
			h:    hist{Native: true, Schema: 0, Positive: map[int32]uint64{1: 98, 3: 2}},
			q:    0.99, want: 4 * math.Sqrt2, lo: 4, hi: 8,
		},
		{
			name: "native median in the lower bucket, schema 3",
			h:    hist{Native: true, Schema: 3, Positive: map[int32]uint64{-123: 90, -100: 10}},
			q:    0.5, want: math.Pow(2, -124.0/8+5.0/9/8), lo: math.Pow(2, -124.0/8), hi: math.Pow(2, -123.0/8),
		},
		{
			name: "native zero bucket",
			h:    hist{Native: true, ZeroCount: 60, ZeroThr: 1e-9, Positive: map[int32]uint64{1: 40}},
			q:    0.5, want: 0, lo: 0, hi: 1e-9,
		},
		{
			name: "classic linear",
			h:    hist{Classic: []classicBucket{{1, 0}, {2, 100}, {math.Inf(1), 100}}},
			q:    0.25, want: 1.25, lo: 1, hi: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, lo, hi, ok := tt.h.quantile(tt.q)
			if !ok {
				t.Fatal("quantile of a non-empty histogram reported empty")
			}
			if !near(v, tt.want) || !near(lo, tt.lo) || !near(hi, tt.hi) {
				t.Errorf("quantile(%g) = %g in (%g, %g], want %g in (%g, %g]", tt.q, v, lo, hi, tt.want, tt.lo, tt.hi)
			}
		})
	}
	if _, _, _, ok := (hist{Native: true}).quantile(0.5); ok {
		t.Error("empty native histogram: ok = true")
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// TestSnapDiff scrapes a real client_golang registry (native histograms in
// protobuf) twice and checks the window the diff reports.
func TestSnapDiff(t *testing.T) {
	reg := prometheus.NewRegistry()
	sent := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "icmp_engine_packets_sent_total", Help: "h"}, []string{"x"})
	lost := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "icmp_probes_lost_total", Help: "h"}, []string{"target"})
	rtt := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: rttName, Help: "h", NativeHistogramBucketFactor: 1.1, NativeHistogramZeroThreshold: 1e-9,
	}, []string{"target"})
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "icmp_engine_info", Help: "h"}, []string{"datapath", "mode", "timestamp_source"})
	reg.MustRegister(sent, lost, rtt, info)
	info.WithLabelValues("afpacket", "tpacket_v3", "kernel_tx_rx").Set(1)
	sent.WithLabelValues("a").Add(1000)
	rtt.WithLabelValues("t1").Observe(1) // before the window: must not count
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	if err := run([]string{"snap", "-url", srv.URL, "-out", a}, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	sent.WithLabelValues("a").Add(300)
	sent.WithLabelValues("b").Add(200)
	lost.WithLabelValues("t2").Add(3)
	for i := 0; i < 99; i++ {
		rtt.WithLabelValues("t" + strconv.Itoa(i%3)).Observe(20e-6)
	}
	rtt.WithLabelValues("t1").Observe(5e-3)
	if err := run([]string{"snap", "-url", srv.URL, "-out", b}, nil); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run([]string{"diff", a, b}, &out); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		got[k] = v
	}
	for k, want := range map[string]string{
		"packets_sent": "500", "lost": "3", "rtt_count": "100", "datapath": "afpacket",
		"timestamp_source": "kernel_tx_rx", "rtt_histogram": "native_schema_3",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q\n%s", k, got[k], want, out.String())
		}
	}
	checkNear := func(key string, want, tol float64) {
		t.Helper()
		v, err := strconv.ParseFloat(got[key], 64)
		if err != nil || math.Abs(v-want) > tol {
			t.Errorf("%s = %q, want %g ± %g", key, got[key], want, tol)
		}
	}
	checkNear("rtt_p50_us", 20, 20*0.1)      // one schema-3 bucket is ~9 % wide
	checkNear("rtt_p999_us", 5000, 5000*0.1) // the single 5 ms reply
	checkNear("rtt_mean_us", (99*20+5000)/100.0, 0.5)
	if w, _ := strconv.ParseFloat(got["window_seconds"], 64); w <= 0 {
		t.Errorf("window_seconds = %q, want > 0", got["window_seconds"])
	}
}
