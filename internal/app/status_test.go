package app

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

// snapEngine hands out a snapshot of one target.
type snapEngine struct{ spec probe.TargetSpec }

func (e *snapEngine) Snapshot(dst *probe.Snapshot) *probe.Snapshot {
	if dst == nil {
		dst = &probe.Snapshot{}
	}
	dst.Time = time.Now()
	dst.Targets = append(dst.Targets[:0], probe.TargetSnapshot{Spec: &e.spec, IP: e.spec.Addr, Up: true})
	return dst
}

func TestStatusPages(t *testing.T) {
	cfg, err := config.Parse([]byte("groups: [{name: local, history_retention: 1h, targets: [127.0.0.1]}]\n"), "c.yml")
	if err != nil {
		t.Fatal(err)
	}
	eng := &snapEngine{spec: probe.TargetSpec{Group: "local", Name: "127.0.0.1", Addr: netip.MustParseAddr("127.0.0.1")}}
	if _, err := NewStatus(StatusOptions{Engine: eng, Config: cfg, Bucket: time.Millisecond}); err == nil || !strings.Contains(err.Error(), "want a duration from 1s to 1h0m0s") {
		t.Errorf("bucket 1ms: err %v, want the allowed range", err)
	}
	st, err := NewStatus(StatusOptions{Engine: eng, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(WebOptions{Gatherer: nil, Status: st, Version: "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		path, want string
		status     int
	}{
		{"/", `href="/ui/"`, 200},
		{"/ui/", "<h1>Overview</h1>", 200},
		{"/ui/target?group=local&target=127.0.0.1", "<h1>local / 127.0.0.1", 200},
		{"/ui/outages", "<h1>Outages</h1>", 200},
	} {
		status, body, _ := do(t, http.MethodGet, srv.URL+tc.path)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s: %d, want %d with %q; body:\n%s", tc.path, status, tc.status, tc.want, body)
		}
	}
	if status, _, _ := do(t, http.MethodPost, srv.URL+"/ui/"); status != http.StatusMethodNotAllowed {
		t.Errorf("POST /ui/: %d, want 405", status)
	}
	// A reload changes the retention: 0 keeps no history, so no graph.
	cfg2, err := config.Parse([]byte("groups: [{name: local, history_retention: 0s, targets: [127.0.0.1]}]\n"), "c.yml")
	if err != nil {
		t.Fatal(err)
	}
	st.Apply(cfg2)
	if _, body, _ := do(t, http.MethodGet, srv.URL+"/ui/target?group=local&target=127.0.0.1"); !strings.Contains(body, "No history is kept for this target") {
		t.Errorf("after a reload to history_retention 0: the target page still shows a graph")
	}
}

func TestNoStatusPages(t *testing.T) {
	h, err := NewHandler(WebOptions{Version: "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	if status, body, _ := do(t, http.MethodGet, srv.URL+"/"); status != 200 || strings.Contains(body, "/ui/") {
		t.Errorf("without status pages the landing page links to /ui/: %d %s", status, body)
	}
	if status, _, _ := do(t, http.MethodGet, srv.URL+"/ui/"); status == 200 {
		t.Errorf("without status pages /ui/ answers 200")
	}
}
