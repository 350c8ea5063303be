//go:build !linux

package probe

import "fmt"

func openAFPacket(EngineSpec) (Datapath, error) {
	return nil, fmt.Errorf("afpacket datapath: %w on this platform", ErrNotSupported)
}
