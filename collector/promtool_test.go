package collector

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/prometheus/common/expfmt"
)

// promtool finds promtool on PATH or in the repository's .cache/bin (where
// scripts/deps.d/20-prometheus.sh puts it). Missing promtool fails the test
// as root (CI installs it) and skips it otherwise.
func promtool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	p, err := filepath.Abs(filepath.Join("..", ".cache", "bin", "promtool"))
	if err == nil {
		if _, err = os.Stat(p); err == nil {
			return p
		}
	}
	if os.Geteuid() == 0 {
		t.Fatalf("promtool not found on PATH or in ../.cache/bin (run scripts/deps.sh): %v", err)
	}
	t.Skipf("promtool not installed and not root (run scripts/deps.sh as root): %v", err)
	return ""
}

func TestPromtoolCheckMetrics(t *testing.T) {
	bin := promtool(t)
	tests := []struct {
		name string
		snap *probe.Snapshot
	}{
		{"fixture", fixtureSnapshot()},
		{"synthetic mixed modes", syntheticSnapshot(800, "", "", 9)},
	}
	for _, tt := range tests {
		for _, path := range []string{"registry", "stream"} {
			t.Run(tt.name+"/"+path, func(t *testing.T) {
				src := newFixture()
				src.set(tt.snap)
				c := New(src, Options{BuildInfo: true})
				var text []byte
				if path == "stream" {
					text = streamEncoded(t, c, expfmt.NewFormat(expfmt.TypeTextPlain))
				} else {
					text = gatherText(t, c)
				}
				cmd := exec.Command(bin, "check", "metrics")
				cmd.Stdin = bytes.NewReader(text)
				out, err := cmd.CombinedOutput()
				var exit *exec.ExitError
				if errors.As(err, &exit) {
					t.Fatalf("promtool check metrics failed (%v):\n%s", err, out)
				} else if err != nil {
					t.Fatalf("run promtool: %v", err)
				}
				if len(bytes.TrimSpace(out)) != 0 {
					t.Errorf("promtool check metrics reported:\n%s", out)
				}
			})
		}
	}
}
