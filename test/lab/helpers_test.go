package lab

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				fmt.Fprintf(&b, "%d\n", i)
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	got := b.String()
	for i := range 4 {
		if n := strings.Count(got, fmt.Sprintf("%d\n", i)); n != 100 {
			t.Errorf("writer %d: %d lines, want 100", i, n)
		}
	}
}

// fatalTB records Fatalf and ends the goroutine as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestWaitFor(t *testing.T) {
	for _, tc := range []struct {
		name      string
		okAt      int // call on which cond holds; 0 never
		wantCalls int
		wantFatal string
	}{
		{name: "at once", okAt: 1, wantCalls: 1},
		{name: "third call", okAt: 3, wantCalls: 3},
		{name: "never", okAt: 0, wantFatal: "the thing: not reached within 50ms: call "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fatalTB{TB: t}
			calls := 0
			done := make(chan struct{})
			go func() {
				defer close(done)
				WaitFor(f, 50*time.Millisecond, time.Millisecond, "the thing", func() (bool, string) {
					calls++
					return calls == tc.okAt, fmt.Sprintf("call %d", calls)
				})
			}()
			<-done
			if tc.wantFatal != "" {
				if !strings.HasPrefix(f.msg, tc.wantFatal) || calls < 2 {
					t.Errorf("fatal %q after %d calls, want prefix %q after several calls", f.msg, calls, tc.wantFatal)
				}
				return
			}
			if f.msg != "" || calls != tc.wantCalls {
				t.Errorf("fatal %q after %d calls, want none after %d", f.msg, calls, tc.wantCalls)
			}
		})
	}
}
