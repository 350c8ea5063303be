package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// acceptProto asks for the delimited protobuf exposition, as Prometheus does
// with native histograms enabled.
const acceptProto = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"

// rttName is the RTT histogram family.
const rttName = "icmp_rtt_seconds"

// byLabel names the label by whose values the sums of family name are also
// kept, or "" for none.
func byLabel(name string) string {
	switch name {
	case "icmp_engine_replies_total":
		return "timestamp_source"
	case "icmp_errors_total":
		return "error_type"
	}
	return ""
}

// snapshot is the JSON summary of one scrape.
type snapshot struct {
	StartUnixNano   int64              `json:"start_unix_nano"`
	DurationSeconds float64            `json:"duration_seconds"`
	Bytes           int64              `json:"bytes"`
	Series          int                `json:"series"`
	Sums            map[string]float64 `json:"sums"`
	Max             map[string]float64 `json:"max"`
	Info            map[string]string  `json:"info"`
	RTT             hist               `json:"rtt"`
}

// hist is the sum of many histograms: native buckets (absolute counts by
// bucket index) or classic buckets (cumulative counts by upper bound).
type hist struct {
	Count     uint64           `json:"count"`
	Sum       float64          `json:"sum"`
	Native    bool             `json:"native"`
	Schema    int32            `json:"schema"`
	ZeroCount uint64           `json:"zero_count"`
	ZeroThr   float64          `json:"zero_threshold"`
	Positive  map[int32]uint64 `json:"positive,omitempty"`
	Classic   []classicBucket  `json:"classic,omitempty"`
}

type classicBucket struct {
	Upper      float64 `json:"upper"`
	Cumulative uint64  `json:"cumulative"`
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "scrapestat:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: scrapestat snap -url URL -out FILE | scrapestat diff A.json B.json")
	}
	switch args[0] {
	case "snap":
		fs := flag.NewFlagSet("snap", flag.ContinueOnError)
		url := fs.String("url", "http://127.0.0.1:10427/metrics", "metrics URL")
		dst := fs.String("out", "", "output JSON file (default stdout)")
		timeout := fs.Duration("timeout", 60*time.Second, "scrape timeout")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		s, err := scrape(*url, *timeout)
		if err != nil {
			return err
		}
		b, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("encode snapshot: %w", err)
		}
		if *dst == "" {
			_, err = out.Write(append(b, '\n'))
			return err
		}
		if err := os.WriteFile(*dst, b, 0o644); err != nil {
			return fmt.Errorf("write snapshot: %w", err)
		}
		return nil
	case "diff":
		if len(args) != 3 {
			return errors.New("usage: scrapestat diff A.json B.json")
		}
		a, err := load(args[1])
		if err != nil {
			return err
		}
		b, err := load(args[2])
		if err != nil {
			return err
		}
		return diff(a, b, out)
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func load(path string) (*snapshot, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return &s, nil
}

// scrape fetches url once in protobuf and summarizes it.
func scrape(url string, timeout time.Duration) (*snapshot, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	req.Header.Set("Accept", acceptProto)
	c := &http.Client{Timeout: timeout}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	dur := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: read body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: status %s", url, resp.Status)
	}
	format := expfmt.ResponseFormat(resp.Header)
	if format.FormatType() != expfmt.TypeProtoDelim {
		return nil, fmt.Errorf("scrape %s: got %q, want delimited protobuf", url, resp.Header.Get("Content-Type"))
	}
	s, err := summarize(expfmt.NewDecoder(bytes.NewReader(body), format))
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	s.StartUnixNano = start.UnixNano()
	s.DurationSeconds = dur.Seconds()
	s.Bytes = int64(len(body))
	return s, nil
}

// summarize adds up every family the decoder yields.
func summarize(dec expfmt.Decoder) (*snapshot, error) {
	s := &snapshot{Sums: map[string]float64{}, Max: map[string]float64{}, Info: map[string]string{}}
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			if errors.Is(err, io.EOF) {
				return s, nil
			}
			return nil, fmt.Errorf("decode: %w", err)
		}
		if err := s.add(&mf); err != nil {
			return nil, err
		}
	}
}

func (s *snapshot) add(mf *dto.MetricFamily) error {
	name := mf.GetName()
	for _, m := range mf.GetMetric() {
		s.Series++
		var v float64
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			v = m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			v = m.GetGauge().GetValue()
		case dto.MetricType_UNTYPED:
			v = m.GetUntyped().GetValue()
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			if name == rttName {
				if err := s.RTT.add(m.GetHistogram()); err != nil {
					return err
				}
			}
			continue
		default:
			continue
		}
		s.Sums[name] += v
		if old, ok := s.Max[name]; !ok || v > old {
			s.Max[name] = v
		}
		if l := byLabel(name); l != "" {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == l {
					s.Sums[name+"{"+l+"="+lp.GetValue()+"}"] += v
				}
			}
		}
		if name == "icmp_engine_info" {
			for _, lp := range m.GetLabel() {
				s.Info[lp.GetName()] = lp.GetValue()
			}
		}
	}
	return nil
}

// isNative reports whether h carries native buckets.
func isNative(h *dto.Histogram) bool {
	return h.ZeroThreshold != nil || len(h.PositiveSpan) > 0 || len(h.NegativeSpan) > 0
}

// add adds one histogram to the sum.
func (x *hist) add(h *dto.Histogram) error {
	x.Count += h.GetSampleCount()
	x.Sum += h.GetSampleSum()
	if isNative(h) {
		if x.Positive == nil {
			x.Positive = map[int32]uint64{}
		}
		if x.Native && x.Schema != h.GetSchema() {
			return fmt.Errorf("%s: mixed schemas %d and %d", rttName, x.Schema, h.GetSchema())
		}
		x.Native, x.Schema = true, h.GetSchema()
		x.ZeroCount += h.GetZeroCount()
		x.ZeroThr = math.Max(x.ZeroThr, h.GetZeroThreshold())
		var idx int32
		var abs int64
		n := 0
		deltas, floats := h.GetPositiveDelta(), h.GetPositiveCount()
		for i, sp := range h.GetPositiveSpan() {
			if i == 0 {
				idx = sp.GetOffset()
			} else {
				idx += sp.GetOffset()
			}
			for j := uint32(0); j < sp.GetLength(); j++ {
				var c uint64
				switch {
				case n < len(deltas):
					abs += deltas[n]
					c = uint64(abs)
				case n < len(floats):
					c = uint64(floats[n])
				default:
					return fmt.Errorf("%s: spans longer than buckets", rttName)
				}
				x.Positive[idx] += c
				idx++
				n++
			}
		}
		return nil
	}
	for i, b := range h.GetBucket() {
		if i < len(x.Classic) {
			if x.Classic[i].Upper != b.GetUpperBound() {
				return fmt.Errorf("%s: classic bucket bounds differ between series", rttName)
			}
			x.Classic[i].Cumulative += b.GetCumulativeCount()
			continue
		}
		x.Classic = append(x.Classic, classicBucket{Upper: b.GetUpperBound(), Cumulative: b.GetCumulativeCount()})
	}
	return nil
}

// sub returns b - a (the observations between two snapshots).
func sub(b, a hist) hist {
	d := hist{Count: b.Count - a.Count, Sum: b.Sum - a.Sum, Native: b.Native, Schema: b.Schema,
		ZeroCount: b.ZeroCount - a.ZeroCount, ZeroThr: b.ZeroThr}
	if b.Native {
		d.Positive = map[int32]uint64{}
		for i, c := range b.Positive {
			if c > a.Positive[i] {
				d.Positive[i] = c - a.Positive[i]
			}
		}
	}
	for i, cb := range b.Classic {
		v := cb.Cumulative
		if i < len(a.Classic) && a.Classic[i].Cumulative <= v {
			v -= a.Classic[i].Cumulative
		}
		d.Classic = append(d.Classic, classicBucket{Upper: cb.Upper, Cumulative: v})
	}
	return d
}

// quantile returns the q-quantile of h and the bounds of the bucket it fell
// into; ok is false for an empty histogram.
func (x hist) quantile(q float64) (v, lo, hi float64, ok bool) {
	if x.Native {
		total := x.ZeroCount
		for _, c := range x.Positive {
			total += c
		}
		if total == 0 {
			return 0, 0, 0, false
		}
		rank := q * float64(total)
		if float64(x.ZeroCount) >= rank && x.ZeroCount > 0 {
			return 0, 0, x.ZeroThr, true
		}
		idx := make([]int32, 0, len(x.Positive))
		for i, c := range x.Positive {
			if c > 0 {
				idx = append(idx, i)
			}
		}
		sort.Slice(idx, func(i, j int) bool { return idx[i] < idx[j] })
		base := math.Pow(2, math.Pow(2, -float64(x.Schema)))
		cum := float64(x.ZeroCount)
		for _, i := range idx {
			c := float64(x.Positive[i])
			if cum+c >= rank || i == idx[len(idx)-1] {
				lo, hi = math.Pow(base, float64(i-1)), math.Pow(base, float64(i))
				frac := math.Min(1, math.Max(0, (rank-cum)/c))
				return lo * math.Pow(base, frac), lo, hi, true
			}
			cum += c
		}
		return 0, 0, 0, false
	}
	if len(x.Classic) == 0 {
		return 0, 0, 0, false
	}
	total := float64(x.Classic[len(x.Classic)-1].Cumulative)
	if total == 0 {
		return 0, 0, 0, false
	}
	rank := q * total
	prevUpper, prevCum := 0.0, 0.0
	for _, b := range x.Classic {
		c := float64(b.Cumulative)
		if c >= rank {
			if math.IsInf(b.Upper, 1) {
				return prevUpper, prevUpper, b.Upper, true
			}
			frac := 0.0
			if c > prevCum {
				frac = (rank - prevCum) / (c - prevCum)
			}
			return prevUpper + frac*(b.Upper-prevUpper), prevUpper, b.Upper, true
		}
		prevUpper, prevCum = b.Upper, c
	}
	return prevUpper, prevUpper, math.Inf(1), true
}

// diff prints the window between a and b as key=value lines.
func diff(a, b *snapshot, out io.Writer) error {
	window := float64(b.StartUnixNano-a.StartUnixNano) / 1e9
	if window <= 0 {
		return errors.New("diff: second snapshot is not later than the first")
	}
	var w strings.Builder
	kv := func(k string, format string, v ...any) {
		fmt.Fprintf(&w, "%s=%s\n", k, fmt.Sprintf(format, v...))
	}
	d := func(name string) float64 { return b.Sums[name] - a.Sums[name] }
	kv("window_seconds", "%.3f", window)
	kv("packets_sent", "%.0f", d("icmp_engine_packets_sent_total"))
	kv("pps", "%.0f", d("icmp_engine_packets_sent_total")/window)
	kv("packets_received", "%.0f", d("icmp_engine_packets_received_total"))
	kv("probes_sent", "%.0f", d("icmp_probes_sent_total"))
	kv("replies", "%.0f", d("icmp_replies_total"))
	kv("lost", "%.0f", d("icmp_probes_lost_total"))
	kv("late", "%.0f", d("icmp_late_replies_total"))
	kv("duplicate", "%.0f", d("icmp_duplicate_replies_total"))
	kv("skipped", "%.0f", d("icmp_engine_probes_skipped_total"))
	kv("errors", "%.0f", d("icmp_errors_total"))
	kv("send_errors", "%.0f", d("icmp_engine_send_errors_total"))
	kv("kernel_drops", "%.0f", d("icmp_engine_kernel_drops_total"))
	kv("foreign", "%.0f", d("icmp_engine_foreign_replies_total"))
	kv("invalid", "%.0f", d("icmp_engine_invalid_packets_total"))
	kv("schedule_lag_seconds", "%g", b.Max["icmp_engine_schedule_lag_seconds"])
	kv("targets", "%.0f", b.Sums["icmp_engine_targets"])
	kv("up", "%.0f", b.Sums["icmp_up"])
	kv("datapath", "%s", b.Info["datapath"])
	kv("mode", "%s", b.Info["mode"])
	kv("timestamp_source", "%s", b.Info["timestamp_source"])
	var ts []string
	for k := range b.Sums {
		if rest, ok := strings.CutPrefix(k, "icmp_engine_replies_total{timestamp_source="); ok {
			ts = append(ts, fmt.Sprintf("%s:%.0f", strings.TrimSuffix(rest, "}"), d(k)))
		}
	}
	sort.Strings(ts)
	kv("replies_by_timestamp_source", "%s", strings.Join(ts, ","))
	h := sub(b.RTT, a.RTT)
	kind := "classic"
	if h.Native {
		kind = fmt.Sprintf("native_schema_%d", h.Schema)
	}
	kv("rtt_histogram", "%s", kind)
	kv("rtt_count", "%d", h.Count)
	if h.Count > 0 {
		kv("rtt_mean_us", "%.1f", h.Sum/float64(h.Count)*1e6)
	} else {
		kv("rtt_mean_us", "NA")
	}
	for _, q := range []struct {
		name string
		q    float64
	}{{"p50", 0.5}, {"p99", 0.99}, {"p999", 0.999}} {
		v, lo, hi, ok := h.quantile(q.q)
		if !ok {
			kv("rtt_"+q.name+"_us", "NA")
			kv("rtt_"+q.name+"_bucket_us", "NA")
			continue
		}
		kv("rtt_"+q.name+"_us", "%.1f", v*1e6)
		kv("rtt_"+q.name+"_bucket_us", "%.1f-%.1f", lo*1e6, hi*1e6)
	}
	kv("scrape_proto_seconds", "%.3f", b.DurationSeconds)
	kv("scrape_proto_bytes", "%d", b.Bytes)
	kv("series", "%d", b.Series)
	_, err := io.WriteString(out, w.String())
	return err
}
