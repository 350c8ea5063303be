package main

import (
	"os"
	"testing"
)

// TestRunExitCodes runs the binary's run() on paths that end before any
// socket is opened: --config.check and flag errors.
func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"example config is valid", []string{"--config.file=config.example.yml", "--config.check"}, 0},
		{"invalid config", []string{"--config.file=config/testdata/invalid-ttl.yml", "--config.check"}, 1},
		{"missing config", []string{"--config.file=does-not-exist.yml", "--config.check"}, 1},
		{"unknown flag", []string{"--no-such-flag"}, 2},
		{"history bucket out of range", []string{"--config.file=config.example.yml", "--web.ui.history-bucket=10ms"}, 2},
	}
	saved := os.Args
	t.Cleanup(func() { os.Args = saved })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Args = append([]string{"icmp_exporter"}, tt.args...)
			if got := run(); got != tt.want {
				t.Errorf("run %v = %d, want %d", tt.args, got, tt.want)
			}
		})
	}
}
