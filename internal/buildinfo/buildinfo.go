// Package buildinfo fills the version variables of
// github.com/prometheus/common/version from the Go build information when
// the linker did not set them, so a plain `go build` or `go install` shows a
// real version.
//
// # Where the version comes from
//
//   - Release builds (`make build`, the Dockerfile, goreleaser) set
//     version.Version, Revision, Branch, BuildUser and BuildDate with -ldflags
//     -X; Complete keeps every value so set.
//   - `go install github.com/icmp-exporter/icmp_exporter@v0.1.0` records the
//     module version (v0.1.0) in the build information.
//   - `go build` in a git checkout records a pseudo-version such as
//     v0.1.1-0.20261206010000-36ea6e1abcde+dirty and vcs.revision, vcs.time
//     and vcs.modified (unless -buildvcs=false).
//
// version.Revision itself falls back to vcs.revision inside the version
// package (GetRevision); this package only reports it through Version when
// no module version is known.
package buildinfo

import (
	"runtime/debug"

	"github.com/prometheus/common/version"
)

// Complete sets version.Version and version.BuildDate from the build
// information where the linker left them empty. It is meant to be called
// once at the start of main, before anything reads the version; it is not
// safe for concurrent use with readers of those variables.
func Complete() {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	v, date := fromBuildInfo(bi)
	if version.Version == "" {
		version.Version = v
	}
	if version.BuildDate == "" {
		version.BuildDate = date
	}
}

// fromBuildInfo returns the version and build date that bi records: the main
// module's version, else "devel" with the VCS revision; the date is the
// commit time (vcs.time), "" when unknown.
func fromBuildInfo(bi *debug.BuildInfo) (v, date string) {
	var rev string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			date = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	switch {
	case bi.Main.Version != "" && bi.Main.Version != "(devel)":
		return bi.Main.Version, date
	case rev != "":
		v = "devel-" + rev[:min(12, len(rev))]
		if modified {
			v += "+dirty"
		}
		return v, date
	}
	return "devel", date
}
