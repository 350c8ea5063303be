package collector

import (
	"bytes"
	"errors"
	"os/exec"
	"testing"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/test/lab"
	"github.com/prometheus/common/expfmt"
)

func TestPromtoolCheckMetrics(t *testing.T) {
	bin := lab.Tool(t, "promtool")
	tests := []struct {
		name string
		snap *probe.Snapshot
	}{
		{"fixture", fixtureSnapshot()},
		{"synthetic mixed modes", syntheticSnapshot(800, "", "", 9)},
		{"vantage", vantageSnapshot()},
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
