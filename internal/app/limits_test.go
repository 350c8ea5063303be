package app

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

func TestReloadDisabledByDefault(t *testing.T) {
	_, _, m, _ := setup(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	h, err := NewHandler(WebOptions{Gatherer: reg}) // no Reload: --web.enable-lifecycle not given
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	status, body, _ := do(t, http.MethodPost, srv.URL+"/-/reload")
	if status != http.StatusForbidden || !strings.Contains(body, "--web.enable-lifecycle") || !strings.Contains(body, "SIGHUP") {
		t.Errorf("got %d %q, want 403 naming --web.enable-lifecycle and SIGHUP", status, body)
	}
}

// TestReloadErrorBodyHidesFileContents checks that a failed POST /-/reload
// names where the file is wrong but does not echo what it holds (it may hold
// OTLP headers with credentials); the log has the whole error.
func TestReloadErrorBodyHidesFileContents(t *testing.T) {
	const secret = "Bearer-s3cr3t-token"
	tests := []struct{ name, file, wantBody string }{
		{"bad target", "groups:\n- name: g\n  targets: [\"" + secret + "!\"]\n", "config.yml:3: groups[0].targets[0]"},
		{"bad type", "groups:\n- name: g\n  interval: " + secret + "\n  targets: [127.0.0.1]\n", "config.yml:3: groups[0].interval"},
		{"bad otlp", "otlp: {enabled: true, protocol: " + secret + ", headers: {authorization: " + secret + "}}\ngroups:\n- {name: g, targets: [127.0.0.1]}\n", "config.yml:1: otlp.protocol"},
		{"yaml syntax", "groups: [" + secret + "\n", "config.yml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _, m, r := setup(t)
			srv := newTestServer(t, r, m, nil)
			writeFile(t, path, tt.file)
			status, body, _ := do(t, http.MethodPost, srv.URL+"/-/reload")
			if status != http.StatusInternalServerError || !strings.Contains(body, tt.wantBody) {
				t.Errorf("got %d %q, want 500 naming %q", status, body, tt.wantBody)
			}
			if strings.Contains(body, "s3cr3t") {
				t.Errorf("the error body echoes the file: %q", body)
			}
		})
	}
}

// TestQueryStringLimits: huge or malformed query strings get a 4xx before
// any metric is gathered.
func TestQueryStringLimits(t *testing.T) {
	_, _, m, r := setup(t)
	srv := newTestServer(t, r, m, nil)
	many := strings.Repeat("name[]=icmp_up&", 10000)
	tests := []struct {
		name, query string
		want        int
		wantBody    string
	}{
		{"ten thousand name[]", many, http.StatusRequestURITooLong, "query string"},
		{"many short name[]", strings.Repeat("name[]=a&", 600), http.StatusBadRequest, "name[]"},
		{"bad escape", "name[]=%zz", http.StatusBadRequest, "malformed query string"},
		{"semicolon", "name[]=a;b", http.StatusBadRequest, "malformed query string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range []string{"/metrics", "/", "/-/healthy"} {
				status, body, _ := do(t, http.MethodGet, srv.URL+p+"?"+tt.query)
				if status != tt.want || !strings.Contains(body, tt.wantBody) || len(body) > 1024 {
					t.Errorf("%s: got %d %.200q, want %d with %q", p, status, body, tt.want, tt.wantBody)
				}
			}
		})
	}
	if status, _, _ := do(t, http.MethodGet, srv.URL+"/metrics?name[]=icmp_exporter_config_last_reload_successful"); status != http.StatusOK {
		t.Errorf("an ordinary name[] query got %d", status)
	}
}

// TestReloadOTLPChangeNeedsRestart: the otlp section is not applied by a
// reload; the reload says so in its result and its log instead of
// reporting a plain success.
func TestReloadOTLPChangeNeedsRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yml")
	const start = "otlp: {enabled: true, endpoint: \"127.0.0.1:4317\", insecure: true}\ngroups:\n- {name: g, targets: [127.0.0.1]}\n"
	writeFile(t, path, start)
	running, _, err := LoadSpec(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	eng := &fakeEngine{applied: nil}
	var log strings.Builder
	r := NewReloader(ReloaderOptions{ConfigFile: path, Target: eng, Running: running, Logger: testLogger(&log)})

	notes, err := r.Reload()
	if err != nil || len(notes) != 0 {
		t.Fatalf("reload of the same file: notes %q, err %v", notes, err)
	}
	writeFile(t, path, strings.Replace(start, "4317", "4318", 1))
	notes, err = r.Reload()
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "otlp") || !strings.Contains(notes[0], "restart") {
		t.Errorf("notes %q, want one saying the otlp section needs a restart", notes)
	}
	if !strings.Contains(log.String(), "restart") {
		t.Errorf("log lacks the restart note:\n%s", log.String())
	}
	if eng.count() != 2 {
		t.Errorf("the targets were not applied (%d specs)", eng.count())
	}

	// Over HTTP the note is in the 200 answer.
	m := NewReloadMetrics()
	srv := newTestServer(t, r, m, nil)
	writeFile(t, path, strings.Replace(start, "4317", "4319", 1))
	status, body, _ := do(t, http.MethodPost, srv.URL+"/-/reload")
	if status != http.StatusOK || !strings.Contains(body, "otlp") || !strings.Contains(body, "restart") {
		t.Errorf("got %d %q, want 200 with the restart note", status, body)
	}
	// Going back to what runs clears the note.
	writeFile(t, path, start)
	if notes, err := r.Reload(); err != nil || len(notes) != 0 {
		t.Errorf("back to the running otlp section: notes %q, err %v", notes, err)
	}
}

func testLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// bigStreamer writes 256 MiB of comment lines, like a huge scrape, and
// reports when WriteMetrics returned.
type bigStreamer struct {
	prometheus.Collector
	done chan error
}

func (b *bigStreamer) WriteMetrics(w io.Writer, _ expfmt.Format, _ func(string) bool) error {
	chunk := []byte("# " + strings.Repeat("x", 64<<10-3) + "\n")
	var err error
	for i := 0; i < 4096 && err == nil; i++ {
		_, err = w.Write(chunk)
	}
	b.done <- err
	return err
}

// TestStalledClientIsCutOff: a scrape client that stops reading is cut
// off after WriteStall, so the (serialised) scrape path is free again
// instead of waiting for the client or the server's write timeout.
func TestStalledClientIsCutOff(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := &bigStreamer{Collector: collectors.NewGoCollector(), done: make(chan error, 1)}
	h, err := NewHandler(WebOptions{Gatherer: reg, Stream: s, WriteStall: 300 * time.Millisecond, WriteTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/plain;version=0.0.4\r\n\r\n")
	// The client never reads: WriteMetrics must end with a write error.
	select {
	case err := <-s.done:
		if err == nil {
			t.Fatal("256 MiB written to a client that does not read")
		}
		t.Logf("cut off: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("the scrape of a client that does not read was not cut off")
	}
}
