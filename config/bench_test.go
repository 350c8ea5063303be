package config

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParseLarge loads a file listing 65536 single addresses plus a
// /16 block: about 131k targets, the scale the engine is built for.
func BenchmarkParseLarge(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("source: {name: bench}\ngroups:\n  - name: listed\n    targets:\n")
	for i := range 65536 {
		fmt.Fprintf(&sb, "      - 10.1.%d.%d\n", i/256, i%256)
	}
	sb.WriteString("  - name: block\n    targets: [10.2.0.0/16]\n")
	data := []byte(sb.String())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cfg, err := Parse(data, "bench.yml")
		if err != nil {
			b.Fatal(err)
		}
		if s, _ := cfg.Spec(); len(s.Targets) != 65536+65534 {
			b.Fatalf("%d targets", len(s.Targets))
		}
	}
}
