//go:build linux

package faults

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// Bounds of TestSlowAndConcurrentScrapes, generous for a loaded 2-core
// machine: a scrape of 100k targets takes about a second alone.
const (
	// scrapeBound is how long each of the ten concurrent full scrapes and
	// each small scrape may take while a client reads one byte per second.
	scrapeBound = 90 * time.Second
	// lagBound is the largest schedule lag the engine may report meanwhile,
	// or three times the largest it reported in a 20 s window before the
	// scrapes if that is more (the machine is shared: lag that is there
	// without scrapes is not theirs). Probes are skipped only beyond one
	// interval (10 s here), so within this bound none is lost or skipped.
	lagBound = 2 * time.Second
)

// TestSlowAndConcurrentScrapes runs the exporter on 100 000 lab targets and
// then, together: a client that requests /metrics and reads one byte per
// second, ten concurrent full scrapes, and small scrapes of the engine's
// schedule lag. Probing must not fall behind (lagBound, no skipped probes)
// and every other scrape must finish within scrapeBound: the slow client
// must not hold the scrape path for the server's whole write timeout.
func TestSlowAndConcurrentScrapes(t *testing.T) {
	l := lab.New(t, lab.Options{Prefix4: netip.MustParsePrefix("10.210.0.0/15")})
	const n = 100_000
	cfg := writeConfig(t, "", "", group{name: "g", interval: 10 * time.Second, targets: addrStrings(l.Addrs(n, false))})
	f := start(t, l, cfg)
	f.waitNamed(3*time.Minute, "all targets probed and up", []string{"icmp_up"}, func(mfs mfsT) (bool, string) {
		up := sum(mfs, "icmp_up", "g")
		return up == n, fmt.Sprintf("%v of %d up", up, n)
	})
	// Baseline: the schedule lag and skipped probes without big scrapes.
	base0 := f.metrics()
	baseEnd := make(chan struct{})
	time.AfterFunc(20*time.Second, func() { close(baseEnd) })
	_, baseLag := f.observe(baseEnd)
	before := f.metrics()
	baseSkipped := sum(before, "icmp_engine_probes_skipped_total", "") - sum(base0, "icmp_engine_probes_skipped_total", "")

	// The slow client: a raw connection with a small receive buffer that
	// reads one byte per second until the test ends.
	var conn net.Conn
	if err := l.Do(func() error {
		d := net.Dialer{Control: smallRcvBuf}
		var err error
		conn, err = d.Dial("tcp", f.x.Listen)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "GET /metrics HTTP/1.1\r\nHost: exporter\r\nAccept: %s\r\n\r\n", lab.TextFormat); err != nil {
		t.Fatal(err)
	}
	slowDone := make(chan int)
	go func() {
		got := 0
		b := make([]byte, 1)
		r := bufio.NewReaderSize(conn, 16)
		for {
			if _, err := r.Read(b); err != nil {
				slowDone <- got
				return
			}
			got++
			time.Sleep(time.Second)
		}
	}()
	time.Sleep(5 * time.Second) // the server fills the socket buffers and blocks

	// Ten full scrapes at once, and small scrapes every second meanwhile.
	// The ten wait for each other (scrapes are serialised while they
	// write): the client allows scrapeBound, not the lab client's 30 s.
	client := l.HTTPClient()
	client.Timeout = scrapeBound
	var wg sync.WaitGroup
	durations := make([]time.Duration, 10)
	sizes := make([]int64, 10)
	errs := make([]error, 10)
	for i := range durations {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			sizes[i], errs[i] = fullScrape(f.ctx, client, f.x.URL("/metrics"))
			durations[i] = time.Since(t0)
		}()
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	f.x.Client = client // the small scrapes wait behind the full ones
	small, maxLag := f.observe(allDone)
	after := f.metrics()
	if err := f.x.Exited(); err != nil {
		t.Fatal(err)
	}
	sort.Slice(durations, func(i, j int) bool { return durations[i] < durations[j] })
	sort.Slice(small, func(i, j int) bool { return small[i] < small[j] })
	skipped := sum(after, "icmp_engine_probes_skipped_total", "") - sum(before, "icmp_engine_probes_skipped_total", "")
	t.Logf("baseline (20 s, no big scrapes): schedule lag max %.3f s, skipped probes %v", baseLag, baseSkipped)
	t.Logf("10 concurrent full scrapes (%d MB each): %s .. %s; %d small scrapes: median %s, max %s; schedule lag max %.3f s; skipped probes %v",
		sizes[0]>>20, durations[0].Round(time.Millisecond), durations[9].Round(time.Millisecond),
		len(small), small[len(small)/2].Round(time.Millisecond), small[len(small)-1].Round(time.Millisecond), maxLag, skipped)
	for i, err := range errs {
		if err != nil {
			t.Errorf("full scrape %d: %v", i, err)
		}
	}
	if durations[9] > scrapeBound || small[len(small)-1] > scrapeBound {
		t.Errorf("scrapes took up to %s (full) and %s (small) beside a slow client, want at most %s",
			durations[9].Round(time.Millisecond), small[len(small)-1].Round(time.Millisecond), scrapeBound)
	}
	if bound := max(lagBound.Seconds(), 3*baseLag); maxLag > bound || skipped > 2*baseSkipped {
		t.Errorf("probing fell behind: schedule lag up to %.3f s (bound %.3f s), %v probes skipped (%v in the baseline)", maxLag, bound, skipped, baseSkipped)
	}
	conn.Close()
	t.Logf("the slow client read %d bytes", <-slowDone)
}

type mfsT = map[string]*dto.MetricFamily

// observe scrapes the engine's schedule lag every second until done is
// closed; it returns the durations of those small scrapes and the largest
// lag seen.
func (f *fixture) observe(done <-chan struct{}) ([]time.Duration, float64) {
	f.t.Helper()
	var small []time.Duration
	maxLag := 0.0
	for stop := false; !stop; {
		select {
		case <-done:
			stop = true
		case <-time.After(time.Second):
		}
		t0 := time.Now()
		body, err := lab.Scrape(f.ctx, f.x.Client, f.x.URL("/metrics?name[]=icmp_engine_schedule_lag_seconds"))
		small = append(small, time.Since(t0))
		if err != nil {
			f.t.Errorf("small scrape: %v", err)
			continue
		}
		if mfs, err := lab.ParseMetrics(body); err == nil {
			maxLag = max(maxLag, sum(mfs, "icmp_engine_schedule_lag_seconds", ""))
		}
	}
	return small, maxLag
}

// fullScrape reads the whole text exposition and returns its size.
func fullScrape(ctx context.Context, c *http.Client, url string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", lab.TextFormat)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s", resp.Status)
	}
	return io.Copy(io.Discard, resp.Body)
}
