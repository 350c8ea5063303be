package licenses

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

var update = flag.Bool("update", false, "rewrite the module list of NOTICE")

type module struct {
	Path    string
	Version string
	Dir     string
	Main    bool
	Replace *module
}

// goJSON runs the go command in dir and decodes its stream of
// JSON objects.
func goJSON(t *testing.T, dir string, args ...string) []module {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
	var mods []module
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m module
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go %s: decode: %v", strings.Join(args, " "), err)
		}
		mods = append(mods, m)
	}
	return mods
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := lab.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// allModules returns every module of the build list with its source
// directory, downloading the sources of those not in the module cache yet.
func allModules(t *testing.T) []module {
	t.Helper()
	var mods, missing []module
	for _, m := range goJSON(t, moduleRoot(t), "list", "-m", "-json", "all") {
		if m.Main {
			continue
		}
		if m.Replace != nil {
			m = *m.Replace
		}
		if m.Dir == "" {
			missing = append(missing, m)
			continue
		}
		mods = append(mods, m)
	}
	if len(missing) > 0 {
		args := []string{"mod", "download", "-json"}
		for _, m := range missing {
			args = append(args, m.Path+"@"+m.Version)
		}
		// Outside the module, so go.sum stays as it is.
		for _, m := range goJSON(t, t.TempDir(), args...) {
			if m.Dir == "" {
				t.Fatalf("go mod download %s@%s: no source directory", m.Path, m.Version)
			}
			mods = append(mods, m)
		}
	}
	slices.SortFunc(mods, func(a, b module) int { return strings.Compare(a.Path, b.Path) })
	return mods
}

func TestDependencyLicenses(t *testing.T) {
	mods := allModules(t)
	if len(mods) == 0 {
		t.Fatal("go list -m all listed no dependency")
	}
	for _, m := range mods {
		ml, err := inspect(m.Dir)
		switch {
		case err != nil:
			t.Errorf("%s@%s: %v", m.Path, m.Version, err)
		case len(ml.Files) == 0:
			t.Errorf("%s@%s: no licence file in %s", m.Path, m.Version, m.Dir)
		case len(ml.Bad) > 0:
			t.Errorf("%s@%s: licence not recognised in %s (%s): read it and add a rule if it is compatible with Apache-2.0",
				m.Path, m.Version, strings.Join(ml.Bad, ", "), m.Dir)
		default:
			for _, id := range ml.IDs {
				if !slices.Contains(allowed, id) {
					t.Errorf("%s@%s: licence %s is not on the allow list %v", m.Path, m.Version, id, allowed)
				}
			}
		}
	}
	t.Logf("%d modules checked", len(mods))
}

// noticeMarker starts the generated part of NOTICE.
const noticeMarker = "Go modules linked into the icmp_exporter binary (generated: go test ./test/licenses -update):\n"

// linkedModules returns the modules providing packages to the linux build
// of the binary, with their licences.
func linkedModules(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{if not .Main}}{{.Path}}{{end}}{{end}}", ".")
	cmd.Dir = moduleRoot(t)
	cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	linked := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		linked[p] = true
	}
	var b strings.Builder
	for _, m := range allModules(t) {
		if !linked[m.Path] {
			continue
		}
		ml, err := inspect(m.Dir)
		if err != nil {
			t.Fatal(err)
		}
		ids := "unknown"
		if len(ml.IDs) > 0 {
			ids = strings.Join(ml.IDs, " AND ") // each covers part of the module
		}
		fmt.Fprintf(&b, "  %-70s %s\n", m.Path, ids)
	}
	return b.String()
}

func TestNotice(t *testing.T) {
	file := filepath.Join(moduleRoot(t), "NOTICE")
	old, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	head, _, ok := strings.Cut(string(old), noticeMarker)
	if !ok {
		t.Fatalf("NOTICE lacks the line %q", strings.TrimSpace(noticeMarker))
	}
	want := head + noticeMarker + linkedModules(t)
	if want == string(old) {
		return
	}
	if *update {
		if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("NOTICE's module list is out of date (a dependency was added or removed): run go test ./test/licenses -update\nwant:\n%s", want)
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"apache", "                                 Apache License\n                           Version 2.0, January 2004", []string{"Apache-2.0"}},
		{"mit wrapped", "Permission is hereby granted, free of charge, to any person\nobtaining a copy ... The above copyright notice and this permission\n notice shall be included in all copies", []string{"MIT"}},
		{"bsd3", "Redistribution and use in source and binary forms ... Redistributions in binary form must reproduce ... Neither the name of Google Inc.", []string{"BSD-3-Clause"}},
		{"bsd2", "Redistribution and use in source and binary forms ... Redistributions in binary form must reproduce the above", []string{"BSD-2-Clause"}},
		{"gpl", "GNU GENERAL PUBLIC LICENSE Version 3", nil},
		{"agpl is not apache", "GNU AFFERO GENERAL PUBLIC LICENSE Version 3, 19 November 2007", nil},
		{"dual", "MIT: Permission is hereby granted, free of charge, to any person obtaining a copy; The above copyright notice and this permission notice shall be included. Apache License Version 2.0", []string{"Apache-2.0", "MIT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.text); !slices.Equal(got, tt.want) {
				t.Errorf("classify = %v, want %v", got, tt.want)
			}
		})
	}
}
