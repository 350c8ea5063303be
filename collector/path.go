package collector

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/icmp-exporter/icmp_exporter/probe"
	dto "github.com/prometheus/client_model/go"
)

// pathHopLabels are the labels icmp_path_last_hop_info adds to a target's:
// the hop's address and its TTL.
var pathHopLabels = [...]string{probe.PathHopLabel, probe.PathHopTTLLabel}

// hopPairs caches a target's labels for icmp_path_last_hop_info; they are
// rebuilt only when the hop changes (written metrics keep the old slice).
type hopPairs struct {
	addr  netip.Addr
	ttl   int
	pairs []*dto.LabelPair
}

// hopPairs returns the entry's labels plus hop and hop_ttl.
func (e *targetEntry) hopPairs(addr netip.Addr, ttl int) []*dto.LabelPair {
	h := e.extra().hop
	if h != nil && h.addr == addr && h.ttl == ttl {
		return h.pairs
	}
	a := ""
	if addr.IsValid() {
		a = addr.String()
	}
	pairs := e.labelPairs()
	p := make([]*dto.LabelPair, 0, len(pairs)+2)
	p = append(p, pairs...)
	p = append(p, &dto.LabelPair{Name: new(pathHopLabels[0]), Value: new(a)},
		&dto.LabelPair{Name: new(pathHopLabels[1]), Value: new(strconv.Itoa(ttl))})
	slices.SortFunc(p, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
	e.extra().hop = &hopPairs{addr: addr, ttl: ttl, pairs: p}
	return p
}
