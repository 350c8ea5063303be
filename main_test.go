package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain runs the exporter's run() instead of the tests when
// runMainEnv is set, so tests can start the command as a process (kingpin's
// --help exits the process).
func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(run())
	}
	os.Exit(m.Run())
}

const runMainEnv = "ICMP_EXPORTER_TEST_RUN_MAIN"

func TestHelpListsCommands(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help", "downtime"}} {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), runMainEnv+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		for _, want := range []string{"downtime --target=TARGET", "--interval=10ms", "--max-wait"} {
			if args[0] == "--help" && strings.HasPrefix(want, "--") {
				continue // --help lists commands, not their flags
			}
			if !strings.Contains(string(out), want) {
				t.Errorf("%v does not show %q:\n%s", args, want, out)
			}
		}
	}
}

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
		{"serve is the default command", []string{"serve", "--config.file=config.example.yml", "--config.check"}, 0},
		{"downtime without --target", []string{"downtime"}, 2},
		{"downtime with a bad target", []string{"downtime", "--target", "224.0.0.1"}, 2},
		{"downtime unknown flag", []string{"downtime", "--target", "192.0.2.1", "--no-such-flag"}, 2},
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
