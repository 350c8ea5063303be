//go:build !linux

package probe

import "fmt"

func openAFXDP(EngineSpec) (Datapath, error) {
	return nil, fmt.Errorf("afxdp datapath: %w on this platform", ErrNotSupported)
}
