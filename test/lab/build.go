package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// exporterBuild holds the exporter binary built once per test binary. It is
// the package's only shared state: building takes seconds, tests of a binary
// share the result. The built file is unlinked right away and kept open, so
// nothing is left on disk when the test process ends, even if it crashes.
var exporterBuild struct {
	once sync.Once
	f    *os.File
	err  error
}

// ExporterEnv names an environment variable that, when set, makes
// BuildExporter use that binary instead of building one (to measure a
// release build, or a binary built with other flags).
const ExporterEnv = "ICMPLAB_EXPORTER"

// BuildExporter builds the exporter (the module's main package, with
// CGO_ENABLED=0) once per test binary and returns the path of a copy in
// t.TempDir(). With ExporterEnv set it returns that path instead.
func BuildExporter(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(ExporterEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("lab: %s=%s: %v", ExporterEnv, p, err)
		}
		return p
	}
	exporterBuild.once.Do(func() {
		exporterBuild.f, exporterBuild.err = buildExporter()
	})
	if exporterBuild.err != nil {
		t.Fatalf("lab: %v", exporterBuild.err)
	}
	dst := filepath.Join(t.TempDir(), "icmp_exporter")
	if err := copyExe(dst, exporterBuild.f); err != nil {
		t.Fatalf("lab: %v", err)
	}
	return dst
}

func buildExporter() (*os.File, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "icmplab-build-")
	if err != nil {
		return nil, fmt.Errorf("build exporter: %w", err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "icmp_exporter")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	c.Dir = root
	c.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := c.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build exporter in %s: %w: %s", root, err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		return nil, fmt.Errorf("open built exporter: %w", err)
	}
	return f, nil
}

func copyExe(dst string, src *os.File) error {
	w, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("copy exporter: %w", err)
	}
	_, err = io.Copy(w, io.NewSectionReader(src, 0, 1<<40))
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy exporter to %s: %w", dst, err)
	}
	return nil
}

// ModuleRoot returns the directory of the go.mod that holds the current
// working directory (a test's package directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("find module root: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no go.mod above the working directory")
		}
		dir = parent
	}
}
