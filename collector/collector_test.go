package collector

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

var update = flag.Bool("update", false, "rewrite testdata/*.prom golden files")

const goldenPath = "testdata/fixture.prom"

// gatherText returns the text exposition of a registry holding c.
func gatherText(t testing.TB, c prometheus.Collector) []byte {
	t.Helper()
	return gatherEncoded(t, c, expfmt.NewFormat(expfmt.TypeTextPlain))
}

func TestGolden(t *testing.T) {
	src := newFixture()
	c := New(src, Options{})
	if *update {
		if err := os.WriteFile(goldenPath, gatherText(t, c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("read golden file (run go test -run TestGolden -update to create it): %v", err)
	}
	before := src.calls
	// Twice: the second scrape runs on cached label pairs and a reused
	// snapshot buffer and must give the same result.
	for i := range 2 {
		if err := testutil.CollectAndCompare(c, bytes.NewReader(golden)); err != nil {
			t.Fatalf("scrape %d: %v", i+1, err)
		}
	}
	if n := src.calls - before; n != 2 {
		t.Errorf("source called %d times for 2 scrapes, want 2", n)
	}
}

// TestGoldenCases checks single facts of the exposition that the golden file
// holds, so that a careless -update cannot hide a regression.
func TestGoldenCases(t *testing.T) {
	src := newFixture()
	text := string(gatherText(t, New(src, Options{})))
	tests := []struct {
		name     string
		want     []string
		wantNone []string
	}{
		{
			name: "up target with user label and error by type",
			want: []string{
				`icmp_up{group="core",ip="10.0.0.1",site="fra",source="fra1",target="10.0.0.1"} 1`,
				`icmp_errors_total{error_type="destination_unreachable",group="core",ip="10.0.0.1",site="fra",source="fra1",target="10.0.0.1"} 2`,
				`icmp_reply_ttl{group="core",ip="10.0.0.1",site="fra",source="fra1",target="10.0.0.1"} 64`,
				`icmp_probes_skipped_total{group="core",ip="10.0.0.1",site="fra",source="fra1",target="10.0.0.1"} 2`,
			},
			wantNone: []string{
				`icmp_errors_total{error_type="time_exceeded",group="core",ip="10.0.0.1",site="fra",source="fra1",target="10.0.0.1"}`,
				`icmp_dns_errors_total{group="core",ip="10.0.0.1"`,
				`icmp_last_outage_start_timestamp_seconds{group="core",ip="10.0.0.1"`,
			},
		},
		{
			name: "down target with ongoing outage",
			want: []string{
				`icmp_up{group="core",ip="10.0.0.2",site="fra",source="fra1",target="10.0.0.2"} 0`,
				`icmp_errors_total{error_type="send",group="core",ip="10.0.0.2",site="fra",source="fra1",target="10.0.0.2"} 3`,
				`icmp_last_outage_end_timestamp_seconds{group="core",ip="10.0.0.2",site="fra",source="fra1",target="10.0.0.2"} 0`,
				// 2026-03-01T12:04:57Z
				`icmp_last_outage_start_timestamp_seconds{group="core",ip="10.0.0.2",site="fra",source="fra1",target="10.0.0.2"} 1.772366697e+09`,
				// ongoing since 12:04:57, scraped at 12:10:00
				`icmp_last_outage_duration_seconds{group="core",ip="10.0.0.2",site="fra",source="fra1",target="10.0.0.2"} 303`,
				`icmp_outage_duration_seconds_count{group="core",ip="10.0.0.2",site="fra",source="fra1",target="10.0.0.2"} 0`,
				`icmp_outages_total{group="core",ip="10.0.0.2",site="fra",source="fra1",target="10.0.0.2"} 1`,
			},
		},
		{
			name: "host name never resolved",
			want: []string{
				`icmp_dns_errors_total{group="dns",ip="",source="fra1",target="nowhere.example.test"} 5`,
				`icmp_rtt_seconds_bucket{group="dns",ip="",source="fra1",target="nowhere.example.test",le="0.025"} 0`,
			},
			wantNone: []string{`icmp_reply_ttl{group="dns",ip=""`, `icmp_outage_duration_seconds_count{group="dns",ip=""`},
		},
		{
			name: "host name resolved, both, completed outages",
			want: []string{
				`icmp_rtt_seconds_bucket{group="dns",ip="2001:db8::5",source="fra1",target="www.example.test",le="0.005"} 40`,
				`icmp_rtt_seconds_count{group="dns",ip="2001:db8::5",source="fra1",target="www.example.test"} 45`,
				`icmp_outage_duration_seconds_bucket{group="dns",ip="2001:db8::5",source="fra1",target="www.example.test",le="5"} 1`,
				`icmp_outage_duration_seconds_bucket{group="dns",ip="2001:db8::5",source="fra1",target="www.example.test",le="300"} 2`,
				`icmp_outage_duration_seconds_count{group="dns",ip="2001:db8::5",source="fra1",target="www.example.test"} 2`,
				`icmp_last_outage_duration_seconds{group="dns",ip="2001:db8::5",source="fra1",target="www.example.test"} 120`,
				`icmp_dns_errors_total{group="dns",ip="2001:db8::5",source="fra1",target="www.example.test"} 1`,
			},
		},
		{
			name: "group aggregation",
			want: []string{
				`icmp_rtt_seconds_count{group="edge",region="eu",source="fra1",tier="edge"} 19`,
				`icmp_rtt_seconds_bucket{group="lan",source="fra1",le="0.001"} 4`,
				`icmp_rtt_seconds_bucket{group="lan",source="fra1",le="0.025"} 8`,
				`icmp_rtt_seconds_count{group="lan",source="fra1"} 9`,
				`icmp_up{group="edge",ip="10.1.0.1",region="eu",source="fra1",target="10.1.0.1",tier="edge"} 1`,
			},
			wantNone: []string{`icmp_rtt_seconds_count{group="edge",ip=`, `icmp_rtt_seconds_count{group="lan",ip=`},
		},
		{
			name:     "mode none",
			want:     []string{`icmp_replies_total{group="quiet",ip="198.51.100.7",source="fra1",target="198.51.100.7"} 7`},
			wantNone: []string{`icmp_rtt_seconds_count{group="quiet"`},
		},
		{
			name: "engine",
			want: []string{
				`icmp_engine_info{datapath="icmp",mode="raw",timestamp_source="kernel_rx"} 1`,
				`icmp_source_info{latitude="50.1109",longitude="8.6821",source="fra1"} 1`,
				`icmp_engine_replies_total{timestamp_source="userspace"} 17`,
				`icmp_engine_schedule_lag_seconds 0.0015`,
				`icmp_engine_targets 9`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, w := range tt.want {
				if !strings.Contains(text, w+"\n") {
					t.Errorf("missing line %s", w)
				}
			}
			for _, w := range tt.wantNone {
				if strings.Contains(text, w) {
					t.Errorf("unexpected %s", w)
				}
			}
		})
	}
}

func TestSourceChange(t *testing.T) {
	src := newFixture()
	c := New(src, Options{})
	s := fixtureSnapshot()
	s.Source = probe.Source{Name: "ams1"}
	s.Targets = s.Targets[:1]
	src.set(s)
	text := string(gatherText(t, c))
	for _, w := range []string{
		`icmp_source_info{latitude="",longitude="",source="ams1"} 1` + "\n",
		`icmp_up{group="core",ip="10.0.0.1",site="fra",source="ams1",target="10.0.0.1"} 1` + "\n",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("missing %q", w)
		}
	}
	if strings.Contains(text, `source="fra1"`) || strings.Contains(text, `target="10.0.0.2"`) {
		t.Errorf("stale series after the snapshot changed:\n%s", text)
	}
	if len(c.entries) != 1 {
		t.Errorf("label cache holds %d entries after one target remained, want 1", len(c.entries))
	}
}

func TestIPChangeRelabels(t *testing.T) {
	src := newFixture()
	c := New(src, Options{})
	gatherText(t, c)
	s := fixtureSnapshot()
	s.Targets[3].IP = s.Targets[3].IP.Prev() // www.example.test moved
	src.set(s)
	text := string(gatherText(t, c))
	if !strings.Contains(text, `icmp_up{group="dns",ip="2001:db8::4",source="fra1",target="www.example.test"} 1`) {
		t.Errorf("ip label not updated:\n%s", text)
	}
}

func TestConcurrentScrapes(t *testing.T) {
	src := newFixture()
	c := New(src, Options{BuildInfo: true})
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	// encode gathers and encodes in both formats; the protobuf encoding
	// caches sizes in the label pairs that all scrapes share, and the race
	// detector checks that this is safe.
	encode := func() (text []byte, err error) {
		mfs, err := reg.Gather()
		if err != nil {
			return nil, err
		}
		var tb, pb bytes.Buffer
		te := expfmt.NewEncoder(&tb, expfmt.NewFormat(expfmt.TypeTextPlain))
		pe := expfmt.NewEncoder(&pb, expfmt.NewFormat(expfmt.TypeProtoDelim))
		for _, mf := range mfs {
			if err := te.Encode(mf); err != nil {
				return nil, err
			}
			if err := pe.Encode(mf); err != nil {
				return nil, err
			}
		}
		return tb.Bytes(), nil
	}
	want, err := encode()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			for range 5 {
				got, err := encode()
				if err != nil {
					errs <- err.Error()
					return
				}
				if !bytes.Equal(got, want) {
					errs <- "differs:\n" + string(got)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent scrape: %s", e)
	}
	if !bytes.Contains(want, []byte("icmp_exporter_build_info{")) {
		t.Errorf("BuildInfo: no icmp_exporter_build_info")
	}
}

func TestGoldenFileIsChecked(t *testing.T) {
	// Guard against an empty or truncated golden file.
	b, err := os.ReadFile(filepath.Clean(goldenPath))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n# TYPE ")); n < 25 {
		t.Errorf("golden file has %d metric families, want at least 25", n)
	}
}

// TestEmitsInRegistryOrder checks that per-target series leave Collect in
// the order the registry sorts them into, also after the target set changed.
func TestEmitsInRegistryOrder(t *testing.T) {
	src := &fakeSource{snap: syntheticSnapshot(500, "", "", 11)}
	c := New(src, Options{})
	check := func(step string) {
		t.Helper()
		ch := make(chan prometheus.Metric, 100)
		go func() { c.Collect(ch); close(ch) }()
		var prev []*dto.LabelPair
		n := 0
		for m := range ch {
			if !strings.HasPrefix(m.Desc().String(), `Desc{fqName: "icmp_up"`) {
				continue
			}
			var out dto.Metric
			if err := m.Write(&out); err != nil {
				t.Fatal(err)
			}
			if prev != nil && comparePairs(prev, out.Label) >= 0 {
				t.Fatalf("%s: icmp_up %v emitted after %v", step, out.Label, prev)
			}
			prev = out.Label
			n++
		}
		if n == 0 {
			t.Fatalf("%s: no icmp_up collected", step)
		}
	}
	check("first scrape")
	check("cached order")
	s := syntheticSnapshot(500, "", "", 11)
	s.Targets = append(s.Targets[250:], s.Targets[:200]...) // reordered and fewer
	src.set(s)
	check("after change")
}

// TestReloadKeepsUnchangedEntries: a reload gives every target a new spec.
// A target whose labels did not change keeps its cached entry (no labels
// encoded again); one whose labels changed is exported with the new ones,
// in both exposition paths, and no entry of the old specs stays cached.
func TestReloadKeepsUnchangedEntries(t *testing.T) {
	src := newFixture()
	c := New(src, Options{})
	before := streamEncoded(t, c, expfmt.NewFormat(expfmt.TypeTextPlain))
	old := map[string]*targetEntry{}
	for _, e := range c.entries {
		old[e.spec.Name] = e
	}

	// The reload: equal copies of every spec, one with a new label value.
	s := fixtureSnapshot()
	for i := range s.Targets {
		ts := *s.Targets[i].Spec
		ts.Labels = slices.Clone(ts.Labels)
		if i == 1 {
			ts.Labels[0].Value = "ber"
		}
		s.Targets[i].Spec = &ts
	}
	src.set(s)
	after := streamEncoded(t, c, expfmt.NewFormat(expfmt.TypeTextPlain))

	changed := s.Targets[1].Spec.Name
	for i := range s.Targets {
		name := s.Targets[i].Spec.Name
		e := c.entries[s.Targets[i].Spec]
		switch {
		case e == nil:
			t.Errorf("%s: no entry under its new spec", name)
		case name == changed && e == old[name]:
			t.Errorf("%s: labels changed but the old entry was kept", name)
		case name != changed && e != old[name]:
			t.Errorf("%s: labels unchanged but the entry was built again", name)
		}
	}
	if len(c.entries) != len(s.Targets) {
		t.Errorf("%d cached entries after the reload, want %d", len(c.entries), len(s.Targets))
	}
	want := strings.ReplaceAll(string(before), `site="fra",source="fra1",target="`+changed+`"`, `site="ber",source="fra1",target="`+changed+`"`)
	if want == string(before) {
		t.Fatalf("fixture: target %s has no site=\"fra\" series", changed)
	}
	if d := lineDiff(sortedLines(after), sortedLines([]byte(want))); d != "" {
		t.Errorf("stream after the reload differs from the expected exposition:\n%s", d)
	}
	if got := string(gatherText(t, c)); !strings.Contains(got, `site="ber",source="fra1",target="`+changed+`"`) || strings.Contains(got, `site="fra",source="fra1",target="`+changed+`"`) {
		t.Errorf("registry path after the reload does not carry the new label of %s:\n%s", changed, got)
	}
}
