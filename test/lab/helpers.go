package lab

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// SyncBuffer is a bytes.Buffer that is safe for concurrent writes and
// reads: the output of a process or a logger that a test reads while it is
// still being written. The zero value is an empty buffer.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p to the buffer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns a copy of what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// WaitFor calls cond until it reports true, sleeping every between calls
// (the first call is immediate). When timeout passes first it fails the test
// with what and the description cond returned last. cond runs on the calling
// goroutine, so it may call t.Fatal itself (e.g. when the process it watches
// has exited). WaitFor must be called from the test goroutine.
func WaitFor(t testing.TB, timeout, every time.Duration, what string, cond func() (ok bool, desc string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, desc := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s: %s", what, timeout, desc)
		}
		time.Sleep(every)
	}
}
