package discovery

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

// FuzzTargetGroups feeds arbitrary bytes as a file_sd JSON file through
// parsing, relabelling and the override rules. It must never panic, and
// every target it accepts must be one the engine accepts.
func FuzzTargetGroups(f *testing.F) {
	for _, s := range []string{
		`[{"targets": ["10.0.0.1", "10.0.0.2:80", "host.example", "[2001:db8::1]:9"], "labels": {"env": "prod"}}]`,
		`[{"targets": ["10.0.0.1"], "labels": {"__interval__": "10s", "__timeout__": "20s", "__payload_size__": "100"}}]`,
		`[{"targets": ["224.0.0.1"], "labels": {"__allow_broadcast__": "true", "__ttl__": "1"}}]`,
		`[{"targets": ["a.b"], "labels": {"__meta_class": "slow", "__ip_protocol__": "ip6"}}]`,
		`[null]`, `[]`, `{}`, `[{"targets": ["0"]}]`,
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	path := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(path, []byte(`
groups:
  - name: fuzz
    ip_version: both
    file_sd_configs: [{files: [t.json]}]
    relabel_configs:
      - {source_labels: [__meta_class], regex: slow, target_label: __interval__, replacement: 1m}
      - {regex: "env", action: labeldrop}
`), 0o644); err != nil {
		f.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		f.Fatal(err)
	}
	g := &cfg.DiscoveryGroups()[0]
	m := New(Options{Engine: &fakeEngine{}})
	f.Cleanup(m.Close)
	f.Fuzz(func(t *testing.T, data []byte) {
		tgs, err := parseTargetGroups(data, ".json")
		if err != nil {
			return
		}
		s := &source{group: "fuzz", raw: tgs, logged: map[string]string{}}
		m.mu.Lock()
		m.process(s, g)
		m.mu.Unlock()
		spec := probe.Spec{Targets: s.targets}
		if err := spec.Validate(); err != nil {
			t.Fatalf("accepted discovered targets the engine refuses: %v", err)
		}
	})
}
