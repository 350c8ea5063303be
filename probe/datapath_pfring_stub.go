//go:build !(pfring && cgo)

package probe

import "fmt"

func openPFRing(EngineSpec) (Datapath, error) {
	return nil, fmt.Errorf("pfring datapath: %w: not compiled in (build with -tags pfring and cgo where libpfring is installed)", ErrNotSupported)
}
