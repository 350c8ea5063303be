package probe

import "fmt"

func openAFPacket(EngineSpec) (Datapath, error) {
	return nil, fmt.Errorf("afpacket datapath: %w yet (use datapath: icmp)", ErrNotSupported)
}
