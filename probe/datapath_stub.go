//go:build !linux

package probe

import "fmt"

func openICMP(EngineSpec) (Datapath, error) {
	return nil, fmt.Errorf("icmp datapath: %w on this platform", ErrNotSupported)
}
