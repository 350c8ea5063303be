//go:build linux

package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestBuildAndRemove builds a lab outside the test's own cleanup (as
// cmd/labnet does for scripts), checks its namespaces and the probe
// namespace's only route, and removes it.
func TestBuildAndRemove(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("lab needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) to create network namespaces")
	}
	if _, err := Build(NamePrefix+"x", Options{}); err == nil {
		t.Fatal("Build accepted a name with the prefix of test labs")
	}
	l, err := Build(fmt.Sprintf("labscript-%d", os.Getpid()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Remove() })
	out, err := exec.Command("ip", "-n", l.Probe, "-4", "route", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip route in %s: %v: %s", l.Probe, err, out)
	}
	if !strings.Contains(string(out), l.Prefix4.String()+" via "+TargetAddr4.String()) || strings.Contains(string(out), "default") {
		t.Errorf("probe namespace routes:\n%s\nwant %s via %s and no default route", out, l.Prefix4, TargetAddr4)
	}
	if err := l.Remove(); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{l.Probe, l.Target} {
		if _, err := os.Stat(nsPath(ns)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace %s still there after Remove (%v)", ns, err)
		}
	}
	if err := l.Remove(); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}
