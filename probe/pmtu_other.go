//go:build !linux

package probe

import "fmt"

func openDF(EngineSpec) (dfSender, error) {
	return nil, fmt.Errorf("path MTU probes: %w (Linux only)", ErrNotSupported)
}
