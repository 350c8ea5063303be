package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := func(rev, time, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: time}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name     string
		bi       debug.BuildInfo
		wantV    string
		wantDate string
	}{
		{"go install @version", debug.BuildInfo{Main: debug.Module{Version: "v0.1.0"}}, "v0.1.0", ""},
		{"go build in a checkout", debug.BuildInfo{Main: debug.Module{Version: "v0.1.1-0.20261206010000-36ea6e1abcde+dirty"},
			Settings: vcs("36ea6e1abcdef0123456789", "2026-12-06T01:00:00Z", "true")},
			"v0.1.1-0.20261206010000-36ea6e1abcde+dirty", "2026-12-06T01:00:00Z"},
		{"devel with vcs", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("36ea6e1abcdef0123456789", "2026-12-06T01:00:00Z", "false")},
			"devel-36ea6e1abcde", "2026-12-06T01:00:00Z"},
		{"devel dirty", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("abc", "", "true")}, "devel-abc+dirty", ""},
		{"nothing known", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, date := fromBuildInfo(&tt.bi)
			if v != tt.wantV || date != tt.wantDate {
				t.Errorf("fromBuildInfo = %q, %q; want %q, %q", v, date, tt.wantV, tt.wantDate)
			}
		})
	}
}
