//go:build linux

package faults

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icmp-exporter/icmp_exporter/collector"
	"github.com/icmp-exporter/icmp_exporter/internal/app"
	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/probe/probetest"
	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// storm configuration: a stable group that every file keeps, and a churn
// group that every other file adds. The addresses are documentation
// addresses on the in-memory network of probetest: no packet leaves the
// process.
func stormConfig(churn bool) string {
	var b strings.Builder
	b.WriteString("source: {name: storm}\ngroups:\n  - name: stable\n    interval: 20ms\n    timeout: 20ms\n    targets: [192.0.2.0/27]\n")
	if churn {
		b.WriteString("  - name: churn\n    interval: 20ms\n    timeout: 20ms\n    targets: [198.51.100.0/28]\n")
	}
	return b.String()
}

// TestReloadStorm reloads a running engine hundreds of times in a few
// seconds — SIGHUPs sent to the test process and concurrent POST /-/reload
// — while the file alternates between two versions and two clients scrape
// /metrics without pause. It runs under the race detector in CI (go test
// -race). Every reload must succeed, no counter of a target that stays
// configured may go backwards between scrapes, and at the end every stable
// target's probes are accounted for (sent = replies + lost + in flight).
func TestReloadStorm(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yml")
	writeAtomic(t, path, stormConfig(true))
	cfg, spec, err := app.LoadSpec(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := probe.New(spec, probe.Options{Datapath: &probetest.Network{}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	metrics := app.NewReloadMetrics()
	metrics.Succeeded(time.Now())
	var failed atomic.Int64
	applier := &countingApplier{eng: eng}
	r := app.NewReloader(app.ReloaderOptions{ConfigFile: path, Target: applier, Metrics: metrics, Running: cfg})
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)
	h, err := app.NewHandler(app.WebOptions{Gatherer: reg, Stream: collector.New(eng, collector.Options{}), Reload: r.Reload})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	runDone := make(chan struct{})
	go func() { r.Run(ctx, hup); close(runDone) }()

	const (
		signals = 300
		posters = 4
		posts   = 50
	)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// The file flips between the two versions (atomically, as editors and
	// config management write files).
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Millisecond):
			}
			writeAtomic(t, path, stormConfig(i%2 == 0))
		}
	}()
	// Scrapers: counters of stable targets never go backwards.
	var scrapes atomic.Int64
	var backwards []string
	var bmu sync.Mutex
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prev := map[string]float64{}
			for {
				select {
				case <-stop:
					return
				default:
				}
				body, err := lab.Scrape(ctx, srv.Client(), srv.URL+"/metrics")
				if err != nil {
					t.Errorf("scrape: %v", err)
					return
				}
				mfs, err := lab.ParseMetrics(body)
				if err != nil {
					t.Errorf("parse: %v", err)
					return
				}
				scrapes.Add(1)
				for _, name := range []string{"icmp_probes_sent_total", "icmp_replies_total", "icmp_probes_lost_total"} {
					for _, m := range mfs[name].GetMetric() {
						if lab.Label(m, "group") != "stable" {
							continue
						}
						k := name + "/" + lab.Label(m, "ip")
						v := m.GetCounter().GetValue()
						if v < prev[k] {
							bmu.Lock()
							backwards = append(backwards, fmt.Sprintf("%s: %v after %v", k, v, prev[k]))
							bmu.Unlock()
						}
						prev[k] = v
					}
				}
			}
		}()
	}
	// POST /-/reload from several clients at once.
	var posted atomic.Int64
	var pwg sync.WaitGroup
	for range posters {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for range posts {
				resp, err := srv.Client().Post(srv.URL+"/-/reload", "", nil)
				if err != nil {
					t.Errorf("POST /-/reload: %v", err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					t.Errorf("POST /-/reload: %s %s", resp.Status, body)
				}
				posted.Add(1)
			}
		}()
	}
	// The SIGHUP storm.
	for range signals {
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	pwg.Wait()
	close(stop)
	wg.Wait()
	cancel()
	<-runDone

	t.Logf("%d signals sent, %d POST reloads, %d reloads applied, %d scrapes", signals, posted.Load(), applier.n.Load(), scrapes.Load())
	if applier.n.Load() <= posted.Load() || scrapes.Load() == 0 {
		t.Errorf("the storm did not happen: %d reloads applied (%d by POST), %d scrapes", applier.n.Load(), posted.Load(), scrapes.Load())
	}
	if len(backwards) > 0 {
		t.Errorf("%d counters went backwards, first: %s", len(backwards), backwards[0])
	}
	// Every stable target kept its state through the storm: its probes are
	// all accounted for, and it probed all along (at 20 ms, at least one
	// probe per 100 ms of the run on a loaded machine).
	snap := eng.Snapshot(nil)
	for i := range snap.Targets {
		ts := &snap.Targets[i]
		if ts.Spec.Group != "stable" {
			continue
		}
		var errs uint64
		for _, e := range ts.ErrorCounts().ByType {
			errs += e
		}
		ended := ts.Replies + ts.Lost + errs
		if ts.Sent < ended || ts.Sent-ended > 64 {
			t.Errorf("%s: sent %d, replies %d, lost %d, errors %d: probes unaccounted for", ts.Spec.Name, ts.Sent, ts.Replies, ts.Lost, errs)
		}
	}
	if failed.Load() > 0 {
		t.Errorf("%d reloads failed", failed.Load())
	}
}

func writeAtomic(t *testing.T, path, data string) {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Error(err)
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Error(err)
	}
}

// countingApplier counts the Specs applied to the engine.
type countingApplier struct {
	eng *probe.Engine
	n   atomic.Int64
}

func (c *countingApplier) Apply(s probe.Spec) error {
	err := c.eng.Apply(s)
	if err == nil {
		c.n.Add(1)
	}
	return err
}
