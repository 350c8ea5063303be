package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the loader. It must never panic, and
// whatever it accepts must be a Spec the engine accepts.
func FuzzLoad(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yml")
	if err != nil {
		f.Fatal(err)
	}
	files = append(files, "../config.example.yml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A small target limit keeps huge CIDR blocks from stalling the fuzzer.
		cfg, err := parse(data, "fuzz.yml", limits{maxTargets: 1 << 12})
		if err != nil {
			if cfg != nil {
				t.Fatalf("parse returned a config and an error: %v", err)
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		spec, err := cfg.Spec()
		if err != nil {
			t.Fatalf("accepted config gives an invalid spec: %v", err)
		}
		if err := spec.Validate(); err != nil {
			t.Fatalf("spec.Validate: %v", err)
		}
	})
}
