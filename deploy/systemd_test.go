package deploy

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

const (
	unitFile = "systemd/icmp_exporter.service"
	// unitBinary is where the unit starts the exporter: where the packages
	// install it.
	unitBinary = "/usr/bin/icmp_exporter"
)

// unit is a parsed systemd unit: section -> key -> values in order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, b []byte) unit {
	t.Helper()
	u := unit{}
	sec := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || l[0] == '#' || l[0] == ';':
		case l[0] == '[' && l[len(l)-1] == ']':
			sec = l[1 : len(l)-1]
			u[sec] = map[string][]string{}
		case sec == "":
			t.Fatalf("%s:%d: setting outside a section", unitFile, n)
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				t.Fatalf("%s:%d: not key=value: %q", unitFile, n, l)
			}
			u[sec][k] = append(u[sec][k], v)
		}
	}
	return u
}

func TestSystemdUnitSettings(t *testing.T) {
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	u := parseUnit(t, b)
	for _, tt := range []struct{ sec, key, want string }{
		{"Service", "DynamicUser", "yes"},
		{"Service", "AmbientCapabilities", "CAP_NET_RAW"},
		{"Service", "CapabilityBoundingSet", "CAP_NET_RAW"},
		{"Service", "NoNewPrivileges", "yes"},
		{"Service", "ProtectSystem", "strict"},
		{"Service", "ProtectHome", "yes"},
		{"Service", "PrivateTmp", "yes"},
		{"Service", "ExecReload", "/bin/kill -HUP $MAINPID"},
		{"Service", "Restart", "on-failure"},
		{"Install", "WantedBy", "multi-user.target"},
	} {
		t.Run(tt.sec+"."+tt.key, func(t *testing.T) {
			got := u[tt.sec][tt.key]
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("[%s] %s=%q, want %q", tt.sec, tt.key, got, tt.want)
			}
		})
	}
	exec := strings.Fields(strings.Join(u["Service"]["ExecStart"], " "))
	if len(exec) < 2 || exec[0] != unitBinary || !slices.Contains(exec, "--config.file=/etc/icmp_exporter/config.yml") {
		t.Errorf("ExecStart=%q: want %s --config.file=/etc/icmp_exporter/config.yml", exec, unitBinary)
	}
	if env := u["Service"]["EnvironmentFile"]; len(env) != 1 || env[0] != "-/etc/default/icmp_exporter" {
		t.Errorf("EnvironmentFile=%q, want -/etc/default/icmp_exporter (optional: the packages install it)", env)
	}
	// Read-only root and a seccomp filter: ProtectSystem=strict (above)
	// mounts the whole file system read-only; the system call filter is the
	// allow-list of ordinary services without @privileged.
	if f := u["Service"]["SystemCallFilter"]; !slices.Contains(f, "@system-service") || !slices.Contains(f, "~@privileged") {
		t.Errorf("SystemCallFilter=%q: want @system-service and ~@privileged", f)
	}
	// capset after ~@privileged: the exporter drops CAP_NET_RAW once its
	// sockets are open (internal/privdrop); without it capset fails with EPERM.
	if f := u["Service"]["SystemCallFilter"]; len(f) == 0 || f[len(f)-1] != "capset" {
		t.Errorf("SystemCallFilter=%q: want capset allowed again after ~@privileged", f)
	}
	// PrivateUsers would confine CAP_NET_RAW to a user namespace that does
	// not own the host's network namespace: raw sockets would fail.
	if v := u["Service"]["PrivateUsers"]; len(v) > 0 && v[0] != "no" {
		t.Errorf("PrivateUsers=%s makes CAP_NET_RAW useless", v[0])
	}
}

// TestSystemdAnalyze runs systemd-analyze on the unit, with ExecStart
// pointing at a freshly built exporter (verify checks that it exists and is
// executable): verify must print nothing, and the offline security
// assessment must rate the unit "OK".
func TestSystemdAnalyze(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze not installed (scripts/deps.sh installs systemd): %v", err)
	}
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	bin := lab.BuildExporter(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "icmp_exporter.service")
	if err := os.WriteFile(path, bytes.ReplaceAll(b, []byte(unitBinary), []byte(bin)), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("verify", func(t *testing.T) {
		cmd := exec.Command(sa, "verify", path)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
		}
	})
	t.Run("security", func(t *testing.T) {
		cmd := exec.Command(sa, "security", "--offline=yes", "--no-pager", path)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) (\S+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("systemd-analyze security: %v\n%s", err, out)
		}
		level, _ := strconv.ParseFloat(string(m[1]), 64)
		t.Logf("exposure %s %s", m[1], m[2])
		// The unit scored 1.7 ("OK") when written: a setting that weakens
		// it noticeably must be a deliberate change of this bound.
		if level > 2.0 {
			t.Errorf("exposure level %.1f %s, want <= 2.0:\n%s", level, m[2], out)
		}
	})
}
