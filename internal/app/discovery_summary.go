package app

import (
	"fmt"
	"strings"

	"github.com/icmp-exporter/icmp_exporter/config"
)

// discoverySummary describes the discovery sources and the /probe endpoint
// of cfg for --config.check: their targets are only known once they run.
func discoverySummary(cfg *config.Config) string {
	var b strings.Builder
	for _, g := range cfg.DiscoveryGroups() {
		if !g.HasSources() {
			continue
		}
		fmt.Fprintf(&b, "discovery: group %s: %d file_sd_configs, %d http_sd_configs, %d relabel_configs (discovered targets are not counted above)\n",
			g.Name, len(g.FileSD), len(g.HTTPSD), len(g.Relabel))
	}
	if p := cfg.Probe(); p.Enabled {
		fmt.Fprintf(&b, "/probe: on, at most %d targets, each dropped %s after its last scrape\n", p.MaxTargets, p.ExpireAfter)
	}
	return b.String()
}
