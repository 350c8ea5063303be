package app

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/icmp-exporter/icmp_exporter/collector"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

// staticSource serves one snapshot.
type staticSource struct{ snap *probe.Snapshot }

func (s staticSource) Snapshot(*probe.Snapshot) *probe.Snapshot { return s.snap }

// testSnapshot has targets in every histogram mode, one aggregated group,
// an error and an outage.
func testSnapshot() *probe.Snapshot {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := &probe.Snapshot{Time: t0.Add(time.Minute), Source: probe.Source{Name: "lab"}}
	modes := []struct{ mode, agg string }{
		{probe.HistogramNative, ""}, {probe.HistogramClassic, ""}, {probe.HistogramBoth, ""},
		{probe.HistogramNone, ""}, {probe.HistogramNative, probe.AggregateGroup}, {probe.HistogramBoth, probe.AggregateGroup},
	}
	for i := range 24 {
		m := modes[i%len(modes)]
		addr := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
		spec := &probe.TargetSpec{
			Group: fmt.Sprintf("g%d", i%len(modes)), Name: addr.String(), Addr: addr,
			Interval: time.Second, Timeout: time.Second, PayloadSize: probe.MinPayload, DownAfter: 3, UpAfter: 1,
			Labels:    []probe.Label{{Name: "site", Value: "lab"}},
			Histogram: probe.HistogramSpec{Mode: m.mode, Aggregation: m.agg},
		}
		h := probe.Histogram{Count: 10, Sum: 0.01 * float64(i+1), Offset: -80, Buckets: []uint64{2, 0, 0, 0, 5, 3}}
		if spec.Histogram.NeedsClassic() {
			spec.Histogram.Buckets = []float64{0.001, 0.01}
			h.Bounds, h.Classic = spec.Histogram.Buckets, []uint64{4, 10}
		}
		t := probe.TargetSnapshot{Spec: spec, IP: addr, Up: i != 3, StateChange: t0, Sent: 12, Replies: 10, Lost: 2, LastTTL: 64, RTT: &h}
		if i == 3 {
			t.EditOutages().Total = 1
			t.EditOutages().Recent = []probe.Outage{{Start: t0, Ongoing: true, Resolution: time.Second}}
			t.EditErrors().ByType[probe.ErrDestUnreachable] = 2
		}
		s.Targets = append(s.Targets, t)
	}
	s.Engine.Targets = len(s.Targets)
	return s
}

// newStreamServer serves a registry with one counter and a streaming
// collector; it returns the server and the expected families (the registry
// path over both).
func newStreamServer(t *testing.T, g prometheus.Gatherer) (*httptest.Server, prometheus.Gatherer) {
	t.Helper()
	c := collector.New(staticSource{testSnapshot()}, collector.Options{})
	h, err := NewHandler(WebOptions{Gatherer: g, Stream: c})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ref := prometheus.NewRegistry()
	ref.MustRegister(collector.New(staticSource{testSnapshot()}, collector.Options{}))
	return srv, prometheus.Gatherers{g, ref}
}

func testRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_scrapes_total", Help: "A counter of the small registry."})
	c.Add(3)
	reg.MustRegister(c)
	return reg
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req) // no transparent gunzip
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// decode parses an exposition, fails on a family that appears twice, and
// sorts families by name and series by labels.
func decode(t *testing.T, b []byte, f expfmt.Format) []*dto.MetricFamily {
	t.Helper()
	dec := expfmt.NewDecoder(bytes.NewReader(b), f)
	var mfs []*dto.MetricFamily
	seen := map[string]bool{}
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if seen[mf.GetName()] {
			t.Fatalf("family %s appears twice", mf.GetName())
		}
		seen[mf.GetName()] = true
		slices.SortFunc(mf.Metric, func(a, b *dto.Metric) int { return cmp.Compare(a.String(), b.String()) })
		mfs = append(mfs, mf)
	}
	slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return mfs
}

func TestMetricsHandlerStreams(t *testing.T) {
	const (
		promProto = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.1"
		promOM    = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
	)
	tests := []struct {
		name, accept, encoding string
		wantType               expfmt.FormatType
		wantGzip               bool
	}{
		{"no accept", "", "", expfmt.TypeTextPlain, false},
		{"text", "text/plain;version=0.0.4", "", expfmt.TypeTextPlain, false},
		{"prometheus protobuf", promProto, "", expfmt.TypeProtoDelim, false},
		{"prometheus protobuf gzip", promProto, "gzip", expfmt.TypeProtoDelim, true},
		{"openmetrics falls back to text", promOM, "gzip, deflate", expfmt.TypeTextPlain, true},
		{"gzip refused", "", "gzip;q=0, identity", expfmt.TypeTextPlain, false},
		{"any encoding", "", "*", expfmt.TypeTextPlain, true},
	}
	srv, ref := newStreamServer(t, testRegistry())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, srv.URL+"/metrics", map[string]string{"Accept": tt.accept, "Accept-Encoding": tt.encoding})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			format := expfmt.ResponseFormat(resp.Header)
			if format.FormatType() != tt.wantType {
				t.Fatalf("Content-Type %q, want format type %v", resp.Header.Get("Content-Type"), tt.wantType)
			}
			if gz := resp.Header.Get("Content-Encoding") == "gzip"; gz != tt.wantGzip {
				t.Fatalf("Content-Encoding %q, want gzip %v", resp.Header.Get("Content-Encoding"), tt.wantGzip)
			}
			if tt.wantGzip {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatalf("gunzip: %v", err)
				}
			}
			mfs, err := ref.Gather()
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			enc := expfmt.NewEncoder(&want, format)
			for _, mf := range mfs {
				if err := enc.Encode(mf); err != nil {
					t.Fatal(err)
				}
			}
			got, exp := decode(t, body, format), decode(t, want.Bytes(), format)
			if len(got) != len(exp) || len(got) < 10 {
				t.Fatalf("%d families, want %d (at least 10)", len(got), len(exp))
			}
			for i := range got {
				if !proto.Equal(got[i], exp[i]) {
					t.Fatalf("family %s differs:\ngot  %v\nwant %v", exp[i].GetName(), got[i], exp[i])
				}
			}
		})
	}
}

func TestMetricsHandlerEdges(t *testing.T) {
	srv, _ := newStreamServer(t, testRegistry())
	t.Run("name filter", func(t *testing.T) {
		resp, body := get(t, srv.URL+"/metrics?name[]=icmp_up&name[]=test_scrapes_total&name[]=icmp_engine_targets", nil)
		var names []string
		for _, mf := range decode(t, body, expfmt.ResponseFormat(resp.Header)) {
			names = append(names, mf.GetName())
		}
		if want := []string{"icmp_engine_targets", "icmp_up", "test_scrapes_total"}; !slices.Equal(names, want) {
			t.Fatalf("families %v, want %v", names, want)
		}
	})
	t.Run("protobuf text goes through the registry", func(t *testing.T) {
		resp, body := get(t, srv.URL+"/metrics", map[string]string{
			"Accept": "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text"})
		if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "encoding=text") {
			t.Fatalf("Content-Type %q", ct)
		}
		// prototext varies its spacing on purpose: look for the quoted names.
		for _, want := range []string{`"icmp_up"`, `"test_scrapes_total"`} {
			if !bytes.Contains(body, []byte(want)) {
				t.Errorf("body lacks %s", want)
			}
		}
	})
	t.Run("gather error without metrics", func(t *testing.T) {
		failing := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return nil, errors.New("boom") })
		srv, _ := newStreamServer(t, failing)
		resp, body := get(t, srv.URL+"/metrics", nil)
		if resp.StatusCode != http.StatusInternalServerError || !bytes.Contains(body, []byte("boom")) {
			t.Fatalf("got %d %q, want 500 with the error", resp.StatusCode, body)
		}
	})
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"deflate, gzip;q=0.5", true},
		{"gzip;q=0", false},
		{"*", true},
		{"*;q=0", false},
		{"identity", false},
		{"gzip;q=0.3, identity;q=0.9", false},
		{"br, zstd", false},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			if got := acceptsGzip(tt.header); got != tt.want {
				t.Errorf("acceptsGzip(%q) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
}
