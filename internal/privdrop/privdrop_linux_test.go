//go:build linux

package privdrop

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDropKeepsOpenSockets(t *testing.T) {
	s, err := Status(0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Effective&(1<<unix.CAP_NET_RAW) == 0 {
		t.Skipf("needs CAP_NET_RAW to show that a raw socket outlives the drop (CapEff %x)", s.Effective)
	}
	// Drop changes the whole process, so it runs in a child: a static
	// (CGO_ENABLED=0) build like the exporter's, since binaries with cgo
	// cannot change every thread (the test binary may have cgo).
	bin := filepath.Join(t.TempDir(), "child")
	build := exec.Command("go", "build", "-o", bin, "./testdata/child")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build child: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "eff=0 prm=0 inh=0 amb=0 bnd=0\n") {
		t.Errorf("capabilities left after Drop(nil): %s", out)
	}
}

func TestKeepForListen(t *testing.T) {
	tests := []struct {
		addrs []string
		want  int
	}{
		{[]string{":10427"}, 0},
		{[]string{"127.0.0.1:80"}, 1},
		{[]string{":10427", "[::1]:443"}, 1},
		{[]string{"bad"}, 0},
	}
	for _, tt := range tests {
		if got := KeepForListen(tt.addrs); len(got) != tt.want {
			t.Errorf("KeepForListen(%q) = %v", tt.addrs, got)
		}
	}
	if got := Names(1<<13 | 1<<10); got != "cap_net_bind_service,cap_net_raw" {
		t.Errorf("Names = %q", got)
	}
}
