package otlp

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestNoGoroutineLeak checks that Shutdown stops everything the Pusher
// started: its loop and the exporter's connections.
func TestNoGoroutineLeak(t *testing.T) {
	for _, protocol := range []string{"grpc", "http"} {
		t.Run(protocol, func(t *testing.T) {
			var rc *receiver
			if protocol == "grpc" {
				rc = newGRPCReceiver(t, "127.0.0.1:0")
			} else {
				rc = newHTTPReceiver(t)
			}
			base := settledGoroutines(0)
			cfg := testConfig(protocol, rc.endpoint)
			// The timeout (at most the interval) is generous: on a loaded
			// machine under the race detector one export can take far
			// longer than 100 ms.
			cfg.Interval = time.Second
			cfg.Timeout = time.Second
			p, err := New(context.Background(), cfg, newFakeSource(5), Resource{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := p.ForceFlush(ctx); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2500 * time.Millisecond) // two periodic exports
			if err := p.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			if n := settledGoroutines(base); n > base {
				buf := make([]byte, 1<<20)
				t.Errorf("%d goroutines after Shutdown, %d before New:\n%s", n, base, buf[:runtime.Stack(buf, true)])
			}
		})
	}
}

// settledGoroutines waits (bounded) until the goroutine count drops to
// target or stops changing, and returns it.
func settledGoroutines(target int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 100; i++ {
		time.Sleep(50 * time.Millisecond)
		m := runtime.NumGoroutine()
		if (target > 0 && m <= target) || (target == 0 && m == n && i > 4) {
			return m
		}
		n = m
	}
	return n
}
