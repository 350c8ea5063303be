package ui

import (
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/internal/history"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// hostile are label values that must come out escaped.
const (
	hostileGroup = `<script>alert("g")</script>`
	hostileLabel = `"'><img src=x onerror=alert(1)>{{.}}`
)

// fakeEngine hands out copies of a fixed snapshot.
type fakeEngine struct{ snap probe.Snapshot }

func (f *fakeEngine) Snapshot(dst *probe.Snapshot) *probe.Snapshot {
	if dst == nil {
		dst = &probe.Snapshot{}
	}
	*dst = f.snap
	dst.Targets = slices.Clone(f.snap.Targets)
	return dst
}

var t0 = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

// rtt is a histogram with n replies in native bucket idx.
func rtt(idx int32, n uint64) probe.Histogram {
	return probe.Histogram{Count: n, Offset: idx, Buckets: []uint64{n}}
}

// fixture is an engine with three targets (one down with an ongoing and a
// completed outage, one with hostile labels) and a history of 10 minutes.
func fixture(t *testing.T) (*fakeEngine, *history.Store) {
	t.Helper()
	specs := []*probe.TargetSpec{
		{Group: "core", Name: "192.0.2.1", Addr: netip.MustParseAddr("192.0.2.1"), Interval: time.Second, Timeout: time.Second},
		{Group: "core", Name: "192.0.2.2", Addr: netip.MustParseAddr("192.0.2.2"), Interval: time.Second, Timeout: time.Second},
		{Group: hostileGroup, Name: "evil.example", Host: "evil.example", Interval: time.Second, Timeout: time.Second,
			Labels: []probe.Label{{Name: "site", Value: hostileLabel}}},
	}
	f := &fakeEngine{snap: probe.Snapshot{Source: probe.Source{Name: "lab-1"}}}
	for _, s := range specs {
		f.snap.Targets = append(f.snap.Targets, probe.TargetSnapshot{Spec: s, IP: s.Addr, Up: true, StateChange: t0, LastTTL: 64})
	}
	f.snap.Targets[2].IP = netip.MustParseAddr("192.0.2.3")
	st := history.New(history.Options{})
	for m := 1; m <= 10; m++ {
		f.snap.Time = t0.Add(time.Duration(m) * time.Minute)
		for i := range f.snap.Targets {
			tg := &f.snap.Targets[i]
			tg.Sent += 60
			switch {
			case i == 1 && m >= 8: // down from minute 7 on
				tg.Lost += 60
			case i == 1 && m == 4: // 6 lost in minute 3
				tg.Lost += 6
				tg.Replies += 54
				tg.RTT = new(rtt(-56, tg.Replies)) // ≈ 7.7 ms
			default:
				tg.Replies += 60
				tg.RTT = new(rtt(int32(-64+8*i), tg.Replies))
			}
		}
		st.Record(&f.snap)
	}
	f.snap.Time = t0.Add(10*time.Minute + 30*time.Second)
	down := &f.snap.Targets[1]
	down.Up, down.StateChange = false, t0.Add(7*time.Minute)
	down.EditOutages().Total = 2
	down.EditOutages().Recent = []probe.Outage{
		{Start: t0.Add(2 * time.Minute), End: t0.Add(2*time.Minute + 5*time.Second), Resolution: time.Second, ProbesLost: 5},
		{Start: t0.Add(7 * time.Minute), Ongoing: true, Resolution: time.Second, ProbesLost: 210},
	}
	f.snap.Targets[2].EditOutages().Total = 1
	f.snap.Targets[2].EditOutages().Recent = []probe.Outage{
		{Start: t0.Add(5 * time.Minute), End: t0.Add(5*time.Minute + 1500*time.Millisecond), Resolution: time.Second, ProbesLost: 2},
	}
	return f, st
}

func get(t *testing.T, h http.Handler, target string, want int) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != want {
		t.Fatalf("GET %s: status %d, want %d; body:\n%s", target, rec.Code, want, body)
	}
	return string(body)
}

// fragment returns the first element of body that starts with start, up to
// and including its end tag.
func fragment(t *testing.T, body, start, end string) string {
	t.Helper()
	i := strings.Index(body, start)
	if i < 0 {
		t.Fatalf("no %q in page:\n%s", start, body)
	}
	j := strings.Index(body[i:], end)
	if j < 0 {
		t.Fatalf("no %q after %q", end, start)
	}
	return body[i : i+j+len(end)]
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestOverview(t *testing.T) {
	f, st := fixture(t)
	h := New(Options{Engine: f, History: st})
	body := get(t, h, "/ui/", http.StatusOK)
	golden(t, "overview-groups.html", fragment(t, body, `<table class="groups">`, "</table>"))
	// Sparklines are checked by TestGraph; here the rows.
	rows := regexp.MustCompile(`<td><svg[^\n]*</svg></td>`).ReplaceAllString(fragment(t, body, `<table class="targets">`, "</table>"), "<td>SPARK</td>")
	golden(t, "overview-targets.html", rows)
	if n := strings.Count(body, `<svg `); n != 6 {
		t.Errorf("overview of 3 targets: %d graphs, want 3 sparklines and 3 full graphs", n)
	}

	body = get(t, h, "/ui/?q=down", http.StatusOK)
	if !strings.Contains(body, "Targets 1–1 of 1 matching") || !strings.Contains(body, ">192.0.2.2</a>") {
		t.Errorf("filter down: want only 192.0.2.2:\n%s", fragment(t, body, `<table class="targets">`, "</table>"))
	}
}

func TestOverviewPages(t *testing.T) {
	f, st := fixture(t)
	h := New(Options{Engine: f, History: st, PageSize: 2})
	body := get(t, h, "/ui/", http.StatusOK)
	if !strings.Contains(body, "Targets 1–2 of 3.") || !strings.Contains(body, `href="/ui/?page=2"`) || strings.Contains(body, "previous") {
		t.Errorf("page 1 of 2: pager wrong:\n%s", fragment(t, body, `<div class="pager">`, "</div>"))
	}
	body = get(t, h, "/ui/?page=2", http.StatusOK)
	if !strings.Contains(body, "Targets 3–3 of 3.") || !strings.Contains(body, `href="/ui/?page=1"`) {
		t.Errorf("page 2 of 2: pager wrong:\n%s", fragment(t, body, `<div class="pager">`, "</div>"))
	}
	if strings.Count(fragment(t, body, `<table class="targets">`, "</table>"), "<tr>") != 2 {
		t.Errorf("page 2: want the header and one row")
	}
}

func TestTargetPage(t *testing.T) {
	f, st := fixture(t)
	h := New(Options{Engine: f, History: st})
	body := get(t, h, "/ui/target?group=core&target=192.0.2.2", http.StatusOK)
	golden(t, "target-outages.html", fragment(t, body, `<table class="outages">`, "</table>"))
	golden(t, "target-counters.html", fragment(t, body, `<table class="counters">`, "</table>"))
	for _, want := range []string{`<span class="down">down</span>`, `class="outage"`, `class="median"`, `class="smoke"`} {
		if !strings.Contains(body, want) {
			t.Errorf("target page lacks %s", want)
		}
	}
	get(t, h, "/ui/target?group=core&target=192.0.2.9", http.StatusNotFound)
}

func TestOutagesPage(t *testing.T) {
	f, st := fixture(t)
	h := New(Options{Engine: f, History: st})
	body := get(t, h, "/ui/outages", http.StatusOK)
	// Ongoing first, then by start, latest first, across targets.
	golden(t, "outages.html", fragment(t, body, `<table class="outages">`, "</table>"))
	if !strings.Contains(body, "3 outages kept by the engine, 1 ongoing") {
		t.Errorf("outages page: counts wrong")
	}
}

func TestEscaping(t *testing.T) {
	f, st := fixture(t)
	h := New(Options{Engine: f, History: st})
	for _, path := range []string{"/ui/", "/ui/outages", "/ui/target?group=" + urlQuery(hostileGroup) + "&target=evil.example",
		"/ui/?q=" + urlQuery(hostileLabel), "/ui/target?group=" + urlQuery(hostileGroup) + "&target=" + urlQuery(hostileLabel)} {
		code := http.StatusOK
		if strings.HasSuffix(path, urlQuery(hostileLabel)) && strings.Contains(path, "target=") {
			code = http.StatusNotFound
		}
		body := get(t, h, path, code)
		for _, bad := range []string{"<script>", "<img", `"'>`} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: page contains unescaped %q", path, bad)
			}
		}
	}
	body := get(t, h, "/ui/target?group="+urlQuery(hostileGroup)+"&target=evil.example", http.StatusOK)
	if !strings.Contains(body, "&lt;script&gt;alert(&#34;g&#34;)&lt;/script&gt;") {
		t.Errorf("escaped group name not found in the target page")
	}
	// Template syntax in a value is text, never evaluated.
	if !strings.Contains(body, "site=&#34;&#39;&gt;&lt;img src=x onerror=alert(1)&gt;{{.}}") {
		t.Errorf("escaped label value not found in the target page")
	}
}

func urlQuery(s string) string {
	r := strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", " ", "+", "#", "%23", "<", "%3C", ">", "%3E", `"`, "%22", "'", "%27", "{", "%7B", "}", "%7D", "=", "%3D")
	return r.Replace(s)
}

func TestReadOnly(t *testing.T) {
	f, st := fixture(t)
	h := New(Options{Engine: f, History: st})
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(m, "/ui/", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s /ui/: status %d, want 405", m, rec.Code)
		}
	}
}

func TestWithoutHistory(t *testing.T) {
	f, _ := fixture(t)
	h := New(Options{Engine: f})
	body := get(t, h, "/ui/", http.StatusOK)
	if !strings.Contains(body, "No history is kept") || strings.Contains(body, "<svg") {
		t.Errorf("without history: want the note and no graphs")
	}
	body = get(t, h, "/ui/target?group=core&target=192.0.2.1", http.StatusOK)
	// Lifetime: 600 replies in native bucket -64 (up to 2^-8 s, middle 2^(-64.5/8) = 3.74 ms).
	if !strings.Contains(body, "<td class=\"num\">3.74 ms</td>") {
		t.Errorf("without history: lifetime median 3.74 ms not shown:\n%s", fragment(t, body, "<h2>Loss and RTT</h2>", "</table>"))
	}
}

// TestConcurrent serves pages from several goroutines while the history
// records (run with -race).
func TestConcurrent(t *testing.T) {
	f, st := fixture(t)
	h := New(Options{Engine: f, History: st, MaxAge: time.Nanosecond})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := 11; m <= 30; m++ {
			snap := f.Snapshot(nil)
			snap.Time = t0.Add(time.Duration(m) * time.Minute)
			st.Record(snap)
		}
	}()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, p := range []string{"/ui/", "/ui/target?group=core&target=192.0.2.1", "/ui/outages"} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
				if rec.Code != http.StatusOK {
					t.Errorf("GET %s: %d", p, rec.Code)
				}
			}
		}()
	}
	wg.Wait()
	<-done
}
