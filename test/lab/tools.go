package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// One policy for privileges and external tools in every test: CI runs the
// suite as root after scripts/deps.sh, so there a missing tool or privilege
// is a failure, never a skip; elsewhere (a developer without root) the test
// is skipped with the remedy.

// toolScripts names the scripts/deps.d step that installs each tool into
// .cache/bin.
var toolScripts = map[string]string{
	"prometheus":   "scripts/deps.d/20-prometheus.sh",
	"promtool":     "scripts/deps.d/20-prometheus.sh",
	"amtool":       "scripts/deps.d/20-prometheus.sh",
	"otelcol-icmp": "scripts/deps.d/40-otelcol.sh",
	"jsonnet":      "scripts/deps.d/45-jsonnet.sh",
}

// Tool returns the path of the external program name: the file named by
// the environment variable NAME_BIN (upper case, - as _; for example
// OTELCOL_ICMP_BIN) when set, else name on PATH, else .cache/bin of the
// module root, where scripts/deps.d puts prometheus, promtool, amtool and
// otelcol-icmp. When it is missing the test fails as root and is skipped
// otherwise, saying which script installs it.
func Tool(t testing.TB, name string) string {
	t.Helper()
	env := strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_BIN"
	if p := os.Getenv(env); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	root, err := ModuleRoot()
	if err == nil {
		p := filepath.Join(root, ".cache", "bin", name)
		if _, err = os.Stat(p); err == nil {
			return p
		}
	}
	script := toolScripts[name]
	if script == "" {
		script = "scripts/deps.sh"
	}
	missing(t, fmt.Sprintf("%s not found on PATH, in $%s or in .cache/bin (run %s): %v", name, env, script, err))
	return ""
}

// RequireRoot skips t unless it runs as root; need says what for (like
// "creating network namespaces").
func RequireRoot(t testing.TB, need string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root for %s", need)
	}
}

// SkipUnprivileged handles the error of an operation that needs a privilege
// (a raw socket, a ping socket): without root, when err is os.ErrPermission
// or matches one of also (like probe.ErrNotSupported), the test is skipped;
// otherwise (as root, or for any other error) it fails. need says what is
// missing (like "CAP_NET_RAW or ping_group_range"). A nil err does nothing.
func SkipUnprivileged(t testing.TB, err error, need string, also ...error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Geteuid() != 0 {
		match := errors.Is(err, os.ErrPermission)
		for _, e := range also {
			match = match || errors.Is(err, e)
		}
		if match {
			t.Skipf("needs %s: %v", need, err)
		}
	}
	t.Fatalf("%s: %v", need, err)
}

// missing fails t as root and skips it otherwise.
func missing(t testing.TB, msg string) {
	t.Helper()
	if os.Geteuid() == 0 {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
