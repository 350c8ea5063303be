//go:build linux

package faults

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// TestOTLPCollectorFaults pushes OTLP to a collector that is down
// (connection refused) or that black-holes connections (accepts them and
// never answers, for gRPC and HTTP): exports fail and are counted, while
// probing, scrapes and shutdown go on unharmed.
func TestOTLPCollectorFaults(t *testing.T) {
	tests := []struct {
		name, protocol string
		blackHole      bool
		comesBack      bool // a collector answers on the address later
	}{
		{"down, grpc", "grpc", false, false},
		{"black hole, grpc", "grpc", true, false},
		{"black hole, http", "http", true, false},
		{"down and back, http", "http", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := lab.New(t, lab.Options{})
			// Reserve a port in the probe namespace: listen (black hole)
			// or listen and close at once (down).
			var ln net.Listener
			if err := l.Do(func() error {
				var err error
				ln, err = net.Listen("tcp", "127.0.0.1:0")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			if tt.blackHole {
				held := blackHole(ln)
				t.Cleanup(func() { ln.Close(); held() })
			} else {
				ln.Close()
			}
			endpoint := addr
			if tt.protocol == "http" {
				endpoint = "http://" + addr + "/v1/metrics"
			}
			top := fmt.Sprintf("otlp:\n  enabled: true\n  protocol: %s\n  endpoint: %q\n  insecure: true\n  interval: 500ms\n  timeout: 500ms\n", tt.protocol, endpoint)
			const n = 20
			cfg := writeConfig(t, "  datapath: icmp\n", top, group{name: "g", targets: addrStrings(l.Addrs(n, false))})
			f := start(t, l, cfg)
			first := f.allUp(time.Minute, "g", n)
			f.wait(time.Minute, "failed exports counted", func(mfs mfsT) (bool, string) {
				failed := sum(mfs, "icmp_exporter_otlp_exports_failed_total", "")
				return failed >= 5, fmt.Sprintf("%v failed exports", failed)
			})
			// Probing went on all along, and scrapes answer.
			for range 5 {
				t0 := time.Now()
				mfs := f.metrics()
				if d := time.Since(t0); d > 10*time.Second {
					t.Errorf("a scrape took %s while the collector %s", d, tt.name)
				}
				if up := sum(mfs, "icmp_up", "g"); up != n {
					t.Errorf("%v of %d targets up", up, n)
				}
				time.Sleep(time.Second)
			}
			last := f.metrics()
			sent := sum(last, "icmp_probes_sent_total", "g") - sum(first, "icmp_probes_sent_total", "g")
			lost := sum(last, "icmp_probes_lost_total", "g") - sum(first, "icmp_probes_lost_total", "g")
			t.Logf("exports %v, failed %v; probes sent %v, lost %v",
				sum(last, "icmp_exporter_otlp_exports_total", ""), sum(last, "icmp_exporter_otlp_exports_failed_total", ""), sent, lost)
			if lost != 0 || sent == 0 {
				t.Errorf("probing was disturbed: %v sent, %v lost", sent, lost)
			}
			if tt.comesBack {
				// A collector (the smallest OTLP/HTTP receiver: 200 with an
				// empty ExportMetricsServiceResponse) listens again.
				var back net.Listener
				if err := l.Do(func() error {
					var err error
					back, err = net.Listen("tcp", addr)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				var received atomic.Int64
				srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					received.Add(1)
					w.Header().Set("Content-Type", "application/x-protobuf")
				})}
				go func() { _ = srv.Serve(back) }()
				t.Cleanup(func() { srv.Close() })
				failedBefore := sum(f.metrics(), "icmp_exporter_otlp_exports_failed_total", "")
				f.wait(time.Minute, "exports succeed again", func(mfs mfsT) (bool, string) {
					ok := sum(mfs, "icmp_exporter_otlp_exports_total", "") - sum(mfs, "icmp_exporter_otlp_exports_failed_total", "")
					return ok >= 3 && received.Load() >= 3, fmt.Sprintf("%v successful exports, %d requests received", ok, received.Load())
				})
				if failed := sum(f.metrics(), "icmp_exporter_otlp_exports_failed_total", ""); failed > failedBefore+1 {
					t.Errorf("exports kept failing after the collector came back: %v failed, %v before", failed, failedBefore)
				}
			}
			// Shutdown is bounded although the final export cannot succeed.
			t0 := time.Now()
			_ = f.x.Proc.Stop(30 * time.Second)
			if d := time.Since(t0); d > 15*time.Second {
				t.Errorf("shutdown took %s with the collector %s", d, tt.name)
			}
		})
	}
}

// blackHole accepts connections on ln and never reads nor answers them; it
// returns a function that closes the held connections.
func blackHole(ln net.Listener) func() {
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}
}
