//go:build !linux

package probe

import "time"

// threadSleep sleeps d (see sleep_linux.go).
func threadSleep(d time.Duration) { time.Sleep(d) }
